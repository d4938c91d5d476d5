package conference

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Commander runs an API command on FreeSWITCH and returns its reply text. An esl
// connection satisfies it; a reply starting with -ERR may come back either as an
// error or as text, and both are handled.
type Commander interface {
	API(ctx context.Context, cmd string) (string, error)
}

// Role says what a member is to the call; it decides who a whisper hides from.
type Role int

const (
	// RoleCaller is the customer side: it must never hear a spying or whispering monitor.
	RoleCaller Role = iota + 1
	// RoleAgent is the human agent being coached.
	RoleAgent
	// RoleMonitor is a supervisor's phone leg (the AI coach has no leg).
	RoleMonitor
)

func (r Role) String() string {
	switch r {
	case RoleCaller:
		return "caller"
	case RoleAgent:
		return "agent"
	case RoleMonitor:
		return "monitor"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// Mode is a monitor's audio mode.
type Mode string

const (
	Spy     Mode = "spy"
	Whisper Mode = "whisper"
	Barge   Mode = "barge"
)

// ParseMode accepts "spy", "whisper" or "barge".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case Spy, Whisper, Barge:
		return m, nil
	}
	return "", fmt.Errorf("conference: unknown mode %q (want spy, whisper or barge)", s)
}

// failSafeTimeout bounds the mute sent after a failed switch.
const failSafeTimeout = 2 * time.Second

// Member is one participant of the conference.
type Member struct {
	ID          int
	ChannelUUID string
	Role        Role
	// Mode is the monitor's current mode; empty for callers and agents.
	Mode Mode
}

var (
	// ErrUnknownMember: the member id is not (or no longer) in this conference.
	ErrUnknownMember = errors.New("conference: unknown member")
	// ErrNotMonitor: modes apply to monitors only.
	ErrNotMonitor = errors.New("conference: member is not a monitor")
	// ErrNoAgent: coaching needs an agent member to whisper to.
	ErrNoAgent = errors.New("conference: no agent in the conference")
)

// UnconfirmedError reports a command whose reply was not the confirmation
// FreeSWITCH gives when the change took effect.
type UnconfirmedError struct {
	Command string
	Reply   string
	Err     error // the command's own error, if it returned one
}

func (e *UnconfirmedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("conference: %q failed: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("conference: %q not confirmed: reply %q", e.Command, strings.TrimSpace(e.Reply))
}

func (e *UnconfirmedError) Unwrap() error { return e.Err }

// Conference is the controller's view of one conference. It is safe for concurrent
// use; mode switches are serialised so their commands never interleave on the wire.
type Conference struct {
	name string
	api  Commander

	ops sync.Mutex // held for a whole command sequence

	mu        sync.Mutex // guards the fields below
	members   map[int]*Member
	coachMode Mode
}

// New returns the model of conference name, driven through api. The AI coach
// starts in spy, as the use case has it.
func New(name string, api Commander) *Conference {
	return &Conference{name: name, api: api, members: map[int]*Member{}, coachMode: Spy}
}

// Name is the conference name used in every command.
func (c *Conference) Name() string { return c.name }

// Join records a member that FreeSWITCH reported in (add-member). A monitor must
// have joined with flags{mute} and is recorded in spy. A caller-side member that
// joins while monitors whisper gets their nospeak relationships at once: FreeSWITCH
// keeps relationships per pair, so an old whisper does not cover a new member.
func (c *Conference) Join(ctx context.Context, m Member) error {
	if m.Role == RoleMonitor {
		m.Mode = Spy
	} else {
		m.Mode = ""
	}
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	c.members[m.ID] = &m
	var whisperers []int
	if m.Role == RoleCaller {
		for _, o := range c.members {
			if o.Role == RoleMonitor && o.Mode == Whisper {
				whisperers = append(whisperers, o.ID)
			}
		}
	}
	c.mu.Unlock()
	slices.Sort(whisperers)
	for _, w := range whisperers {
		if err := c.relate(ctx, w, []int{m.ID}, "nospeak"); err != nil {
			return fmt.Errorf("re-applying whisper of member %d to new member %d: %w", w, m.ID, err)
		}
	}
	return nil
}

// Leave forgets a member that FreeSWITCH reported gone (del-member, kick-member).
func (c *Conference) Leave(id int) {
	c.mu.Lock()
	delete(c.members, id)
	c.mu.Unlock()
}

// Members returns the members sorted by id.
func (c *Conference) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Member, 0, len(c.members))
	for _, m := range c.members {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return a.ID - b.ID })
	return out
}

// Member returns one member by id.
func (c *Conference) Member(id int) (Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.members[id]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

// Agent returns the agent member, if one has joined.
func (c *Conference) Agent() (Member, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.members {
		if m.Role == RoleAgent {
			return *m, true
		}
	}
	return Member{}, false
}

// SetMode switches monitor id to mode and returns once FreeSWITCH has confirmed
// every step. On error the recorded mode is the last one fully confirmed, and the
// monitor is left muted whenever a step towards spy or whisper failed, so a failure
// never leaves a supervisor audible to the caller by accident.
func (c *Conference) SetMode(ctx context.Context, id int, mode Mode) error {
	if _, err := ParseMode(string(mode)); err != nil {
		return err
	}
	c.ops.Lock()
	defer c.ops.Unlock()

	c.mu.Lock()
	m, ok := c.members[id]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %d in %s", ErrUnknownMember, id, c.name)
	}
	if m.Role != RoleMonitor {
		c.mu.Unlock()
		return fmt.Errorf("%w: member %d is the %s", ErrNotMonitor, id, m.Role)
	}
	callers := c.callerSideLocked()
	c.mu.Unlock()

	var err error
	switch mode {
	case Spy:
		// Mute first: from this reply on, nobody hears the monitor.
		err = c.mute(ctx, id)
		if err == nil && len(callers) > 0 {
			err = c.relate(ctx, id, callers, "clear")
		}
	case Whisper:
		// Hide from the caller side before the monitor becomes audible at all.
		if len(callers) > 0 {
			err = c.relate(ctx, id, callers, "nospeak")
		}
		if err == nil {
			err = c.unmute(ctx, id)
		}
	case Barge:
		if len(callers) > 0 {
			err = c.relate(ctx, id, callers, "clear")
		}
		if err == nil {
			err = c.unmute(ctx, id)
		}
	}
	if err != nil {
		if mode != Barge {
			// Best effort, even when ctx is what failed: a half-applied spy or whisper
			// must not leave the monitor audible.
			muteCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failSafeTimeout)
			_ = c.mute(muteCtx, id)
			cancel()
		}
		return fmt.Errorf("switching member %d of %s to %s: %w", id, c.name, mode, err)
	}
	c.mu.Lock()
	if m, ok := c.members[id]; ok {
		m.Mode = mode
	}
	c.mu.Unlock()
	return nil
}

// CoachMode is the AI coach's mode: it decides who hears a coaching line.
func (c *Conference) CoachMode() Mode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.coachMode
}

// SetCoachMode sets the AI coach's mode. It has no leg, so nothing is sent.
func (c *Conference) SetCoachMode(mode Mode) error {
	if _, err := ParseMode(string(mode)); err != nil {
		return err
	}
	c.mu.Lock()
	c.coachMode = mode
	c.mu.Unlock()
	return nil
}

// Audience says who heard a coaching line.
type Audience string

const (
	HeardByAgent    Audience = "agent"
	HeardByEveryone Audience = "everyone"
	HeardByNobody   Audience = "nobody"
)

// Coach plays a coaching file as the AI coach's mode decides: to the agent member
// alone in whisper, to the whole conference in barge, and not at all in spy.
// `conference X play <file> <member>` is mixed into what that member hears, so the
// agent keeps hearing the caller while the line plays.
func (c *Conference) Coach(ctx context.Context, file string) (Audience, error) {
	switch c.CoachMode() {
	case Whisper:
		agent, ok := c.Agent()
		if !ok {
			return HeardByNobody, ErrNoAgent
		}
		if err := c.PlayTo(ctx, file, agent.ID); err != nil {
			return HeardByNobody, err
		}
		return HeardByAgent, nil
	case Barge:
		if err := c.PlayAll(ctx, file); err != nil {
			return HeardByNobody, err
		}
		return HeardByEveryone, nil
	}
	return HeardByNobody, nil
}

// PlayTo plays file to one member only.
func (c *Conference) PlayTo(ctx context.Context, file string, id int) error {
	cmd := fmt.Sprintf("conference %s play %s %d", c.name, file, id)
	return c.expect(ctx, cmd, fmt.Sprintf("+OK (play) Playing file %s to member %d", file, id))
}

// PlayAll plays file to the whole conference.
func (c *Conference) PlayAll(ctx context.Context, file string) error {
	cmd := fmt.Sprintf("conference %s play %s", c.name, file)
	return c.expect(ctx, cmd, "+OK (play) Playing file "+file)
}

// Kick takes a member out of the conference; its channel goes on (FACTS.md).
func (c *Conference) Kick(ctx context.Context, id int) error {
	return c.expect(ctx, fmt.Sprintf("conference %s kick %d", c.name, id), fmt.Sprintf("+OK kicked %d", id))
}

func (c *Conference) callerSideLocked() []int {
	var ids []int
	for _, m := range c.members {
		if m.Role == RoleCaller {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// mute and unmute end in "quiet" so the monitor hears no muted/unmuted prompt.
func (c *Conference) mute(ctx context.Context, id int) error {
	return c.expect(ctx, fmt.Sprintf("conference %s mute %d quiet", c.name, id), fmt.Sprintf("+OK mute %d", id))
}

func (c *Conference) unmute(ctx context.Context, id int) error {
	return c.expect(ctx, fmt.Sprintf("conference %s unmute %d quiet", c.name, id), fmt.Sprintf("+OK unmute %d", id))
}

// relate sends one command for all pairs (FreeSWITCH takes comma lists) and
// checks that every pair was confirmed on its own line.
func (c *Conference) relate(ctx context.Context, id int, others []int, action string) error {
	list := make([]string, len(others))
	want := make([]string, len(others))
	for i, o := range others {
		list[i] = strconv.Itoa(o)
		if action == "clear" {
			want[i] = fmt.Sprintf("+OK relationship %d->%d cleared.", id, o)
		} else {
			want[i] = fmt.Sprintf("+OK %d->%d %s set", id, o, action)
		}
	}
	cmd := fmt.Sprintf("conference %s relate %d %s %s", c.name, id, strings.Join(list, ","), action)
	return c.expect(ctx, cmd, want...)
}

// expect runs cmd and checks that its reply holds exactly the wanted lines.
func (c *Conference) expect(ctx context.Context, cmd string, want ...string) error {
	reply, err := c.api.API(ctx, cmd)
	if err != nil {
		return &UnconfirmedError{Command: cmd, Reply: reply, Err: err}
	}
	got := strings.Split(strings.TrimRight(reply, "\n"), "\n")
	if !slices.Equal(got, want) {
		return &UnconfirmedError{Command: cmd, Reply: reply}
	}
	return nil
}
