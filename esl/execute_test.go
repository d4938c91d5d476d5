package esl

import (
	"context"
	"errors"
	"regexp"
	"testing"
)

var eventUUIDRE = regexp.MustCompile(`Event-UUID: (\S+)`)

// An execution ends with its own CHANNEL_EXECUTE_COMPLETE, with ErrHangup
// when the channel hangs up first, or with ErrClosed when the socket goes —
// whichever comes first, and exactly once.
func TestExecutionOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		end   func(p *pipePeer, appUUID string)
		check func(ev *Event, err error) bool
	}{
		{"completed", func(p *pipePeer, appUUID string) {
			p.event(t, "Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: u1\nApplication: playback\nApplication-UUID: other\nEvent-Sequence: 1")
			p.event(t, "Event-Name: CHANNEL_EXECUTE_COMPLETE\nUnique-ID: u1\nApplication: playback\nApplication-UUID: "+appUUID+"\nApplication-Response: FILE%20PLAYED\nEvent-Sequence: 2")
		}, func(ev *Event, err error) bool { return err == nil && ev.Get("Application-Response") == "FILE PLAYED" }},
		{"hung up first", func(p *pipePeer, appUUID string) {
			p.event(t, "Event-Name: CHANNEL_HANGUP_COMPLETE\nUnique-ID: u1\nHangup-Cause: NORMAL_CLEARING\nEvent-Sequence: 1")
		}, func(ev *Event, err error) bool { return errors.Is(err, ErrHangup) && ev == nil }},
		{"socket closed", func(p *pipePeer, appUUID string) {
			p.Close()
		}, func(ev *Event, err error) bool { return errors.Is(err, ErrClosed) && ev == nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type outcome struct {
				ev  *Event
				err error
			}
			out := make(chan outcome, 1)
			queued := make(chan *Execution, 1)
			srv := &Server{Handler: func(ctx context.Context, c *Call) {
				if err := c.MyEvents(ctx); err != nil {
					out <- outcome{err: err}
					return
				}
				x, err := c.ExecuteAsync(ctx, "playback", "/tmp/x.wav")
				if err != nil {
					out <- outcome{err: err}
					return
				}
				queued <- x
				ev, err := x.Result()
				out <- outcome{ev, err}
			}}
			addr, _ := startServer(t, srv)
			defer srv.Close()
			p := dialAsFreeSWITCH(t, addr, "u1")
			if got := p.command(t); got != "myevents" {
				t.Fatalf("got %q", got)
			}
			p.Write([]byte("Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"))
			raw, err := readCommand(p.br)
			if err != nil {
				t.Fatal(err)
			}
			m := eventUUIDRE.FindSubmatch(raw)
			if m == nil {
				t.Fatalf("sendmsg without Event-UUID: %q", raw)
			}
			p.Write([]byte("Content-Type: command/reply\nReply-Text: +OK\n\n"))
			x := <-queued
			tt.end(p, string(m[1]))
			var o outcome
			select {
			case o = <-out:
			case <-testContext(t).Done():
				t.Fatal("the execution never ended")
			}
			if !tt.check(o.ev, o.err) {
				t.Fatalf("outcome %v %v", o.ev, o.err)
			}
			select {
			case <-x.Done():
			default:
				t.Fatal("Done not closed with the result")
			}
		})
	}
}
