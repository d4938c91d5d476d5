// Package policy turns the coaching policy file — YAML a contact centre
// edits — into coaching rules, and keeps them current while the controller
// runs.
package policy

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/internal/reload"
)

//go:embed default.yaml
var defaultYAML []byte

// ErrPolicy: the policy file is not usable.
var ErrPolicy = errors.New("policy: bad coaching policy")

type file struct {
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Name       string        `yaml:"name"`
	Say        string        `yaml:"say"`
	Priority   int           `yaml:"priority"`
	Cooldown   time.Duration `yaml:"cooldown"`
	MaxPerCall int           `yaml:"max_per_call"`
	When       when          `yaml:"when"`
}

type when struct {
	CustomerOvertalk  time.Duration `yaml:"customer_overtalk"`
	AgentOvertalk     time.Duration `yaml:"agent_overtalk"`
	Silence           time.Duration `yaml:"silence"`
	AgentMonologue    time.Duration `yaml:"agent_monologue"`
	CustomerMonologue time.Duration `yaml:"customer_monologue"`
	CustomerRaised    time.Duration `yaml:"customer_raised_voice"`
	AgentRaised       time.Duration `yaml:"agent_raised_voice"`
	AgentShareAbove   *float64      `yaml:"agent_share_above"`
	AgentShareBelow   *float64      `yaml:"agent_share_below"`
	// From the transcript (needs speech to text).
	CustomerSentimentBelow *float64      `yaml:"customer_sentiment_below"`
	CustomerSentimentFalls bool          `yaml:"customer_sentiment_falling"`
	After                  time.Duration `yaml:"after"`
}

// Default is the built-in policy for a support line (default.yaml).
func Default() []coaching.Rule {
	rules, err := Parse(defaultYAML)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return rules
}

// Parse reads a policy.
func Parse(b []byte) ([]coaching.Rule, error) {
	var f file
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true) // a misspelt condition must not silently never fire
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	if len(f.Rules) == 0 {
		return nil, fmt.Errorf("%w: no rules", ErrPolicy)
	}
	var out []coaching.Rule
	for _, r := range f.Rules {
		match, err := r.When.match()
		if err != nil {
			return nil, fmt.Errorf("%w: rule %q: %w", ErrPolicy, r.Name, err)
		}
		if r.Say == "" {
			return nil, fmt.Errorf("%w: rule %q says nothing", ErrPolicy, r.Name)
		}
		out = append(out, coaching.Rule{Name: r.Name, Line: r.Say, Priority: r.Priority, Cooldown: r.Cooldown, MaxPerCall: r.MaxPerCall, Match: match})
	}
	if _, err := coaching.New(coaching.Config{Rules: out}); err != nil { // names, duplicates
		return nil, fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	return out, nil
}

// Load reads a policy file.
func Load(path string) ([]coaching.Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

func (w when) match() (func(coaching.Signals) bool, error) {
	var conds []func(coaching.Signals) bool
	add := func(c func(coaching.Signals) bool) { conds = append(conds, c) }
	if d := w.CustomerOvertalk; d > 0 {
		add(func(s coaching.Signals) bool {
			return s.Overtalk.Active && s.Overtalk.By == analysis.Customer && s.Overtalk.Duration >= d
		})
	}
	if d := w.AgentOvertalk; d > 0 {
		add(func(s coaching.Signals) bool {
			return s.Overtalk.Active && s.Overtalk.By == analysis.Agent && s.Overtalk.Duration >= d
		})
	}
	if d := w.Silence; d > 0 {
		add(func(s coaching.Signals) bool { return s.BothSpoke && s.CurrentSilence >= d })
	}
	if d := w.AgentMonologue; d > 0 {
		add(func(s coaching.Signals) bool { return s.Monologue.Side == analysis.Agent && s.Monologue.Duration >= d })
	}
	if d := w.CustomerMonologue; d > 0 {
		add(func(s coaching.Signals) bool {
			return s.Monologue.Side == analysis.Customer && s.Monologue.Duration >= d
		})
	}
	if d := w.CustomerRaised; d > 0 {
		add(func(s coaching.Signals) bool { return s.Sides[analysis.Customer].RaisedVoice >= d })
	}
	if d := w.AgentRaised; d > 0 {
		add(func(s coaching.Signals) bool { return s.Sides[analysis.Agent].RaisedVoice >= d })
	}
	for _, x := range []*float64{w.AgentShareAbove, w.AgentShareBelow} {
		if x != nil && (*x < 0 || *x > 1) {
			return nil, fmt.Errorf("agent share %v is not between 0 and 1", *x)
		}
	}
	if x := w.AgentShareAbove; x != nil {
		add(func(s coaching.Signals) bool { return s.BothSpoke && s.AgentShare > *x })
	}
	if x := w.AgentShareBelow; x != nil {
		add(func(s coaching.Signals) bool { return s.BothSpoke && s.AgentShare < *x })
	}
	if x := w.CustomerSentimentBelow; x != nil {
		add(func(s coaching.Signals) bool { return s.Mood[0].Known && s.Mood[0].Value < *x })
	}
	if w.CustomerSentimentFalls {
		add(func(s coaching.Signals) bool { return s.Mood[0].Known && s.Mood[0].Falling })
	}
	if len(conds) == 0 {
		return nil, errors.New("no condition in when")
	}
	if d := w.After; d > 0 {
		add(func(s coaching.Signals) bool { return s.Elapsed >= d })
	}
	return func(s coaching.Signals) bool {
		for _, c := range conds {
			if !c(s) {
				return false
			}
		}
		return true
	}, nil
}

// Watcher keeps a policy file's rules current: Rules is what a new call
// should use. A file that turns bad is logged and the last good rules kept.
type Watcher struct {
	f *reload.File[[]coaching.Rule]
}

// Watch loads path (it must be good at start).
func Watch(path string, log *slog.Logger) (*Watcher, error) {
	f, err := reload.Watch(path, "coaching policy", Load, log)
	if err != nil {
		return nil, err
	}
	return &Watcher{f: f}, nil
}

// Rules are the current rules.
func (w *Watcher) Rules() []coaching.Rule { return w.f.Current() }

// Run checks the file every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) { w.f.Run(ctx, interval) }

// check reloads the file now if it changed.
func (w *Watcher) check() (bool, error) { return w.f.Check() }
