package fakefs

import (
	"net"
	"strings"
	"testing"
	"time"
)

func TestOriginateResults(t *testing.T) {
	f := startFS(t, Options{})
	f.AddEndpoint("user/1001", Party{Behaviour: Answer})
	f.AddEndpoint("user/1002", Party{Behaviour: NoAnswer, RingFor: 50 * time.Millisecond})
	f.AddEndpoint("user/1003", Party{Behaviour: Unreachable, Cause: "NORMAL_TEMPORARY_FAILURE"})
	f.AddEndpoint("user/1004", Party{Behaviour: Busy})
	tests := []struct {
		cmd, want string
	}{
		{"originate {origination_uuid=11111111-2222-3333-4444-555555555555}user/1001 &park()", "+OK 11111111-2222-3333-4444-555555555555\n"},
		{"originate user/1002 &park()", "-ERR NO_ANSWER\n"},
		{"originate user/1003 &park()", "-ERR NORMAL_TEMPORARY_FAILURE\n"},
		{"originate user/1004 &park()", "-ERR USER_BUSY\n"},
		{"originate user/9999 &park()", "-ERR USER_NOT_REGISTERED\n"},
		{"originate {origination_uuid=11111111-2222-3333-4444-555555555555}user/1001 &park()", "-ERR DESTINATION_OUT_OF_ORDER\n"},
	}
	c := authed(t, f)
	ctx := testCtx(t, 10*time.Second)
	for _, tt := range tests {
		fr, _ := c.cmd(ctx, "api "+tt.cmd)
		if fr.body != tt.want {
			t.Errorf("%s: got %q want %q", tt.cmd, fr.body, tt.want)
		}
	}
	ch, ok := f.Channel("11111111-2222-3333-4444-555555555555")
	if !ok || !ch.Answered() {
		t.Fatalf("originated channel missing or not answered: %v", ok)
	}
	fr, _ := c.cmd(ctx, "api uuid_kill "+ch.UUID())
	if fr.body != "+OK\n" {
		t.Fatalf("uuid_kill: %q", fr.body)
	}
	select {
	case <-ch.Done():
	case <-ctx.Done():
		t.Fatal("channel not destroyed after uuid_kill")
	}
	if got := ch.HangupCause(); got != "NORMAL_CLEARING" {
		t.Errorf("hangup cause %q", got)
	}
}

func TestFaultHooks(t *testing.T) {
	f := startFS(t, Options{})
	ctx := testCtx(t, 5*time.Second)

	f.RefuseConnections(true)
	refused := dialRaw(t, f.ESLAddr())
	if fr, err := refused.next(ctx); err == nil {
		t.Fatalf("refused connection got %q", fr.raw)
	}
	f.RefuseConnections(false)

	c := authed(t, f)
	f.DelayReplies(150 * time.Millisecond)
	start := time.Now()
	fr, _ := c.cmd(ctx, "api status")
	if elapsed := time.Since(start); elapsed < 150*time.Millisecond {
		t.Errorf("reply after %v, want at least the 150ms delay", elapsed)
	}
	if !strings.HasPrefix(fr.body, "UP ") {
		t.Errorf("status %q", fr.body)
	}
	f.DelayReplies(0)

	other := authed(t, f)
	f.DropConnections()
	for _, cl := range []*rawClient{c, other} {
		if fr, err := cl.next(ctx); err == nil {
			t.Errorf("connection still open after DropConnections: %q", fr.raw)
		}
	}
	// New connections still work.
	authed(t, f)
}

// A bad client only loses its own connection.
func TestBadInputIsolated(t *testing.T) {
	f := startFS(t, Options{})
	ctx := testCtx(t, 5*time.Second)
	good := authed(t, f)
	bad := authed(t, f)
	bad.write("sendmsg\nContent-Length: 99999999999\n\n")
	if _, err := bad.next(ctx); err == nil {
		t.Fatal("bad frame accepted")
	}
	fr, _ := good.cmd(ctx, "api conference list")
	if fr.body != "+OK No active conferences.\n" {
		t.Fatalf("other connection affected: %q", fr.raw)
	}
}

// Closing the outbound socket does not hang the call up: the conference
// app goes on; the call ends when the member is kicked (the dialplan has
// nothing after the socket app).
func TestOutboundSocketCloseKeepsCall(t *testing.T) {
	f := startFS(t, Options{})
	ctx := testCtx(t, 10*time.Second)
	mon := authed(t, f)
	mon.cmd(ctx, "event plain CHANNEL_HANGUP CUSTOM conference::maintenance")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			acc <- nc
		}
	}()
	call, err := f.PlaceCall(ctx, InboundCall{From: "5551000", To: "5001", Socket: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	ctl := newRawClient(t, <-acc)
	if fr, _ := ctl.cmd(ctx, "connect"); fr.headers.get("Reply-Text") != "%2BOK%0A" || fr.event.get("Unique-ID") != call.UUID() {
		t.Fatalf("connect reply %q", fr.raw)
	}
	ctl.cmd(ctx, "sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true")
	ctl.cmd(ctx, "sendmsg\ncall-command: execute\nexecute-app-name: conference\nexecute-app-arg: keep@default\nevent-lock: true")
	add := mon.waitEvent(ctx, named("conference::maintenance/add-member"))
	member := add.event.get("Member-ID")
	ctl.nc.Close()

	fr, evs := mon.cmd(ctx, "api conference keep list")
	for _, ev := range evs {
		if ev.event.get("Event-Name") == "CHANNEL_HANGUP" {
			t.Fatal("the call hung up when its socket closed")
		}
	}
	if !strings.Contains(fr.body, call.UUID()) {
		t.Fatalf("caller left the conference when its socket closed: %q", fr.body)
	}
	if fr, _ := mon.cmd(ctx, "api conference keep kick "+member); fr.body != "+OK kicked "+member+"\n" {
		t.Fatalf("kick: %q", fr.body)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("call not ended after leaving the conference with no socket")
	}
}
