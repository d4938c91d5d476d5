package policy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/coaching"
)

func byName(rules []coaching.Rule, name string) (coaching.Rule, bool) {
	for _, r := range rules {
		if r.Name == name {
			return r, true
		}
	}
	return coaching.Rule{}, false
}

func TestDefaultPolicy(t *testing.T) {
	rules := Default()
	customerOver := analysis.Snapshot{Overtalk: analysis.Overtalk{Active: true, By: analysis.Customer, Duration: 2500 * time.Millisecond}}
	quiet := analysis.Snapshot{BothSpoke: true, CurrentSilence: 7 * time.Second}
	lecture := analysis.Snapshot{Monologue: analysis.Monologue{Side: analysis.Agent, Duration: time.Minute}}
	dominant := analysis.Snapshot{BothSpoke: true, AgentShare: 0.85, Elapsed: 2 * time.Minute}
	early := analysis.Snapshot{BothSpoke: true, AgentShare: 0.85, Elapsed: time.Minute}
	tests := []struct {
		rule  string
		snap  analysis.Snapshot
		fires bool
	}{
		{"customer-overtalk", customerOver, true},
		{"customer-overtalk", analysis.Snapshot{Overtalk: analysis.Overtalk{Active: true, By: analysis.Agent, Duration: 5 * time.Second}}, false},
		{"dead-air", quiet, true},
		{"dead-air", analysis.Snapshot{CurrentSilence: 7 * time.Second}, false}, // before both spoke
		{"agent-monologue", lecture, true},
		{"agent-monologue", customerOver, false},
		{"agent-dominates", dominant, true},
		{"agent-dominates", early, false}, // the `after` condition
		{"customer-upset", analysis.Snapshot{Sides: [2]analysis.SideStats{{RaisedVoice: 2 * time.Second}, {}}}, true},
		{"customer-upset", analysis.Snapshot{Sides: [2]analysis.SideStats{{RaisedVoice: time.Second}, {RaisedVoice: 5 * time.Second}}}, false},
	}
	for _, tt := range tests {
		r, ok := byName(rules, tt.rule)
		if !ok {
			t.Fatalf("no rule %s", tt.rule)
		}
		if got := r.Match(coaching.Signals{Snapshot: tt.snap}); got != tt.fires {
			t.Errorf("%s on %+v: %v, want %v", tt.rule, tt.snap, got, tt.fires)
		}
	}
	if r, _ := byName(rules, "customer-overtalk"); r.Cooldown != 45*time.Second || r.MaxPerCall != 3 || r.Priority != 20 || r.Line == "" {
		t.Errorf("customer-overtalk %+v", r)
	}
}

func TestBadPolicies(t *testing.T) {
	for name, y := range map[string]string{
		"not yaml":           "rules: [",
		"no rules":           "rules: []",
		"misspelt":           "rules: [{name: a, say: x, when: {silense: 5s}}]",
		"says nothing":       "rules: [{name: a, when: {silence: 5s}}]",
		"no condition":       "rules: [{name: a, say: x, when: {after: 5s}}]",
		"share out of range": "rules: [{name: a, say: x, when: {agent_share_above: 80}}]",
		"duplicate":          "rules: [{name: a, say: x, when: {silence: 5s}}, {name: a, say: y, when: {silence: 9s}}]",
		"bad duration":       "rules: [{name: a, say: x, when: {silence: soon}}]",
	} {
		if _, err := Parse([]byte(y)); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWatcherReloads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules: [{name: quiet, say: Check in, when: {silence: 5s}}]")
	w, err := Watch(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs := w.Rules(); len(rs) != 1 || rs[0].Name != "quiet" {
		t.Fatalf("rules %+v", rs)
	}
	if changed, err := w.check(); changed || err != nil {
		t.Fatalf("unchanged file: %v %v", changed, err)
	}
	write("rules: [{name: quiet, say: Check in with the customer, when: {silence: 8s}}, {name: talk, say: Pause, when: {agent_monologue: 30s}}]")
	if changed, err := w.check(); !changed || err != nil {
		t.Fatalf("changed file: %v %v", changed, err)
	}
	if rs := w.Rules(); len(rs) != 2 || rs[0].Line != "Check in with the customer" {
		t.Fatalf("after reload %+v", rs)
	}
	write("rules: [{name: broken, when: {}}] # a typo, mid-edit")
	if _, err := w.check(); !errors.Is(err, ErrPolicy) {
		t.Fatalf("bad file: %v", err)
	}
	if rs := w.Rules(); len(rs) != 2 {
		t.Fatalf("a bad file replaced the rules: %+v", rs)
	}
	if _, err := Watch(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Fatal("a missing file at start is accepted")
	}
}

// Conditions on the transcript's sentiment, combined with the measures: the
// issue's own example.
func TestSentimentConditions(t *testing.T) {
	rules, err := Parse([]byte(`rules: [{name: losing-them, say: "Let the customer finish, then summarise what you heard.",
  when: {customer_sentiment_falling: true, customer_sentiment_below: -0.2, agent_share_above: 0.7}}]`))
	if err != nil {
		t.Fatal(err)
	}
	talky := analysis.Snapshot{BothSpoke: true, AgentShare: 0.75}
	tests := []struct {
		name  string
		snap  analysis.Snapshot
		mood  coaching.Mood
		fires bool
	}{
		{"no transcript", talky, coaching.Mood{}, false},
		{"falling and negative while the agent talks", talky, coaching.Mood{Known: true, Value: -0.4, Falling: true}, true},
		{"negative but recovering", talky, coaching.Mood{Known: true, Value: -0.4, Rising: true}, false},
		{"falling but the agent listens", analysis.Snapshot{BothSpoke: true, AgentShare: 0.4}, coaching.Mood{Known: true, Value: -0.4, Falling: true}, false},
	}
	for _, tt := range tests {
		if got := rules[0].Match(coaching.Signals{Snapshot: tt.snap, Mood: [2]coaching.Mood{tt.mood}}); got != tt.fires {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.fires)
		}
	}
}
