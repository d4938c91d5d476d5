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
	from := l.Source
	if l.Rule != "" {
		from += ", rule " + l.Rule
	}
	t.printf("call %s  coaching  %q (%s) → played to %s", short(id), l.Text, from, map[string]string{"agent": "the agent only", "everyone": "everyone"}[l.HeardBy])
	return t.forward(func(p callflow.Publisher) error { return p.CoachLine(id, l) })
}

func (t *timeline) Speech(id string, s bus.SpeechData) error {
	extra := ""
	if len(s.Topics) > 0 {
		extra = fmt.Sprintf("; topics %v", s.Topics)
	}
	t.printf("call %s  heard     %-8s %q (sentiment %+.2f%s)", short(id), s.Side, s.Text, s.Sentiment, extra)
	return t.forward(func(p callflow.Publisher) error { return p.Speech(id, s) })
}

func (t *timeline) Alert(id string, a bus.AlertData) error {
	t.printf("call %s  ALERT     [%s] %s %s %q", short(id), a.Rule, a.Side, a.Kind, a.Phrase)
	return t.forward(func(p callflow.Publisher) error { return p.Alert(id, a) })
}

func (t *timeline) Analytics(id string, data any) error {
	if a, ok := data.(callflow.Analytics); ok {
		s := a.Measures
		cust, agent := s.Sides[analysis.Customer], s.Sides[analysis.Agent]
		what := "analysis "
		if a.Final {
			what = "final    "
		}
		r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
		t.printf("call %s  %s %s in: customer talked %s, agent %s (agent share %.0f%%); overtalk %s (customer interrupted %d×, agent %d×); longest silence %s; coaching lines %d",
			short(id), what, r(s.Elapsed), r(cust.TalkTime), r(agent.TalkTime), 100*s.AgentShare, r(s.OvertalkTotal),
			cust.Interruptions, agent.Interruptions, r(s.LongestSilence), a.CoachLines)
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
