package supervision

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/callcoach/callcoach/access"
	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/conference"
)

// fakeCalls records what the desk asked of the calls.
type fakeCalls struct {
	mu      sync.Mutex
	info    callflow.Info
	actions []string
}

func (f *fakeCalls) did(a string) {
	f.mu.Lock()
	f.actions = append(f.actions, a)
	f.mu.Unlock()
}

func (f *fakeCalls) Call(id string) (callflow.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.info.ID {
		return callflow.Info{}, fmt.Errorf("%w: %s", callflow.ErrUnknownCall, id)
	}
	in := f.info // a snapshot, as the Manager gives
	in.Monitors = append([]callflow.MonitorInfo(nil), f.info.Monitors...)
	return in, nil
}
func (f *fakeCalls) AddMonitor(_ context.Context, _, name, dial string, mode conference.Mode) (int, error) {
	f.did("add " + name + " " + dial + " " + string(mode))
	return 7, nil
}
func (f *fakeCalls) SetMode(_ context.Context, _ string, id int, mode conference.Mode) error {
	f.did(fmt.Sprintf("mode %d %s", id, mode))
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.info.Monitors {
		if f.info.Monitors[i].MemberID == id {
			f.info.Monitors[i].Mode = mode
		}
	}
	return nil
}
func (f *fakeCalls) RemoveMonitor(_ context.Context, _ string, id int) error {
	f.did(fmt.Sprintf("remove %d", id))
	return nil
}
func (f *fakeCalls) WhisperToAgent(_ context.Context, _, source, text string) (conference.Audience, error) {
	f.did("whisper " + source + ": " + text)
	return conference.HeardByAgent, nil
}
func (f *fakeCalls) Hangup(context.Context, string) error { f.did("hangup"); return nil }

// fakeAudit keeps entries, or fails every write.
type fakeAudit struct {
	mu      sync.Mutex
	fail    bool
	entries []audit.Entry
}

func (a *fakeAudit) Write(_ context.Context, e audit.Entry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return audit.ErrUnavailable
	}
	a.entries = append(a.entries, e)
	return nil
}

const dirYAML = `supervisors:
  alice: {groups: [sales], phone: user/2001}
  eve:   {groups: [billing]}
agents: {"1001": sales}
`

func TestDeskChecksAndAuditsBeforeActing(t *testing.T) {
	dir, err := access.Parse([]byte(dirYAML))
	if err != nil {
		t.Fatal(err)
	}
	whispering := []callflow.MonitorInfo{{Name: "alice", MemberID: 7, Mode: conference.Whisper, Since: time.Now()}}
	tests := []struct {
		name      string
		req       command.Request
		monitors  []callflow.MonitorInfo
		auditDown bool
		code      command.Code
		action    string // what reached the call, "" for nothing
		audited   string // the audit entry's action
	}{
		{"join with the phone from the file", command.Request{Op: command.Whisper, Supervisor: "alice"}, nil, false, command.OK, "add alice user/2001 whisper", audit.Monitor},
		{"--phone wins", command.Request{Op: command.Spy, Supervisor: "alice", Phone: "sofia/gw/555"}, nil, false, command.OK, "add alice sofia/gw/555 spy", audit.Monitor},
		{"a phone that smuggles in an application", command.Request{Op: command.Spy, Supervisor: "alice", Phone: "user/2001 &eavesdrop(all)"}, nil, false, command.CodeBadRequest, "", ""},
		{"a phone with channel variables", command.Request{Op: command.Spy, Supervisor: "alice", Phone: "{absolute_codec_string=PCMU}user/2001"}, nil, false, command.CodeBadRequest, "", ""},
		{"switch when on the call", command.Request{Op: command.Barge, Supervisor: "alice"}, whispering, false, command.OK, "mode 7 barge", audit.Mode},
		{"the same mode again is a no-op", command.Request{Op: command.Whisper, Supervisor: "alice"}, whispering, false, command.OK, "", ""},
		{"another group's supervisor", command.Request{Op: command.Spy, Supervisor: "eve"}, nil, false, command.CodeNotPermitted, "", audit.Denied},
		{"nobody of that name", command.Request{Op: command.Hangup, Supervisor: "mallory"}, nil, false, command.CodeNotPermitted, "", audit.Denied},
		{"coach", command.Request{Op: command.Coach, Supervisor: "alice", Text: "Offer a callback"}, nil, false, command.OK, "whisper alice: Offer a callback", audit.Coach},
		{"coach without text", command.Request{Op: command.Coach, Supervisor: "alice"}, nil, false, command.CodeBadRequest, "", ""},
		{"leave", command.Request{Op: command.Leave, Supervisor: "alice"}, whispering, false, command.OK, "remove 7", audit.Leave},
		{"leave after losing the right to be on the call", command.Request{Op: command.Leave, Supervisor: "eve"},
			[]callflow.MonitorInfo{{Name: "eve", MemberID: 8, Mode: conference.Spy}}, false, command.OK, "remove 8", audit.Leave},
		{"leave when not on the call", command.Request{Op: command.Leave, Supervisor: "alice"}, nil, false, command.CodeBadRequest, "", ""},
		{"hangup", command.Request{Op: command.Hangup, Supervisor: "alice"}, nil, false, command.OK, "hangup", audit.Hangup},
		{"unknown call", command.Request{Op: command.Hangup, Supervisor: "alice", Call: "nope"}, nil, false, command.CodeUnknownCall, "", ""},
		// No audit entry, no action: monitoring cannot escape the record.
		{"audit down: no join", command.Request{Op: command.Barge, Supervisor: "alice"}, nil, true, command.CodeNoAudit, "", ""},
		{"audit down: no switch", command.Request{Op: command.Spy, Supervisor: "alice"}, whispering, true, command.CodeNoAudit, "", ""},
		{"audit down: no coaching", command.Request{Op: command.Coach, Supervisor: "alice", Text: "hi"}, nil, true, command.CodeNoAudit, "", ""},
		{"audit down: no hangup", command.Request{Op: command.Hangup, Supervisor: "alice"}, nil, true, command.CodeNoAudit, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := &fakeCalls{info: callflow.Info{ID: "call-1", Callee: "1001", Monitors: append([]callflow.MonitorInfo(nil), tc.monitors...)}}
			aud := &fakeAudit{fail: tc.auditDown}
			d := NewDesk(DeskOptions{Calls: calls, Directory: func() *access.Directory { return dir }, Audit: aud, Controller: "ctl"})
			defer d.Close()
			if tc.req.Call == "" {
				tc.req.Call = "call-1"
			}
			rep := d.Handle(context.Background(), tc.req)
			if rep.Code != tc.code {
				t.Fatalf("code %s (%s), want %s", rep.Code, rep.Error, tc.code)
			}
			var did string
			if len(calls.actions) > 0 {
				did = calls.actions[0]
			}
			if did != tc.action || len(calls.actions) > 1 {
				t.Fatalf("the call got %q, want %q", calls.actions, tc.action)
			}
			var got string
			if len(aud.entries) > 0 {
				e := aud.entries[0]
				got = e.Action
				if e.Supervisor != tc.req.Supervisor || e.Call != "call-1" || e.Agent != "1001" || e.Group != "sales" || e.Via != "cli" {
					t.Fatalf("audit entry %+v", e)
				}
			}
			if got != tc.audited {
				t.Fatalf("audited %q, want %q", got, tc.audited)
			}
		})
	}
}

// The end of each stretch of monitoring is audited with since and until,
// whether the mode changed, the supervisor left or the call ended.
func TestDeskAuditsTheEndsOfMonitoring(t *testing.T) {
	aud := &fakeAudit{}
	d := NewDesk(DeskOptions{Calls: &fakeCalls{}, Audit: aud})
	t0 := time.Now().UTC().Add(-time.Minute)
	in := callflow.Info{ID: "c", Callee: "1001", Monitors: []callflow.MonitorInfo{{Name: "alice", MemberID: 7, Mode: conference.Spy, Since: t0}}}
	d.CallChanged(in)
	d.CallChanged(in) // nothing changed
	in.Monitors = []callflow.MonitorInfo{{Name: "alice", MemberID: 7, Mode: conference.Barge, Since: t0.Add(time.Second)},
		{Name: "bob", MemberID: 9, Mode: conference.Whisper, Since: t0.Add(time.Second)}}
	d.CallChanged(in)
	in.Monitors = in.Monitors[1:]
	d.CallChanged(in)
	d.CallEnded(in, "caller hung up")
	d.Close() // writes what is queued
	var got []string
	for _, e := range aud.entries {
		if e.Action != audit.Ended || e.Since.IsZero() || e.Until.Before(e.Since) {
			t.Fatalf("entry %+v", e)
		}
		got = append(got, e.Supervisor+" "+e.Mode)
	}
	want := fmt.Sprint([]string{"alice spy", "alice barge", "bob whisper"})
	if fmt.Sprint(got) != want {
		t.Fatalf("ended entries %v, want %v", got, want)
	}
}

func TestDTMFSwitchesModeAudited(t *testing.T) {
	dir, _ := access.Parse([]byte(dirYAML))
	alice := callflow.MonitorInfo{Name: "alice", MemberID: 7, Mode: conference.Spy}
	calls := &fakeCalls{info: callflow.Info{ID: "c", Callee: "1001", Monitors: []callflow.MonitorInfo{alice}}}
	aud := &fakeAudit{}
	d := NewDesk(DeskOptions{Calls: calls, Directory: func() *access.Directory { return dir }, Audit: aud})
	d.MonitorDigit("c", alice, "9") // not a mode key
	d.MonitorDigit("c", alice, "1") // already in spy
	d.MonitorDigit("c", alice, "2")
	d.Close()
	if fmt.Sprint(calls.actions) != "[mode 7 whisper]" {
		t.Fatalf("actions %v", calls.actions)
	}
	if len(aud.entries) != 1 || aud.entries[0].Via != "dtmf" || aud.entries[0].Mode != "whisper" {
		t.Fatalf("audit %+v", aud.entries)
	}
}

// 3 then 1 pressed quickly: the supervisor ends in spy, whatever the timing.
func TestDTMFLatestDigitWins(t *testing.T) {
	dir, _ := access.Parse([]byte(dirYAML))
	for range 20 {
		alice := callflow.MonitorInfo{Name: "alice", MemberID: 7, Mode: conference.Spy}
		calls := &fakeCalls{info: callflow.Info{ID: "c", Callee: "1001", Monitors: []callflow.MonitorInfo{alice}}}
		d := NewDesk(DeskOptions{Calls: calls, Directory: func() *access.Directory { return dir }, Audit: &fakeAudit{}})
		d.MonitorDigit("c", alice, "3")
		d.MonitorDigit("c", alice, "1")
		d.Close()
		in, _ := calls.Call("c")
		if m, _ := monitorOf(in, "alice"); m.Mode != conference.Spy {
			t.Fatalf("ended in %s after 3, 1 (actions %v)", m.Mode, calls.actions)
		}
	}
}

// Two quick commands of one supervisor on one call: the second is refused
// while the first runs, so two phones are never dialled.
func TestDeskOneCommandAtATimePerSupervisor(t *testing.T) {
	dir, _ := access.Parse([]byte(dirYAML))
	gate := make(chan struct{})
	calls := &gatedCalls{fakeCalls: fakeCalls{info: callflow.Info{ID: "c", Callee: "1001"}}, entered: make(chan struct{}), gate: gate}
	d := NewDesk(DeskOptions{Calls: calls, Directory: func() *access.Directory { return dir }, Audit: &fakeAudit{}})
	defer d.Close()
	first := make(chan command.Reply, 1)
	go func() {
		first <- d.Handle(context.Background(), command.Request{Call: "c", Op: command.Whisper, Supervisor: "alice"})
	}()
	<-calls.entered // the first is dialling
	if rep := d.Handle(context.Background(), command.Request{Call: "c", Op: command.Whisper, Supervisor: "alice"}); rep.Code != command.CodeBadRequest {
		t.Fatalf("second command: %+v", rep)
	}
	close(gate)
	if rep := <-first; rep.Code != command.OK {
		t.Fatalf("first command: %+v", rep)
	}
	if rep := d.Handle(context.Background(), command.Request{Call: "c", Op: command.Hangup, Supervisor: "alice"}); rep.Code != command.OK {
		t.Fatalf("a command after the first finished: %+v", rep)
	}
}

type gatedCalls struct {
	fakeCalls
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedCalls) AddMonitor(ctx context.Context, id, name, dial string, mode conference.Mode) (int, error) {
	close(g.entered)
	<-g.gate
	return g.fakeCalls.AddMonitor(ctx, id, name, dial, mode)
}
