package esl

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/internal/capture"
)

// capturedLabels lists the events and notices of a capture as labels, read
// with regular expressions rather than this package's parser, so the
// parser is checked against something independent.
func capturedLabels(blocks []capture.Block) []string {
	name := regexp.MustCompile(`(?m)^Event-Name: (\S+)$`)
	sub := regexp.MustCompile(`(?m)^Event-Subclass: (\S+)$`)
	action := regexp.MustCompile(`(?m)^Action: (\S+)$`)
	disp := regexp.MustCompile(`(?m)^Content-Disposition: (\S+)$`)
	var out []string
	for _, b := range blocks {
		if b.Dir != capture.FSToApp {
			continue
		}
		for _, f := range strings.SplitAfter(string(b.Data), "Content-Type: text/event-plain\n\n")[1:] {
			out = append(out, label(name, sub, action, f))
		}
		if strings.Contains(string(b.Data), "Content-Type: text/disconnect-notice") {
			d := "exit"
			if m := disp.FindStringSubmatch(string(b.Data)); m != nil {
				d = m[1]
			}
			out = append(out, "notice "+d)
		}
	}
	return out
}

func label(name, sub, action *regexp.Regexp, s string) string {
	// Only the event's own headers, not the next frame's.
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	l := ""
	if m := name.FindStringSubmatch(s); m != nil {
		l = m[1]
	}
	if m := sub.FindStringSubmatch(s); m != nil {
		v, _ := url.PathUnescape(m[1])
		l += " " + v
	}
	if m := action.FindStringSubmatch(s); m != nil {
		l += " " + m[1]
	}
	return l
}

func eventLabel(ev *Event) string {
	if n, ok := ev.Disconnect(); ok {
		if n.Disposition == "" {
			return "notice exit"
		}
		return "notice " + n.Disposition
	}
	l := ev.Name()
	if s := ev.Subclass(); s != "" {
		l += " " + s
	}
	if a := ev.Get("Action"); a != "" {
		l += " " + a
	}
	return l
}

// listenReplay accepts one connection and replays the capture on it.
func listenReplay(t *testing.T, blocks []capture.Block) (string, <-chan *replayPeer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	peers := make(chan *replayPeer, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(peers)
			return
		}
		peers <- startReplay(blocks, c)
	}()
	return ln.Addr().String(), peers
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type step struct {
	kind string // api, bgapi, cmd
	cmd  string
	err  error  // errors.Is target; nil: success
	want string // prefix of the answer
}

// errAny accepts any error: a -ERR FreeSWITCH has no fixed meaning for.
var errAny = errors.New("any error")

type commander interface {
	API(ctx context.Context, cmd string) (string, error)
	BgAPI(ctx context.Context, cmd string) (string, error)
}

func runSteps(ctx context.Context, t *testing.T, c commander, steps []step) {
	t.Helper()
	for _, s := range steps {
		var got string
		var err error
		switch s.kind {
		case "api":
			got, err = c.API(ctx, s.cmd)
		case "bgapi":
			got, err = c.BgAPI(ctx, s.cmd)
		case "cmd":
			got, err = c.(*Conn).Command(ctx, s.cmd)
		}
		switch {
		case s.err == nil && err != nil:
			t.Errorf("%s %s: %v", s.kind, s.cmd, err)
		case s.err == errAny && err == nil:
			t.Errorf("%s %s: no error", s.kind, s.cmd)
		case s.err != nil && s.err != errAny && !errors.Is(err, s.err):
			t.Errorf("%s %s: error %v, want %v", s.kind, s.cmd, err, s.err)
		case !strings.HasPrefix(got, s.want):
			t.Errorf("%s %s: answer %q, want prefix %q", s.kind, s.cmd, got, s.want)
		}
	}
}

func TestReplayInbound1Conference(t *testing.T) {
	ctx := testContext(t)
	blocks := loadCapture(t, "esl-inbound1.txt")
	addr, peers := listenReplay(t, blocks)
	c, err := Dial(ctx, ClientOptions{Addr: addr, Password: "ClueCon", Events: []string{
		"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "BACKGROUND_JOB",
		"conference::maintenance", "mod_audio_fork::connect", "mod_audio_fork::connect_failed",
		"mod_audio_fork::disconnect", "mod_audio_fork::play_audio", "mod_audio_fork::error",
		"mod_audio_fork::buffer_overrun", "mod_audio_fork::json"}})
	if err != nil {
		t.Fatal(err)
	}
	sub := c.Subscribe(nil)
	peer := <-peers
	runSteps(ctx, t, c, []step{
		{"api", "conference list", nil, "+OK No active conferences."},
		{"api", "conference nosuch list", ErrConferenceNotFound, "-ERR Conference nosuch not found"},
		{"bgapi", "originate {origination_caller_id_number=5551000,cc_role=caller}loopback/7440/lab &conference(lab1@default)", nil, "+OK "},
		{"bgapi", "originate {origination_caller_id_number=2001,cc_role=agent}loopback/7880/lab &conference(lab1@default)", nil, "+OK "},
		{"api", "conference lab1 list", nil, "6;loopback/7880-a;"},
		{"api", "conference lab1 json_list", nil, "[{"},
		{"api", "conference lab1 mute 5", nil, "+OK mute 5"},
		{"api", "conference lab1 unmute 5", nil, "+OK unmute 5"},
		{"api", "conference lab1 deaf 5", nil, "+OK deaf 5"},
		{"api", "conference lab1 undeaf 5", nil, "+OK undeaf 5"},
		{"api", "conference lab1 relate 5 6 nospeak", nil, "+OK 5->6 nospeak set"},
		{"api", "conference lab1 relate 5 6", nil, "relate <member_id>"},
		{"api", "conference lab1 relate 5 6 nohear", nil, "+OK 5->6 nohear set"},
		{"api", "conference lab1 relate 5 6 clear", nil, "+OK relationship 5->6 cleared."},
		{"api", "conference lab1 relate 999 6 nospeak", ErrRelationshipNotFound, "-ERR"},
		{"api", "conference lab1 mute 999", ErrMemberNotFound, "-ERR Non-Existant ID 999"},
		{"api", "conference lab1 play tone_stream://%(500,0,1000) 6", nil, "+OK (play) Playing file tone_stream://%(500,0,1000) to member 6"},
		{"api", "conference lab1 play tone_stream://%(500,0,1000)", nil, "+OK (play) Playing file"},
		{"api", "conference lab1 saymember 6 hello agent", nil, "+OK (saymember) OK"},
		{"api", "conference lab1 say hello everyone", errAny, "-ERR (say) Error!"},
		{"api", "conference lab1 kick 5", nil, "+OK kicked 5"},
		{"api", "conference lab1 list", nil, "6;"},
		{"api", "hupall NORMAL_CLEARING", nil, "+OK hangup all channels"},
		{"api", "conference lab1 list", ErrConferenceNotFound, "-ERR"},
		{"api", "nosuchcommand", ErrCommandNotFound, "-ERR"},
	})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
	var got []string
	for ev := range sub.C() {
		got = append(got, eventLabel(ev))
	}
	want := capturedLabels(blocks)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events differ from the capture:\n got %d: %q\nwant %d: %q", len(got), got, len(want), want)
	}
}

func TestReplayInbound2OriginateFailures(t *testing.T) {
	ctx := testContext(t)
	blocks := loadCapture(t, "esl-inbound2.txt")
	// The capture goes on with a blocking originate that held the
	// connection until the tool gave up (nothing answered it): replay
	// everything FreeSWITCH sent, but only the commands before that.
	var upTo []capture.Block
	blocking := false
	for _, b := range blocks {
		if b.Dir == capture.AppToFS && strings.HasPrefix(string(b.Data), "api originate") {
			blocking = true
		}
		if blocking && b.Dir == capture.AppToFS {
			continue
		}
		upTo = append(upTo, b)
	}
	addr, peers := listenReplay(t, upTo)
	c, err := Dial(ctx, ClientOptions{Addr: addr, Password: "ClueCon", Events: []string{"BACKGROUND_JOB", "CHANNEL_HANGUP_COMPLETE"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	peer := <-peers
	for range 3 { // auth, event, …
		if got := <-peer.read; strings.HasPrefix(got, "event") {
			break
		}
	}
	busy := make(chan error, 1)
	go func() {
		_, err := c.BgAPI(ctx, "originate {origination_caller_id_number=2001}loopback/6002/lab &park()")
		busy <- err
	}()
	<-peer.read // the first bgapi is on the wire: send the second, as the capture did
	_, errNoAnswer := c.BgAPI(ctx, "originate {originate_timeout=3}loopback/6001/lab &park()")
	if errBusy := <-busy; !errors.Is(errBusy, ErrUserBusy) {
		t.Errorf("busy party: %v, want ErrUserBusy", errBusy)
	}
	var cause *CauseError
	if !errors.As(errNoAnswer, &cause) || cause.Cause != "NO_ANSWER" || !errors.Is(errNoAnswer, ErrNoAnswer) {
		t.Errorf("party that never answers: %v, want NO_ANSWER", errNoAnswer)
	}
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
}

func TestReplayInbound3Errors(t *testing.T) {
	ctx := testContext(t)
	blocks := loadCapture(t, "esl-inbound3.txt")
	addr, peers := listenReplay(t, blocks)
	// This session never subscribes to events, so it is driven on a bare
	// connection rather than a Client.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := newConn(nc, connOptions{})
	peer := <-peers
	<-c.authRequest
	if _, err := c.Command(ctx, "auth ClueCon"); err != nil {
		t.Fatal(err)
	}
	runSteps(ctx, t, c, []step{
		{"api", "originate {originate_timeout=3}loopback/6001/lab &park()", ErrNoAnswer, "-ERR NO_ANSWER"},
		{"api", "originate sofia/gateway/nosuch/123 &park()", ErrChanNotImplemented, "-ERR"},
		{"api", "originate loopback/7440/nosuchcontext &park()", ErrNoRouteDestination, "-ERR"},
		{"api", "uuid_kill 00000000-0000-0000-0000-000000000000", ErrNoSuchChannel, "-ERR"},
		{"api", "uuid_audio_fork 00000000-0000-0000-0000-000000000000 start ws://127.0.0.1:1/x mono 16k {}", ErrOperationFailed, "-ERR"},
		{"api", "uuid_broadcast 00000000-0000-0000-0000-000000000000 /tmp/x.wav aleg", ErrInvalidUUID, "-ERR"},
		{"api", "conference", nil, "<conf name>"},
		{"cmd", "bogus command here", ErrCommandNotFound, "-ERR"},
		{"cmd", "api", ErrCommandNotFound, "-ERR"},
		{"cmd", "exit", nil, "+OK bye"},
	})
	<-c.Done()
	if !errors.Is(c.Err(), io.EOF) {
		t.Errorf("after exit: %v, want EOF", c.Err())
	}
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
