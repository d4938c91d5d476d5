// Package coaching turns a call's analysis snapshots into short lines for the
// agent, spoken into the agent's ear (TTS, then playAudio, then a member play).
//
// The Coach is deliberately sparing:
//   - A rule fires once per episode: it must stop matching before it can
//     fire again (one long silence gives one "check in", not one every cool-down).
//   - A rule never fires within its Cooldown of its previous delivered line,
//     nor more than MaxPerCall times in a call.
//   - At most one line is in flight (handed over and not yet Finished, up to
//     InFlightTimeout) and at most one is queued behind it.
//   - A firing rule takes the queue slot when it is empty, or replaces a
//     queued line of strictly lower priority. Otherwise it is dropped for
//     this episode, not retried: lines never pile up.
//   - A queued line whose rule no longer matches is withdrawn (stale advice:
//     "the line has gone quiet" once the customer talks again).
//
// A Coach is not safe for concurrent use: one goroutine (the call's pipeline)
// owns it. Time is passed in, so tests drive it with a fake clock.
package coaching

import (
	"errors"
	"fmt"
	"time"

	"github.com/callcoach/callcoach/analysis"
)

// Rule names of the built-in rules.
const (
	RuleDeadAir          = "dead-air"
	RuleCustomerOvertalk = "customer-overtalk"
)

// Signals are what rules look at: the analyzer's measures and, when the
// call is transcribed, how each side's sentiment is going.
type Signals struct {
	analysis.Snapshot
	Mood [2]Mood // customer, agent
}

// Mood is one side's sentiment trend, from what it said.
type Mood struct {
	Known   bool    // something was transcribed
	Value   float64 // -1 … +1, smoothed
	Falling bool
	Rising  bool
}

// Rule is one piece of advice and when to give it.
type Rule struct {
	Name     string
	Line     string
	Priority int // higher wins
	// Cooldown: no repeat of this rule within it, counted from delivery.
	Cooldown time.Duration
	// MaxPerCall: at most this many deliveries per call (0 = no limit).
	MaxPerCall int
	Match      func(Signals) bool
}

// DeadAir fires when nobody has talked for after, once both sides have spoken.
func DeadAir(after time.Duration) Rule {
	return Rule{
		Name:       RuleDeadAir,
		Line:       "The line has gone quiet — check in with the customer.",
		Priority:   10,
		Cooldown:   30 * time.Second,
		MaxPerCall: 3,
		Match: func(s Signals) bool {
			return s.BothSpoke && s.CurrentSilence >= after
		},
	}
}

// CustomerOvertalk fires when the customer has been talking over the agent
// for after.
func CustomerOvertalk(after time.Duration) Rule {
	return Rule{
		Name:       RuleCustomerOvertalk,
		Line:       "Let the customer finish, then summarise what you heard.",
		Priority:   20,
		Cooldown:   45 * time.Second,
		MaxPerCall: 3,
		Match: func(s Signals) bool {
			return s.Overtalk.Active && s.Overtalk.By == analysis.Customer && s.Overtalk.Duration >= after
		},
	}
}

// DefaultRules: dead air of 6 s, customer overtalk of 2 s.
func DefaultRules() []Rule {
	return []Rule{DeadAir(6 * time.Second), CustomerOvertalk(2 * time.Second)}
}

// Suggestion is a line for the agent.
type Suggestion struct {
	Line     string
	Rule     string
	Priority int
	At       time.Time // when the rule fired
}

// Config configures a Coach.
type Config struct {
	Rules []Rule // nil = DefaultRules()
	// InFlightTimeout frees the in-flight slot when Finished never comes
	// (default 20 s).
	InFlightTimeout time.Duration
	// OutcomeWindow is how long after a line its outcome is judged
	// (default 15 s).
	OutcomeWindow time.Duration
}

// ErrBadRule: a rule without a name, line or Match, or a duplicate name.
var ErrBadRule = errors.New("coaching: bad rule")

type ruleState struct {
	Rule
	armed         bool
	delivered     int
	lastDelivered time.Time
}

// Stats count what the coach did with the rules' firings.
type Stats struct {
	Fired     int // a rule matched and was allowed to fire
	Delivered int
	Replaced  int // a queued line replaced by a higher-priority one
	Dropped   int // a firing that lost to the queued line
	Withdrawn int // a queued line whose rule stopped matching
	// Outcomes of delivered lines: the situation the rule saw changed within
	// the outcome window (Worked) or not (NoChange).
	Worked, NoChange int
}

// Outcome is what followed a delivered line: did the situation its rule
// saw end within the window (the overtalk stopped, someone spoke, the voice
// came down)?
type Outcome struct {
	Rule      string        `json:"rule"`
	At        time.Time     `json:"-"`
	Worked    bool          `json:"worked"`
	After     time.Duration `json:"-"` // when it worked: how soon
	AfterMS   int64         `json:"after_ms,omitempty"`
	Undecided bool          `json:"undecided,omitempty"` // the call ended first
}

type pendingOutcome struct {
	rule int
	at   time.Time
}

// Coach applies rules to one call.
type Coach struct {
	rules         []ruleState
	timeout       time.Duration
	queued        int // index into rules, -1 = none
	queuedAt      time.Time
	inFlight      bool
	inFlightSince time.Time
	stats         Stats
	window        time.Duration
	pending       []pendingOutcome
	outcomes      []Outcome
}

// New returns a Coach for one call.
func New(cfg Config) (*Coach, error) {
	rules := cfg.Rules
	if rules == nil {
		rules = DefaultRules()
	}
	c := &Coach{timeout: cfg.InFlightTimeout, queued: -1, window: cfg.OutcomeWindow}
	if c.timeout <= 0 {
		c.timeout = 20 * time.Second
	}
	if c.window <= 0 {
		c.window = 15 * time.Second
	}
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		if r.Name == "" || r.Line == "" || r.Match == nil || seen[r.Name] {
			return nil, fmt.Errorf("%w: %q", ErrBadRule, r.Name)
		}
		seen[r.Name] = true
		c.rules = append(c.rules, ruleState{Rule: r, armed: true})
	}
	return c, nil
}

// Observe evaluates the rules against the call's latest snapshot.
func (c *Coach) Observe(s Signals, now time.Time) {
	c.judge(s, now)
	if c.queued >= 0 && !c.rules[c.queued].Match(s) {
		c.queued = -1
		c.stats.Withdrawn++
	}
	for i := range c.rules {
		r := &c.rules[i]
		if !r.Match(s) {
			r.armed = true
			continue
		}
		if !r.armed || c.queued == i {
			continue
		}
		if r.MaxPerCall > 0 && r.delivered >= r.MaxPerCall {
			continue
		}
		if r.delivered > 0 && now.Sub(r.lastDelivered) < r.Cooldown {
			continue
		}
		r.armed = false
		c.stats.Fired++
		switch {
		case c.queued < 0:
			c.queued, c.queuedAt = i, now
		case c.rules[c.queued].Priority < r.Priority:
			c.queued, c.queuedAt = i, now
			c.stats.Replaced++
		default:
			c.stats.Dropped++
		}
	}
}

// Ready returns the queued line when it may be handed over now (nothing in
// flight). Call Delivered once it has been handed over.
func (c *Coach) Ready(now time.Time) (Suggestion, bool) {
	if c.queued < 0 {
		return Suggestion{}, false
	}
	if c.inFlight && now.Sub(c.inFlightSince) < c.timeout {
		return Suggestion{}, false
	}
	r := &c.rules[c.queued]
	return Suggestion{Line: r.Line, Rule: r.Name, Priority: r.Priority, At: c.queuedAt}, true
}

// Delivered records that the line Ready returned was handed over: it is in
// flight until Finished (or InFlightTimeout), and its rule's cool-down starts.
func (c *Coach) Delivered(now time.Time) {
	if c.queued < 0 {
		return
	}
	r := &c.rules[c.queued]
	r.delivered++
	r.lastDelivered = now
	c.pending = append(c.pending, pendingOutcome{rule: c.queued, at: now})
	c.queued = -1
	c.inFlight, c.inFlightSince = true, now
	c.stats.Delivered++
}

// judge settles the outcomes of delivered lines.
func (c *Coach) judge(s Signals, now time.Time) {
	kept := c.pending[:0]
	for _, p := range c.pending {
		r := &c.rules[p.rule]
		switch {
		case !r.Match(s):
			after := now.Sub(p.at)
			c.outcomes = append(c.outcomes, Outcome{Rule: r.Name, At: p.at, Worked: true, After: after, AfterMS: after.Milliseconds()})
			c.stats.Worked++
		case now.Sub(p.at) >= c.window:
			c.outcomes = append(c.outcomes, Outcome{Rule: r.Name, At: p.at})
			c.stats.NoChange++
		default:
			kept = append(kept, p)
		}
	}
	c.pending = kept
}

// Outcomes are the settled outcomes so far, oldest first, and — with end —
// the lines still being judged, marked Undecided (the call ended).
func (c *Coach) Outcomes(end bool) []Outcome {
	out := append([]Outcome(nil), c.outcomes...)
	if end {
		for _, p := range c.pending {
			out = append(out, Outcome{Rule: c.rules[p.rule].Name, At: p.at, Undecided: true})
		}
	}
	return out
}

// Finished frees the in-flight slot: the line was played, or given up.
func (c *Coach) Finished() { c.inFlight = false }

// Stats returns the counters.
func (c *Coach) Stats() Stats { return c.stats }
