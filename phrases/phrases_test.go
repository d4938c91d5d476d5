package phrases

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDefaultConfigLoads(t *testing.T) {
	c := Default()
	if len(c.Topics) == 0 || len(c.Compliance.Required) == 0 || len(c.Compliance.Forbidden) == 0 {
		t.Fatalf("default config %+v", c)
	}
}

func TestSpotter(t *testing.T) {
	s := NewSpotter(Default())
	steps := []struct {
		side, text string
		at         time.Duration
		want       []string
	}{
		{"agent", "Thank you for calling, this call may be recorded for training", 2 * time.Second, []string{"disclosed recording-disclosure"}},
		{"customer", "My internet has been down since yesterday and I was charged twice", 10 * time.Second, []string{"topic billing", "topic outage"}},
		{"customer", "the internet is down again", 12 * time.Second, nil}, // topics once
		{"agent", "Please calm down sir", 20 * time.Second, []string{"forbidden dismissive"}},
		{"customer", "calm down yourself", 22 * time.Second, nil}, // the rule is the agent's
		{"agent", "I will book a visit", 30 * time.Second, []string{"topic technician"}},
		{"agent", "the downtown office", 31 * time.Second, nil}, // whole words: "down" ≠ "downtown"
	}
	for _, st := range steps {
		var got []string
		for _, f := range s.Utterance(st.side, st.text, st.at) {
			got = append(got, f.Kind+" "+f.Name)
		}
		if fmt.Sprint(got) != fmt.Sprint(st.want) {
			t.Errorf("%s %q: %v, want %v", st.side, st.text, got, st.want)
		}
	}
	if fs := s.Tick(2 * time.Minute); len(fs) != 0 {
		t.Errorf("disclosure made, yet %v", fs)
	}
	if got := fmt.Sprint(s.Topics()); got != "[billing outage technician]" {
		t.Errorf("topics %s", got)
	}
}

func TestMissingDisclosure(t *testing.T) {
	s := NewSpotter(Default())
	if fs := s.Tick(59 * time.Second); len(fs) != 0 {
		t.Fatalf("early: %v", fs)
	}
	fs := s.Tick(61 * time.Second)
	if len(fs) != 1 || fs[0].Kind != Missing || fs[0].Name != "recording-disclosure" || fs[0].At != time.Minute {
		t.Fatalf("got %+v", fs)
	}
	if fs := s.Tick(90 * time.Second); len(fs) != 0 {
		t.Fatalf("reported twice: %v", fs)
	}
	// Said late: still no "disclosed" (it was missed).
	if fs := s.Utterance("agent", "this call may be recorded", 95*time.Second); len(fs) != 0 {
		t.Fatalf("late disclosure: %v", fs)
	}
}

func TestBadConfig(t *testing.T) {
	for name, y := range map[string]string{
		"not yaml":         "topics: [",
		"unknown field":    "topicz: {}",
		"empty topic":      "topics: {billing: []}",
		"required no time": "compliance: {required: [{name: x, side: agent, phrases: [a]}]}",
		"bad side":         "compliance: {forbidden: [{name: x, side: boss, phrases: [a]}]}",
	} {
		if _, err := Parse([]byte(y)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
