package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/registry"
)

// `demo --live` is what the README's supervisor session runs against: two
// calls stay up, and the person running it may monitor them.
func TestDemoLiveKeepsCallsForSupervisors(t *testing.T) {
	rs := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dctx, stop := context.WithCancel(ctx)
	defer stop()
	out, errOut := &logbuf.Buffer{}, &logbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- demoCommand(dctx, []string{"--live", "--stt", "none", "--redis-addr", rs.Addr()}, out, errOut)
	}()

	var calls []registry.Record
	poll.Until(t, ctx, "two connected calls", func() bool {
		calls, _ = registry.Reader{Client: rs.Client()}.List(ctx)
		n := 0
		for _, c := range calls {
			if c.State == "CONNECTED" && c.Owner == "demo" {
				n++
			}
		}
		return n == 2
	})
	me := whoami()
	if me == "" {
		me = "supervisor"
	}
	rep, err := command.Client{Redis: rs.Client(), Timeout: 20 * time.Second}.Do(ctx, command.Request{Call: calls[0].ID[:8], Op: command.Whisper, Supervisor: me})
	if err != nil || rep.Mode != "whisper" {
		t.Fatalf("whisper as %s: %+v %v\n%s", me, rep, err, errOut.String())
	}
	if !strings.Contains(out.String(), "./controller watch <call>") {
		t.Fatalf("the demo does not say what to try:\n%s", out.String())
	}
	stop() // Ctrl-C
	if err := <-done; err != nil {
		t.Fatalf("demo --live ended with %v\n%s", err, errOut.String())
	}
	if left, _ := (registry.Reader{Client: rs.Client()}).List(ctx); len(left) != 0 {
		t.Fatalf("calls left in the registry after the demo: %+v", left)
	}
}
