package conference

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// replier answers conference API commands the way mod_conference does, keeping the
// mute and relationship state so a test can ask who hears whom after every command.
type replier struct {
	mu       sync.Mutex
	members  map[int]bool      // id → present
	muted    map[int]bool      // id → cannot speak
	nospeak  map[[2]int]bool   // (a,b): b does not hear a
	log      []string          // commands in order
	hearLog  []map[[2]int]bool // after each command: (speaker, listener) → heard
	failOn   string            // substring of a command to answer with -ERR
	override map[string]string // command → reply text
}

func newReplier(ids ...int) *replier {
	r := &replier{members: map[int]bool{}, muted: map[int]bool{}, nospeak: map[[2]int]bool{}}
	for _, id := range ids {
		r.members[id] = true
	}
	return r
}

var (
	reMute   = regexp.MustCompile(`^conference (\S+) (mute|unmute) (\d+) quiet$`)
	reRelate = regexp.MustCompile(`^conference (\S+) relate (\d+) ([\d,]+) (nospeak|clear)$`)
	rePlay   = regexp.MustCompile(`^conference (\S+) play (\S+)(?: (\d+))?$`)
)

func (r *replier) API(_ context.Context, cmd string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.snapshot()
	r.log = append(r.log, cmd)
	if r.failOn != "" && strings.Contains(cmd, r.failOn) {
		return "-ERR Non-Existant ID 0\n", nil
	}
	if reply, ok := r.override[cmd]; ok {
		return reply, nil
	}
	if m := reMute.FindStringSubmatch(cmd); m != nil {
		id, _ := strconv.Atoi(m[3])
		if !r.members[id] {
			return fmt.Sprintf("-ERR Non-Existant ID %d\n", id), nil
		}
		r.muted[id] = m[2] == "mute"
		return fmt.Sprintf("+OK %s %d\n", m[2], id), nil
	}
	if m := reRelate.FindStringSubmatch(cmd); m != nil {
		a, _ := strconv.Atoi(m[2])
		var out strings.Builder
		for _, f := range strings.Split(m[3], ",") {
			b, _ := strconv.Atoi(f)
			if !r.members[a] || !r.members[b] {
				fmt.Fprintf(&out, "-ERR relationship %d->%d not found.\n", a, b)
				continue
			}
			if m[4] == "clear" {
				delete(r.nospeak, [2]int{a, b})
				fmt.Fprintf(&out, "+OK relationship %d->%d cleared.\n", a, b)
			} else {
				r.nospeak[[2]int{a, b}] = true
				fmt.Fprintf(&out, "+OK %d->%d nospeak set\n", a, b)
			}
		}
		return out.String(), nil
	}
	if m := rePlay.FindStringSubmatch(cmd); m != nil {
		if m[3] != "" {
			return fmt.Sprintf("+OK (play) Playing file %s to member %s\n", m[2], m[3]), nil
		}
		return fmt.Sprintf("+OK (play) Playing file %s\n", m[2]), nil
	}
	return "-ERR unexpected command\n", nil
}

func (r *replier) snapshot() {
	h := map[[2]int]bool{}
	for a := range r.members {
		for b := range r.members {
			if a != b {
				h[[2]int{a, b}] = !r.muted[a] && !r.nospeak[[2]int{a, b}]
			}
		}
	}
	r.hearLog = append(r.hearLog, h)
}

const (
	caller     = 5
	agent      = 6
	supervisor = 7
)

func setup(t *testing.T, r *replier) *Conference {
	t.Helper()
	c := New("cc-test", r)
	ctx := context.Background()
	r.muted[supervisor] = true // joined with flags{mute}
	for _, m := range []Member{{ID: caller, Role: RoleCaller}, {ID: agent, Role: RoleAgent}, {ID: supervisor, Role: RoleMonitor}} {
		if err := c.Join(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestModeTransitions drives every transition between the three modes and checks,
// after every single command, that the caller never hears a monitor that is neither
// starting nor ending in barge, and that the end state is the design's hearing matrix.
func TestModeTransitions(t *testing.T) {
	modes := []Mode{Spy, Whisper, Barge}
	for _, from := range modes {
		for _, to := range modes {
			t.Run(fmt.Sprintf("%s-to-%s", from, to), func(t *testing.T) {
				r := newReplier(caller, agent, supervisor)
				c := setup(t, r)
				ctx := context.Background()
				if err := c.SetMode(ctx, supervisor, from); err != nil {
					t.Fatal(err)
				}
				start := len(r.hearLog)
				if err := c.SetMode(ctx, supervisor, to); err != nil {
					t.Fatal(err)
				}
				for i, h := range r.hearLog[start:] {
					if to != Barge && from != Barge && h[[2]int{supervisor, caller}] {
						t.Errorf("after %q the caller hears the supervisor", r.log[start+i])
					}
				}
				end := r.hearLog[len(r.hearLog)-1]
				want := map[Mode][2]bool{Spy: {false, false}, Whisper: {false, true}, Barge: {true, true}}[to]
				if got := end[[2]int{supervisor, caller}]; got != want[0] {
					t.Errorf("caller hears supervisor = %v, want %v (commands %q)", got, want[0], r.log[start:])
				}
				if got := end[[2]int{supervisor, agent}]; got != want[1] {
					t.Errorf("agent hears supervisor = %v, want %v (commands %q)", got, want[1], r.log[start:])
				}
				if !end[[2]int{caller, supervisor}] || !end[[2]int{agent, supervisor}] {
					t.Errorf("supervisor must hear both sides in %s", to)
				}
				if m, _ := c.Member(supervisor); m.Mode != to {
					t.Errorf("recorded mode %q, want %q", m.Mode, to)
				}
			})
		}
	}
}

func TestWhisperCoversCallerWhoJoinsLater(t *testing.T) {
	r := newReplier(caller, agent, supervisor, 9)
	c := setup(t, r)
	ctx := context.Background()
	if err := c.SetMode(ctx, supervisor, Whisper); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, Member{ID: 9, Role: RoleCaller}); err != nil {
		t.Fatal(err)
	}
	end := r.hearLog[len(r.hearLog)-1]
	if end[[2]int{supervisor, 9}] {
		t.Fatalf("a caller-side member who joined during a whisper hears the supervisor; commands %q", r.log)
	}
}

func TestSetModeErrors(t *testing.T) {
	tests := []struct {
		name    string
		member  int
		mode    Mode
		failOn  string
		wantErr error
		wantAs  bool
	}{
		{name: "unknown member", member: 99, mode: Whisper, wantErr: ErrUnknownMember},
		{name: "not a monitor", member: agent, mode: Barge, wantErr: ErrNotMonitor},
		{name: "unconfirmed unmute", member: supervisor, mode: Whisper, failOn: "unmute", wantAs: true},
		{name: "bad mode", member: supervisor, mode: "loud"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newReplier(caller, agent, supervisor)
			c := setup(t, r)
			r.failOn = tt.failOn
			err := c.SetMode(context.Background(), tt.member, tt.mode)
			if err == nil {
				t.Fatal("expected an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			var ue *UnconfirmedError
			if tt.wantAs && !errors.As(err, &ue) {
				t.Fatalf("error %v is not an *UnconfirmedError", err)
			}
			if tt.wantAs {
				// The fail-safe mute ran after the failed unmute.
				if last := r.log[len(r.log)-1]; last != "conference cc-test mute 7 quiet" {
					t.Fatalf("last command %q, want the fail-safe mute", last)
				}
				if m, _ := c.Member(supervisor); m.Mode != Spy {
					t.Fatalf("recorded mode %q after a failed switch, want spy", m.Mode)
				}
			}
		})
	}
}

func TestCoachFollowsCoachMode(t *testing.T) {
	tests := []struct {
		mode    Mode
		want    Audience
		wantCmd string
	}{
		{Spy, HeardByNobody, ""},
		{Whisper, HeardByAgent, "conference cc-test play /tmp/line.r8 6"},
		{Barge, HeardByEveryone, "conference cc-test play /tmp/line.r8"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			r := newReplier(caller, agent, supervisor)
			c := setup(t, r)
			before := len(r.log)
			if err := c.SetCoachMode(tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := c.Coach(context.Background(), "/tmp/line.r8")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("audience %q, want %q", got, tt.want)
			}
			sent := r.log[before:]
			if tt.wantCmd == "" && len(sent) != 0 || tt.wantCmd != "" && (len(sent) != 1 || sent[0] != tt.wantCmd) {
				t.Fatalf("sent %q, want %q", sent, tt.wantCmd)
			}
		})
	}
}

func TestCoachWithoutAgent(t *testing.T) {
	c := New("cc-x", newReplier())
	_ = c.SetCoachMode(Whisper)
	if _, err := c.Coach(context.Background(), "/tmp/x.r8"); !errors.Is(err, ErrNoAgent) {
		t.Fatalf("error %v, want ErrNoAgent", err)
	}
}
