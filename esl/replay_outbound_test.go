package esl

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/internal/capture"
)

// serveReplay starts a Server with handler and makes the replay peer dial it,
// as FreeSWITCH's socket application does.
func serveReplay(t *testing.T, blocks []capture.Block, handler func(ctx context.Context, c *Call)) *replayPeer {
	t.Helper()
	ctx := testContext(t)
	srv := &Server{Handler: handler}
	addr, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	return startReplay(blocks, nc)
}

func collect(c *Call) []*Event {
	var evs []*Event
	for ev := range c.Events() {
		evs = append(evs, ev)
	}
	return evs
}

func labels(evs []*Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = eventLabel(ev)
	}
	return out
}

func TestReplayOutbound2CallerHangsUpWithLinger(t *testing.T) {
	blocks := loadCapture(t, "esl-outbound2.txt")
	type result struct {
		data       *Event
		answer     *Event
		conference *Event
		confErr    error
		events     []*Event
		err        error
	}
	res := make(chan result, 1)
	peer := serveReplay(t, blocks, func(ctx context.Context, c *Call) {
		r := result{data: c.Data()}
		defer func() { res <- r }()
		if r.err = c.MyEvents(ctx); r.err != nil {
			return
		}
		if r.err = c.Linger(ctx, 5e9); r.err != nil {
			return
		}
		if r.answer, r.err = c.Execute(ctx, "answer", ""); r.err != nil {
			return
		}
		x, err := c.ExecuteAsync(ctx, "conference", "cc-lab2@default+flags{endconf|mute}")
		if r.err = err; err != nil {
			return
		}
		r.conference, r.confErr = x.Wait(ctx)
		r.events = collect(c)
	})
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	for name, want := range map[string]string{
		"Channel-Destination-Number": "5002",
		"Channel-Caller-ID-Number":   "5551001",
		"Reply-Text":                 "+OK\n",
	} {
		if got := r.data.Get(name); got != want {
			t.Errorf("channel data %s = %q, want %q", name, got, want)
		}
	}
	if r.answer.Get("Application") != "answer" {
		t.Errorf("answer completed with %q", eventLabel(r.answer))
	}
	if r.confErr != nil || r.conference.Get("Application") != "conference" {
		t.Errorf("conference: %v %v", r.conference, r.confErr)
	}
	got, want := labels(r.events), capturedLabels(blocks)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	var notices []DisconnectNotice
	var lastSeq uint64
	for _, ev := range r.events {
		if n, ok := ev.Disconnect(); ok {
			notices = append(notices, n)
			continue
		}
		if s := ev.Sequence(); s <= lastSeq {
			t.Errorf("Event-Sequence %d after %d", s, lastSeq)
		} else {
			lastSeq = s
		}
	}
	if len(notices) != 2 || notices[0].Disposition != DispositionLinger || notices[0].LingerTime != 5 ||
		notices[1].Disposition != DispositionDisconnect || notices[0].ChannelUUID != r.data.Get("Unique-ID") {
		t.Errorf("disconnect notices %+v", notices)
	}
}

func TestReplayOutbound4HangupWhileInConference(t *testing.T) {
	blocks := loadCapture(t, "esl-outbound4-hangup-queued.txt")
	type result struct {
		confErr error
		events  []*Event
		err     error
	}
	res := make(chan result, 1)
	peer := serveReplay(t, blocks, func(ctx context.Context, c *Call) {
		var r result
		defer func() { res <- r }()
		if r.err = c.MyEvents(ctx); r.err != nil {
			return
		}
		if r.err = c.Linger(ctx, 2e9); r.err != nil {
			return
		}
		if _, r.err = c.Execute(ctx, "answer", ""); r.err != nil {
			return
		}
		x, err := c.ExecuteAsync(ctx, "conference", "cc-lock@default")
		if r.err = err; err != nil {
			return
		}
		// What the capture shows not to work: a queued hangup.
		if _, r.err = c.command(ctx, "sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n", "sendmsg hangup"); r.err != nil {
			return
		}
		if r.err = c.Hangup(ctx, ""); r.err != nil {
			return
		}
		_, r.confErr = x.Wait(ctx)
		r.events = collect(c)
	})
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.confErr != nil {
		t.Errorf("conference: %v", r.confErr)
	}
	got, want := labels(r.events), capturedLabels(blocks)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
}

func TestReplayOutbound3BackgroundJobOnCallSocket(t *testing.T) {
	blocks := loadCapture(t, "esl-outbound3.txt")
	res := make(chan error, 1)
	var status []string
	peer := serveReplay(t, blocks, func(ctx context.Context, c *Call) {
		res <- func() error {
			if err := c.MyEvents(ctx); err != nil {
				return err
			}
			for range 2 {
				if err := c.Listen(ctx, "BACKGROUND_JOB"); err != nil {
					return err
				}
				s, err := c.BgAPI(ctx, "status")
				if err != nil {
					return err
				}
				status = append(status, s)
				if len(status) == 1 {
					if _, err := c.Command(ctx, "noevents"); err != nil {
						return err
					}
				}
			}
			_, err := c.command(ctx, "sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n", "sendmsg hangup")
			return err
		}()
		collect(c)
	})
	if err := peer.wait(); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	for _, s := range status {
		if !strings.HasPrefix(s, "UP 0 years") {
			t.Errorf("bgapi status = %q", s)
		}
	}
}
