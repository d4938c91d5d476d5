package audit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callcoach/callcoach/internal/redistest"
)

func TestWriteAndReadBack(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	w := Writer{Client: rs.Client(), Controller: "ctl-a"}
	since := time.Now().Add(-time.Minute)
	entries := []Entry{
		{Supervisor: "alice", Call: "c1", Action: Monitor, Mode: "whisper", Via: "cli"},
		{Supervisor: "alice", Call: "c1", Action: Ended, Mode: "whisper", Since: since, Until: time.Now()},
		{Supervisor: "eve", Call: "c1", Action: Denied, Mode: "barge", Reason: "not her group"},
	}
	for _, e := range entries {
		if err := w.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Read(ctx, rs.Client(), time.Time{}, 100)
	if err != nil || len(got) != 3 {
		t.Fatalf("read %d entries, %v", len(got), err)
	}
	for i, e := range got {
		if e.V != Version || e.ID == "" || e.At.IsZero() || e.Controller != "ctl-a" || e.Action != entries[i].Action || e.Supervisor != entries[i].Supervisor {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if !got[1].Since.Equal(since.UTC()) && !got[1].Since.Equal(since) {
		t.Errorf("since %v, want %v", got[1].Since, since)
	}
	if later, _ := Read(ctx, rs.Client(), time.Now().Add(time.Minute), 100); len(later) != 0 {
		t.Errorf("entries from the future: %+v", later)
	}
	// No Redis, no entry: the caller must refuse the action.
	rs.Stop()
	if err := w.Write(ctx, entries[0]); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("write with Redis down: %v", err)
	}
}
