package coaching

import (
	"errors"
	"testing"
	"time"

	"github.com/callcoach/callcoach/analysis"
)

var t0 = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

func sec(n float64) time.Duration { return time.Duration(n * float64(time.Second)) }

// Snapshots as the analyzer would give them.
func quiet(d time.Duration) analysis.Snapshot {
	return analysis.Snapshot{BothSpoke: true, CurrentSilence: d, Overtalk: analysis.Overtalk{By: analysis.NoSide}}
}

func talking() analysis.Snapshot {
	s := analysis.Snapshot{BothSpoke: true, Overtalk: analysis.Overtalk{By: analysis.NoSide}}
	s.Sides[analysis.Agent].Talking = true
	return s
}

func overtalk(by analysis.Side, d time.Duration) analysis.Snapshot {
	s := analysis.Snapshot{BothSpoke: true, Overtalk: analysis.Overtalk{Active: true, By: by, Duration: d}}
	s.Sides[0].Talking, s.Sides[1].Talking = true, true
	return s
}

// Flags for the generic rules: rule "low" matches Frames&1, "mid" Frames&2, "high" Frames&4.
func flags(f int64) analysis.Snapshot { return analysis.Snapshot{Frames: f} }

func flagRule(name string, prio int, bit int64) Rule {
	return Rule{Name: name, Line: name + " line", Priority: prio, Cooldown: sec(10),
		Match: func(s Signals) bool { return s.Frames&bit != 0 }}
}

var flagRules = []Rule{flagRule("low", 1, 1), flagRule("mid", 2, 2), flagRule("high", 3, 4), flagRule("mid2", 2, 8)}

type step struct {
	at     time.Duration
	snap   analysis.Snapshot
	finish bool   // Finished() before observing
	want   string // rule whose line is ready ("" = none)
	keep   bool   // do not hand it over
}

func TestCoach(t *testing.T) {
	deadAir := RuleDeadAir
	overtalkRule := RuleCustomerOvertalk
	tests := []struct {
		name      string
		rules     []Rule
		steps     []step
		wantStats Stats
	}{
		{
			name:  "dead air only after both have spoken",
			rules: []Rule{DeadAir(sec(5))},
			steps: []step{
				{at: sec(10), snap: analysis.Snapshot{CurrentSilence: sec(10)}},
				{at: sec(11), snap: quiet(sec(4.9))},
				{at: sec(12), snap: quiet(sec(5)), want: deadAir},
			},
			wantStats: Stats{Fired: 1, Delivered: 1},
		},
		{
			name:  "one line per silence, however long",
			rules: []Rule{DeadAir(sec(5))},
			steps: []step{
				{at: sec(5), snap: quiet(sec(5)), want: deadAir},
				{at: sec(6), snap: quiet(sec(6)), finish: true},
				{at: sec(60), snap: quiet(sec(60))},
				{at: sec(61), snap: talking()},
				{at: sec(67), snap: quiet(sec(6)), want: deadAir},
			},
			wantStats: Stats{Fired: 2, Delivered: 2},
		},
		{
			name:  "cool-down holds a repeat back, then lets it through in the same silence",
			rules: []Rule{DeadAir(sec(5))},
			steps: []step{
				{at: sec(5), snap: quiet(sec(5)), want: deadAir},
				{at: sec(6), snap: talking(), finish: true},
				{at: sec(20), snap: quiet(sec(5))}, // 15 s after delivery < 30 s
				{at: sec(34.9), snap: quiet(sec(19.9))},
				{at: sec(35), snap: quiet(sec(20)), want: deadAir},
			},
			wantStats: Stats{Fired: 2, Delivered: 2},
		},
		{
			name:  "at most MaxPerCall lines",
			rules: []Rule{DeadAir(sec(5))},
			steps: []step{
				{at: sec(100), snap: quiet(sec(5)), want: deadAir},
				{at: sec(101), snap: talking(), finish: true},
				{at: sec(200), snap: quiet(sec(5)), want: deadAir},
				{at: sec(201), snap: talking(), finish: true},
				{at: sec(300), snap: quiet(sec(5)), want: deadAir},
				{at: sec(301), snap: talking(), finish: true},
				{at: sec(400), snap: quiet(sec(5))},
			},
			wantStats: Stats{Fired: 3, Delivered: 3},
		},
		{
			name:  "customer overtalk, not agent overtalk",
			rules: []Rule{CustomerOvertalk(sec(2))},
			steps: []step{
				{at: sec(1), snap: overtalk(analysis.Agent, sec(5))},
				{at: sec(2), snap: overtalk(analysis.NoSide, sec(5))},
				{at: sec(3), snap: overtalk(analysis.Customer, sec(1.9))},
				{at: sec(4), snap: overtalk(analysis.Customer, sec(2)), want: overtalkRule},
			},
			wantStats: Stats{Fired: 1, Delivered: 1},
		},
		{
			name:  "nothing while a line is in flight; the queued line waits",
			rules: DefaultRules(),
			steps: []step{
				{at: sec(10), snap: overtalk(analysis.Customer, sec(2)), want: overtalkRule},
				{at: sec(11), snap: talking()},
				{at: sec(17), snap: quiet(sec(6))},                              // dead air queued behind the line in flight
				{at: sec(18), snap: quiet(sec(7)), finish: true, want: deadAir}, // played: the queued one goes
			},
			wantStats: Stats{Fired: 2, Delivered: 2},
		},
		{
			name:  "a queued line goes stale when its rule stops matching",
			rules: DefaultRules(),
			steps: []step{
				{at: sec(10), snap: overtalk(analysis.Customer, sec(2)), want: overtalkRule},
				{at: sec(17), snap: quiet(sec(6))},
				{at: sec(18), snap: talking(), finish: true},
				{at: sec(19), snap: talking()},
			},
			wantStats: Stats{Fired: 2, Delivered: 1, Withdrawn: 1},
		},
		{
			name:  "in-flight slot freed after the timeout without Finished",
			rules: DefaultRules(),
			steps: []step{
				{at: sec(10), snap: overtalk(analysis.Customer, sec(2)), want: overtalkRule},
				{at: sec(20), snap: quiet(sec(6))},
				{at: sec(29.9), snap: quiet(sec(15.9))},
				{at: sec(30), snap: quiet(sec(16)), want: deadAir},
			},
			wantStats: Stats{Fired: 2, Delivered: 2},
		},
		{
			name:  "higher priority replaces the queued line; lower is dropped",
			rules: flagRules,
			steps: []step{
				{at: sec(1), snap: flags(2), want: "mid"}, // in flight
				{at: sec(2), snap: flags(2 | 1)},          // low queued
				{at: sec(3), snap: flags(2 | 1 | 4)},      // high replaces low
				{at: sec(4), snap: flags(2 | 1 | 4), finish: true, want: "high"},
			},
			wantStats: Stats{Fired: 3, Delivered: 2, Replaced: 1},
		},
		{
			name:  "equal or lower priority never replaces",
			rules: flagRules,
			steps: []step{
				{at: sec(1), snap: flags(1), want: "low"},
				{at: sec(2), snap: flags(1 | 4)},     // high queued (low stays matched, not re-armed)
				{at: sec(3), snap: flags(1 | 4 | 2)}, // mid dropped
				{at: sec(4), snap: flags(1 | 4 | 2), finish: true, want: "high"},
				{at: sec(5), snap: flags(1 | 4 | 2)}, // mid lost its episode: not retried
			},
			wantStats: Stats{Fired: 3, Delivered: 2, Dropped: 1},
		},
		{
			name:  "equal priority: the first queued stays",
			rules: flagRules,
			steps: []step{
				{at: sec(1), snap: flags(1), want: "low"},
				{at: sec(2), snap: flags(1 | 2)},
				{at: sec(3), snap: flags(1 | 2 | 8)},
				{at: sec(4), snap: flags(1 | 2 | 8), finish: true, want: "mid"},
			},
			wantStats: Stats{Fired: 3, Delivered: 2, Dropped: 1},
		},
		{
			name:  "a line not handed over stays queued, never duplicated",
			rules: flagRules,
			steps: []step{
				{at: sec(1), snap: flags(1), want: "low", keep: true},
				{at: sec(2), snap: flags(1), want: "low", keep: true},
				{at: sec(3), snap: flags(1), want: "low"},
				{at: sec(4), snap: flags(1), finish: true},
			},
			wantStats: Stats{Fired: 1, Delivered: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(Config{Rules: tc.rules})
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				now := t0.Add(st.at)
				if st.finish {
					c.Finished()
				}
				c.Observe(Signals{Snapshot: st.snap}, now)
				s, ok := c.Ready(now)
				if got := map[bool]string{true: s.Rule}[ok]; got != st.want {
					t.Fatalf("step %d (%v): ready %q, want %q (stats %+v)", i, st.at, got, st.want, c.Stats())
				}
				if ok && !st.keep {
					if s.Line == "" || s.At.After(now) {
						t.Fatalf("step %d: suggestion %+v", i, s)
					}
					c.Delivered(now)
					if _, again := c.Ready(now); again {
						t.Fatalf("step %d: line still ready after delivery", i)
					}
				}
			}
			got := c.Stats()
			got.Worked, got.NoChange = 0, 0 // TestOutcomes
			if got != tc.wantStats {
				t.Fatalf("stats %+v, want %+v", got, tc.wantStats)
			}
		})
	}
}

// After a line, the coach watches whether what its rule saw ends within the
// outcome window.
func TestOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		after []struct {
			at   time.Duration
			snap analysis.Snapshot
		}
		end  bool
		want string
	}{
		{"the customer stopped talking over the agent", []struct {
			at   time.Duration
			snap analysis.Snapshot
		}{{sec(3), overtalk(analysis.Customer, sec(4))}, {sec(5), talking()}}, false, "worked after 5s"},
		{"still at it when the window closed", []struct {
			at   time.Duration
			snap analysis.Snapshot
		}{{sec(10), overtalk(analysis.Customer, sec(11))}, {sec(17), overtalk(analysis.Customer, sec(18))}}, false, "no change"},
		{"the call ended first", []struct {
			at   time.Duration
			snap analysis.Snapshot
		}{{sec(4), overtalk(analysis.Customer, sec(5))}}, true, "undecided"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{Rules: []Rule{CustomerOvertalk(sec(2))}})
			if err != nil {
				t.Fatal(err)
			}
			c.Observe(Signals{Snapshot: overtalk(analysis.Customer, sec(2))}, t0.Add(sec(2)))
			if _, ok := c.Ready(t0.Add(sec(2))); !ok {
				t.Fatal("no line")
			}
			c.Delivered(t0.Add(sec(2)))
			for _, s := range tt.after {
				c.Observe(Signals{Snapshot: s.snap}, t0.Add(sec(2)+s.at))
			}
			out := c.Outcomes(tt.end)
			got := "none"
			if len(out) == 1 {
				switch o := out[0]; {
				case o.Undecided:
					got = "undecided"
				case o.Worked:
					got = "worked after " + o.After.String()
				default:
					got = "no change"
				}
			}
			if got != tt.want || (len(out) == 1 && out[0].Rule != RuleCustomerOvertalk) {
				t.Errorf("outcome %+v, want %s", out, tt.want)
			}
		})
	}
}

func TestBuiltInLines(t *testing.T) {
	c, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.Observe(Signals{Snapshot: quiet(sec(6))}, t0)
	s, ok := c.Ready(t0)
	if !ok || s.Line != "The line has gone quiet — check in with the customer." || s.Rule != RuleDeadAir {
		t.Fatalf("%+v", s)
	}
	c.Delivered(t0)
	c.Finished()
	c.Observe(Signals{Snapshot: overtalk(analysis.Customer, sec(2))}, t0.Add(sec(1)))
	s, ok = c.Ready(t0.Add(sec(1)))
	if !ok || s.Line != "Let the customer finish, then summarise what you heard." || s.Rule != RuleCustomerOvertalk {
		t.Fatalf("%+v", s)
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	ok := DeadAir(sec(1))
	for name, rules := range map[string][]Rule{
		"duplicate": {ok, ok},
		"no match":  {{Name: "x", Line: "y"}},
		"no line":   {{Name: "x", Match: ok.Match}},
		"no name":   {{Line: "y", Match: ok.Match}},
	} {
		if _, err := New(Config{Rules: rules}); !errors.Is(err, ErrBadRule) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
