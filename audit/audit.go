// Package audit writes every monitoring action to a Redis stream,
// callcoach:audit, that compliance can read back: who, which call, which
// mode, from when until when, and what was refused.
//
// Writes are synchronous: a controller audits an action before carrying it
// out and refuses the action when the entry cannot be written, so no
// monitoring escapes the record.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// StreamKey is the audit stream; each entry's field "entry" is an Entry as JSON.
const StreamKey = "callcoach:audit"

// Version of Entry.
const Version = 1

// Actions.
const (
	Monitor = "monitor" // joined a call in Mode
	Mode    = "mode"    // switched to Mode
	Leave   = "leave"   // asked to leave the call
	Ended   = "ended"   // a stretch in Mode ended (Since..Until)
	Coach   = "coach"   // spoke Text to the agent
	Hangup  = "hangup"  // ended the call
	Denied  = "denied"  // refused: Reason
)

// Entry is one audited action.
type Entry struct {
	V          int       `json:"v"`
	ID         string    `json:"id,omitempty"` // the stream entry id, when read back
	At         time.Time `json:"at"`
	Controller string    `json:"controller"`
	Supervisor string    `json:"supervisor"`
	Call       string    `json:"call"`
	Agent      string    `json:"agent,omitempty"`
	Group      string    `json:"group,omitempty"`
	Action     string    `json:"action"`
	Mode       string    `json:"mode,omitempty"`
	Since      time.Time `json:"since,omitzero"`
	Until      time.Time `json:"until,omitzero"`
	Via        string    `json:"via,omitempty"`   // cli or dtmf
	Phone      string    `json:"phone,omitempty"` // monitor: the dial string rung
	Text       string    `json:"text,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// ErrUnavailable wraps a failed write.
var ErrUnavailable = errors.New("audit: not written")

// Writer appends entries.
type Writer struct {
	Client     redis.UniversalClient
	Controller string
	// MaxLen caps the stream, approximately (default 10 million entries).
	MaxLen int64
}

// Write appends e, stamped with the time and controller if unset.
func (w Writer) Write(ctx context.Context, e Entry) error {
	e.V, e.ID = Version, ""
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	if e.Controller == "" {
		e.Controller = w.Controller
	}
	b, _ := json.Marshal(e)
	maxLen := w.MaxLen
	if maxLen <= 0 {
		maxLen = 10_000_000
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := w.Client.XAdd(ctx, &redis.XAddArgs{Stream: StreamKey, MaxLen: maxLen, Approx: true, Values: []any{"entry", b}}).Err()
	if err != nil {
		return fmt.Errorf("%w: %s %s on %s: %w", ErrUnavailable, e.Supervisor, e.Action, e.Call, err)
	}
	return nil
}

// Read returns up to count entries from since on, oldest first.
func Read(ctx context.Context, client redis.UniversalClient, since time.Time, count int64) ([]Entry, error) {
	start := "-"
	if !since.IsZero() {
		start = strconv.FormatInt(since.UnixMilli(), 10)
	}
	msgs, err := client.XRangeN(ctx, StreamKey, start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("audit: read: %w", err)
	}
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		s, _ := m.Values["entry"].(string)
		var e Entry
		if json.Unmarshal([]byte(s), &e) != nil {
			continue
		}
		e.ID = m.ID
		out = append(out, e)
	}
	return out, nil
}
