package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Version is the schema version stamped on every event.
const Version = 1

// Type says what an event is about and which Data it carries.
type Type string

const (
	TypeCallState Type = "call.state"  // Data: StateData
	TypeCallMode  Type = "call.mode"   // Data: ModeData
	TypeCoachLine Type = "coach.line"  // Data: CoachLineData
	TypeAnalytics Type = "analytics"   // Data: a JSON object from the analyzer
	TypeSpeech    Type = "call.speech" // Data: SpeechData
	TypeAlert     Type = "call.alert"  // Data: AlertData
)

func (t Type) valid() bool {
	switch t {
	case TypeCallState, TypeCallMode, TypeCoachLine, TypeAnalytics, TypeSpeech, TypeAlert:
		return true
	}
	return false
}

// Event is the envelope of every message on the bus.
type Event struct {
	V          int             `json:"v"`
	Type       Type            `json:"type"`
	CallID     string          `json:"call_id"`
	Seq        uint64          `json:"seq"`
	At         time.Time       `json:"at"`
	Controller string          `json:"controller"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// DecodeData unmarshals the event's Data into v (for example *StateData).
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("bus: %s event data: %w", e.Type, err)
	}
	return nil
}

// CallState is a step of a call's lifecycle.
type CallState string

const (
	StatePending   CallState = "PENDING"
	StateAnswered  CallState = "ANSWERED"
	StateConnected CallState = "CONNECTED"
	StateClosed    CallState = "CLOSED"
)

// StateData is the Data of a call.state event.
type StateData struct {
	State  CallState `json:"state"`
	Reason string    `json:"reason,omitempty"` // e.g. a hangup cause on CLOSED
}

// ModeData is the Data of a call.mode event: a monitoring member's audio mode.
type ModeData struct {
	Mode     string `json:"mode"`                // "spy", "whisper", "barge" or "off"
	Member   string `json:"member"`              // "ai" or the supervisor's name
	MemberID int    `json:"member_id,omitempty"` // conference member id, if it has a leg
}

// SpeechData is the Data of a call.speech event: one utterance of one side,
// as transcribed, with its sentiment and what was spotted in it.
type SpeechData struct {
	Side      string   `json:"side"` // "customer" or "agent"
	Text      string   `json:"text"`
	StartMS   int64    `json:"start_ms"` // from the start of the audio fork
	EndMS     int64    `json:"end_ms"`
	Sentiment float64  `json:"sentiment"`           // -1 … +1
	WPM       float64  `json:"wpm,omitempty"`       // speaking rate, words per minute
	Topics    []string `json:"topics,omitempty"`    // topics first mentioned here
	Disclosed []string `json:"disclosed,omitempty"` // required disclosures made here
}

// AlertData is the Data of a call.alert event: a compliance rule broken.
type AlertData struct {
	Rule   string `json:"rule"`
	Kind   string `json:"kind"` // "forbidden" (said) or "missing" (not said in time)
	Side   string `json:"side"`
	Phrase string `json:"phrase,omitempty"`
	AtMS   int64  `json:"at_ms"` // from the start of the audio fork
}

// CoachLineData is the Data of a coach.line event.
type CoachLineData struct {
	Text     string `json:"text"`
	Source   string `json:"source"`         // "ai" or the supervisor's name
	Rule     string `json:"rule,omitempty"` // the coaching rule that fired
	Priority int    `json:"priority,omitempty"`
	HeardBy  string `json:"heard_by,omitempty"` // "agent" (whisper) or "everyone" (barge)
}

// Errors returned by the package; test them with errors.Is.
var (
	ErrInvalidEvent = errors.New("bus: invalid event")
	ErrQueueFull    = errors.New("bus: queue full, event dropped")
	ErrClosed       = errors.New("bus: closed")
	ErrMalformed    = errors.New("bus: malformed message")
	ErrNotFound     = errors.New("bus: not found")
)

// maxCallIDLen keeps keys and channel names reasonable; FreeSWITCH UUIDs are 36.
const maxCallIDLen = 128

// validCallID rejects IDs that would make keys ambiguous or turn channel names
// into glob patterns for PSUBSCRIBE consumers.
func validCallID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty call id", ErrInvalidEvent)
	}
	if len(id) > maxCallIDLen {
		return fmt.Errorf("%w: call id longer than %d bytes", ErrInvalidEvent, maxCallIDLen)
	}
	if i := strings.IndexFunc(id, func(r rune) bool {
		return r <= ' ' || r == 0x7f || strings.ContainsRune(`*?[]\:`, r) || r > 0x7e
	}); i >= 0 {
		return fmt.Errorf("%w: call id %q has a disallowed character at %d", ErrInvalidEvent, id, i)
	}
	return nil
}

// Keys of the Redis data model, for consumers.
const AllEventsChannel = "callcoach:events"

// CallChannel is the pub/sub channel of one call's events.
func CallChannel(callID string) string { return "callcoach:call:" + callID + ":events" }

// AnalyticsStream is the stream of one call's analytics events.
func AnalyticsStream(callID string) string { return "callcoach:call:" + callID + ":analytics" }

// SummaryKey holds a closed call's Summary as JSON.
func SummaryKey(callID string) string { return "callcoach:call:" + callID + ":summary" }

// Summary is written when a call reaches CLOSED. It is built from the events
// this publisher saw for the call.
type Summary struct {
	V          int             `json:"v"`
	CallID     string          `json:"call_id"`
	Controller string          `json:"controller"`
	States     []StateChange   `json:"states"`
	OpenedAt   time.Time       `json:"opened_at"` // first event of the call
	ClosedAt   time.Time       `json:"closed_at"`
	DurationMS int64           `json:"duration_ms"`
	Reason     string          `json:"reason,omitempty"` // CLOSED's reason
	Modes      []ModeData      `json:"modes,omitempty"`  // every mode change, in order
	CoachLines int             `json:"coach_lines"`
	Events     int             `json:"events"`
	Analytics  json.RawMessage `json:"analytics,omitempty"` // the last analytics data
}

// StateChange is one lifecycle step in a Summary.
type StateChange struct {
	State CallState `json:"state"`
	At    time.Time `json:"at"`
}
