package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
)

// timeline prints what happens to calls as a human reads it, and passes
// every event on to next (Redis, when there is one).
type timeline struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	next  callflow.Publisher
}

func (t *timeline) printf(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%6.2fs  ", time.Since(t.start).Seconds())
	fmt.Fprintf(t.w, format, args...)
	fmt.Fprintln(t.w)
}

// Note prints a line of the demo's own.
func (t *timeline) Note(format string, args ...any) { t.printf("· "+format, args...) }

func (t *timeline) State(id string, s bus.CallState, reason string) error {
	if reason != "" {
		t.printf("call %s  %-9s (%s)", short(id), s, reason)
	} else {
		t.printf("call %s  %s", short(id), s)
	}
	return t.forward(func(p callflow.Publisher) error { return p.State(id, s, reason) })
}

func (t *timeline) Mode(id string, m bus.ModeData) error {
	who := m.Member
	if m.MemberID != 0 {
		who = fmt.Sprintf("%s (member %d)", m.Member, m.MemberID)
	}
	t.printf("call %s  mode      %s → %s", short(id), who, m.Mode)
	return t.forward(func(p callflow.Publisher) error { return p.Mode(id, m) })
}

func (t *timeline) CoachLine(id string, l bus.CoachLineData) error {
	t.printf("call %s  coaching  %q (from %s, rule %s)", short(id), l.Text, l.Source, l.Rule)
	return t.forward(func(p callflow.Publisher) error { return p.CoachLine(id, l) })
}

func (t *timeline) Analytics(id string, data any) error {
	if s, ok := data.(analysis.Snapshot); ok {
		cust, agent := s.Sides[analysis.Customer], s.Sides[analysis.Agent]
		t.printf("call %s  analysis  %s analysed: customer talked %s, agent %s (agent share %.0f%%), overtalk %s, longest silence %s",
			short(id), s.Elapsed.Round(time.Millisecond*100), cust.TalkTime.Round(time.Millisecond*100), agent.TalkTime.Round(time.Millisecond*100),
			100*s.AgentShare, s.OvertalkTotal.Round(time.Millisecond*100), s.LongestSilence.Round(time.Millisecond*100))
	}
	return t.forward(func(p callflow.Publisher) error { return p.Analytics(id, data) })
}

func (t *timeline) forward(f func(callflow.Publisher) error) error {
	if t.next == nil {
		return nil
	}
	return f(t.next)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
