// Package supervision is the controller's side of supervisors: it carries
// out their commands on the calls this controller owns (checking who may
// monitor whom and auditing every action first), switches modes on DTMF,
// and keeps the call registry current.
package supervision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/callcoach/callcoach/access"
	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/conference"
)

// Calls is what the desk drives: a callflow.Manager.
type Calls interface {
	Call(id string) (callflow.Info, error)
	AddMonitor(ctx context.Context, callID, name, dial string, mode conference.Mode) (int, error)
	SetMode(ctx context.Context, callID string, memberID int, mode conference.Mode) error
	RemoveMonitor(ctx context.Context, callID string, memberID int) error
	WhisperToAgent(ctx context.Context, callID, source, text string) (conference.Audience, error)
	Hangup(ctx context.Context, callID string) error
}

// AuditWriter appends audit entries (audit.Writer).
type AuditWriter interface {
	Write(ctx context.Context, e audit.Entry) error
}

// DTMFModes maps a supervisor's keypad to modes.
var DTMFModes = map[string]conference.Mode{"1": conference.Spy, "2": conference.Whisper, "3": conference.Barge}

// MaxCoachText bounds a typed coaching line (it is spoken while the agent talks).
const MaxCoachText = 300

// Desk serves supervisors' commands for one controller's calls. It is a
// command.Handler, and a callflow.Observer for DTMF and the ends of
// monitoring (audited with since/until).
type Desk struct {
	calls      Calls
	dir        func() *access.Directory
	audit      AuditWriter
	controller string
	log        *slog.Logger

	mu      sync.Mutex
	open    map[string]map[int]segment // call → member → its current stretch
	busy    map[string]bool            // call + supervisor with a command running
	keypads map[string]*keypad         // call + member: keypad switches
	closed  bool

	ended  chan audit.Entry // "ended" entries, written in the background
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type segment struct {
	name, mode, agent, group string
	since                    time.Time
}

// DeskOptions configure a Desk.
type DeskOptions struct {
	Calls Calls
	// Directory returns the supervisors file as it is now; nil (or a nil
	// result) permits nobody.
	Directory  func() *access.Directory
	Audit      AuditWriter
	Controller string
	Logger     *slog.Logger
}

// NewDesk starts a desk; Close stops it.
func NewDesk(o DeskOptions) *Desk {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Directory == nil {
		o.Directory = func() *access.Directory { return nil }
	}
	d := &Desk{calls: o.Calls, dir: o.Directory, audit: o.Audit, controller: o.Controller, log: o.Logger,
		open: make(map[string]map[int]segment), busy: make(map[string]bool), keypads: make(map[string]*keypad), ended: make(chan audit.Entry, 4096)}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.wg.Add(1)
	go d.writeEnded()
	return d
}

// Close stops the desk after the pending audit entries are written (bounded).
func (d *Desk) Close() {
	d.mu.Lock()
	d.closed = true
	close(d.ended)
	d.mu.Unlock()
	t := time.AfterFunc(5*time.Second, d.cancel)
	d.wg.Wait()
	t.Stop()
	d.cancel()
}

// Handle carries out one command (command.Handler).
func (d *Desk) Handle(ctx context.Context, req command.Request) command.Reply {
	// One command per supervisor and call at a time: two quick "whisper"s
	// must not dial two phones.
	key := req.Call + "\x00" + req.Supervisor
	d.mu.Lock()
	if d.busy[key] {
		d.mu.Unlock()
		return command.Reply{Code: command.CodeBadRequest, Error: fmt.Sprintf("a command of %s on this call is still running", req.Supervisor)}
	}
	d.busy[key] = true
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.busy, key)
		d.mu.Unlock()
	}()
	rep := d.handle(ctx, req)
	if rep.Code == "" {
		rep.Code = command.OK
	}
	return rep
}

func (d *Desk) handle(ctx context.Context, req command.Request) command.Reply {
	in, err := d.calls.Call(req.Call)
	if err != nil {
		return fail(err)
	}
	dir := d.dir()
	group := dir.GroupOf(in.Callee, in.Group)
	base := audit.Entry{Supervisor: req.Supervisor, Call: in.ID, Agent: in.Callee, Group: group, Via: "cli"}

	// Anyone may take themselves off a call, even after losing the right to be on it.
	if err := dir.Check(req.Supervisor, group); err != nil && req.Op != command.Leave {
		e := base
		e.Action, e.Mode, e.Reason = audit.Denied, string(req.Op), err.Error()
		if aerr := d.audit.Write(ctx, e); aerr != nil {
			d.log.Error("a refused command was not audited", "err", aerr)
		}
		d.log.Warn("supervisor command refused", "supervisor", req.Supervisor, "call", in.ID, "op", req.Op, "err", err)
		return command.Reply{Code: command.CodeNotPermitted, Error: err.Error()}
	}

	switch {
	case req.Op.IsMode():
		return d.mode(ctx, req, in, base, dir)
	case req.Op == command.Leave:
		mi, ok := monitorOf(in, req.Supervisor)
		if !ok {
			return command.Reply{Code: command.CodeBadRequest, Error: fmt.Sprintf("%s is not on call %s", req.Supervisor, in.ID)}
		}
		e := base
		e.Action, e.Mode = audit.Leave, string(mi.Mode)
		if r, ok := d.audited(ctx, e); !ok {
			return r
		}
		if err := d.calls.RemoveMonitor(ctx, in.ID, mi.MemberID); err != nil {
			return fail(err)
		}
		return command.Reply{MemberID: mi.MemberID}
	case req.Op == command.Coach:
		if req.Text == "" || utf8.RuneCountInString(req.Text) > MaxCoachText {
			return command.Reply{Code: command.CodeBadRequest, Error: fmt.Sprintf("coaching text must be 1 to %d characters", MaxCoachText)}
		}
		e := base
		e.Action, e.Text = audit.Coach, req.Text
		if r, ok := d.audited(ctx, e); !ok {
			return r
		}
		heard, err := d.calls.WhisperToAgent(ctx, in.ID, req.Supervisor, req.Text)
		if err != nil {
			return fail(err)
		}
		return command.Reply{HeardBy: string(heard)}
	case req.Op == command.Hangup:
		e := base
		e.Action = audit.Hangup
		if r, ok := d.audited(ctx, e); !ok {
			return r
		}
		if err := d.calls.Hangup(ctx, in.ID); err != nil {
			return fail(err)
		}
		return command.Reply{}
	}
	return command.Reply{Code: command.CodeBadRequest, Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

func (d *Desk) mode(ctx context.Context, req command.Request, in callflow.Info, base audit.Entry, dir *access.Directory) command.Reply {
	mode := conference.Mode(req.Op)
	mi, joined := monitorOf(in, req.Supervisor)
	e := base
	e.Mode = string(mode)
	start := time.Now()
	if joined {
		if mi.Mode == mode {
			return command.Reply{MemberID: mi.MemberID, Mode: string(mode)}
		}
		e.Action = audit.Mode
		if r, ok := d.audited(ctx, e); !ok {
			return r
		}
		start = time.Now()
		if err := d.calls.SetMode(ctx, in.ID, mi.MemberID, mode); err != nil {
			return fail(err)
		}
		return command.Reply{MemberID: mi.MemberID, Mode: string(mode), ConfirmedMS: ms(time.Since(start))}
	}
	phone := req.Phone
	if phone == "" {
		if s, err := dir.Supervisor(req.Supervisor); err == nil {
			phone = s.Phone
		}
	}
	if phone == "" {
		return command.Reply{Code: command.CodeBadRequest, Error: fmt.Sprintf("no phone for %s: give --phone <dial-string> or set phone in the supervisors file", req.Supervisor)}
	}
	if err := access.ValidPhone(phone); err != nil {
		return command.Reply{Code: command.CodeBadRequest, Error: err.Error()}
	}
	e.Action, e.Phone = audit.Monitor, phone
	if r, ok := d.audited(ctx, e); !ok {
		return r
	}
	id, err := d.calls.AddMonitor(ctx, in.ID, req.Supervisor, phone, mode)
	if err != nil {
		return fail(err)
	}
	return command.Reply{MemberID: id, Mode: string(mode), ConfirmedMS: ms(time.Since(start))}
}

// audited writes e before its action; no entry, no action.
func (d *Desk) audited(ctx context.Context, e audit.Entry) (command.Reply, bool) {
	if err := d.audit.Write(ctx, e); err != nil {
		d.log.Error("action refused: it could not be audited", "supervisor", e.Supervisor, "call", e.Call, "action", e.Action, "err", err)
		return command.Reply{Code: command.CodeNoAudit, Error: "refused: the action could not be written to the audit stream: " + err.Error()}, false
	}
	return command.Reply{}, true
}

// monitorOf finds a supervisor among the call's monitors.
func monitorOf(in callflow.Info, name string) (callflow.MonitorInfo, bool) {
	for _, m := range in.Monitors {
		if m.Name == name {
			return m, true
		}
	}
	return callflow.MonitorInfo{}, false
}

func fail(err error) command.Reply {
	switch {
	case errors.Is(err, callflow.ErrUnknownCall):
		return command.Reply{Code: command.CodeUnknownCall, Error: err.Error()}
	case errors.Is(err, callflow.ErrNotConnected), errors.Is(err, conference.ErrNoAgent):
		return command.Reply{Code: command.CodeNotConnected, Error: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return command.Reply{Code: command.CodeFailed, Error: "timed out: " + err.Error()}
	}
	return command.Reply{Code: command.CodeFailed, Error: err.Error()}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// MonitorDigit switches a supervisor's mode from their keypad
// (callflow.Observer). It is audited like a command. Digits of one
// supervisor apply one at a time, in order, the latest winning: 3 then 1
// pressed quickly ends in spy.
func (d *Desk) MonitorDigit(callID string, mi callflow.MonitorInfo, digit string) {
	mode, ok := DTMFModes[digit]
	if !ok {
		return
	}
	key := fmt.Sprintf("%s\x00%d", callID, mi.MemberID)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	q := d.keypads[key]
	if q == nil {
		q = &keypad{}
		d.keypads[key] = q
	}
	q.want = mode
	if q.running {
		return // the running switch picks the latest digit up
	}
	q.running = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		for {
			d.mu.Lock()
			want := q.want
			if q.applied == want {
				q.running = false
				delete(d.keypads, key)
				d.mu.Unlock()
				return
			}
			d.mu.Unlock()
			d.switchByKeypad(callID, mi, want)
			d.mu.Lock()
			q.applied = want
			d.mu.Unlock()
		}
	}()
}

// keypad is one supervisor's pending keypad mode.
type keypad struct {
	want, applied conference.Mode
	running       bool
}

func (d *Desk) switchByKeypad(callID string, mi callflow.MonitorInfo, mode conference.Mode) {
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	in, err := d.calls.Call(callID)
	if err != nil {
		return
	}
	if cur, ok := monitorOf(in, mi.Name); !ok || cur.Mode == mode {
		return
	}
	dir := d.dir()
	group := dir.GroupOf(in.Callee, in.Group)
	e := audit.Entry{Supervisor: mi.Name, Call: callID, Agent: in.Callee, Group: group, Via: "dtmf", Action: audit.Mode, Mode: string(mode)}
	if err := dir.Check(mi.Name, group); err != nil {
		e.Action, e.Reason = audit.Denied, err.Error()
		_ = d.audit.Write(ctx, e)
		d.log.Warn("DTMF mode switch refused", "supervisor", mi.Name, "call", callID, "err", err)
		return
	}
	if _, ok := d.audited(ctx, e); !ok {
		return
	}
	if err := d.calls.SetMode(ctx, callID, mi.MemberID, mode); err != nil {
		d.log.Warn("DTMF mode switch failed", "supervisor", mi.Name, "call", callID, "mode", mode, "err", err)
		return
	}
	d.log.Info("supervisor switched mode by DTMF", "supervisor", mi.Name, "call", callID, "mode", mode)
}

// CallChanged closes the stretches of monitoring that ended: a mode
// switched or a supervisor gone (callflow.Observer).
func (d *Desk) CallChanged(in callflow.Info) { d.track(in, false) }

// CallEnded closes every stretch on the call (callflow.Observer).
func (d *Desk) CallEnded(in callflow.Info, _ string) { d.track(in, true) }

func (d *Desk) track(in callflow.Info, ended bool) {
	now := time.Now().UTC()
	cur := map[int]segment{}
	if !ended {
		for _, mi := range in.Monitors {
			cur[mi.MemberID] = segment{name: mi.Name, mode: string(mi.Mode), agent: in.Callee, group: in.Group, since: mi.Since}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	prev := d.open[in.ID]
	var done []audit.Entry
	for id, s := range prev {
		if c, ok := cur[id]; ok && c.mode == s.mode {
			continue
		}
		done = append(done, audit.Entry{Supervisor: s.name, Call: in.ID, Agent: s.agent, Group: d.dir().GroupOf(s.agent, s.group),
			Action: audit.Ended, Mode: s.mode, Since: s.since, Until: now})
	}
	if len(cur) == 0 {
		delete(d.open, in.ID)
	} else {
		d.open[in.ID] = cur
	}
	for _, e := range done {
		select {
		case d.ended <- e:
		default:
			d.log.Error("audit backlog full: an end of monitoring was not recorded", "supervisor", e.Supervisor, "call", e.Call, "mode", e.Mode)
		}
	}
}

// writeEnded writes the ends of monitoring, retrying while Redis is away.
func (d *Desk) writeEnded() {
	defer d.wg.Done()
	for e := range d.ended {
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := d.audit.Write(d.ctx, e)
			if err == nil {
				break
			}
			if d.ctx.Err() != nil {
				d.log.Error("end of monitoring not audited: stopping", "supervisor", e.Supervisor, "call", e.Call, "err", err)
				break
			}
			d.log.Warn("audit write failed; retrying", "err", err)
			select {
			case <-time.After(backoff):
			case <-d.ctx.Done():
			}
		}
	}
}
