package callflow_test

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/poll"
)

// Each way a call can go wrong ends in CLOSED with a clear reason and log
// line, leaves no channel the controller should have ended, and no
// goroutine behind.
func TestCallsThatGoWrong(t *testing.T) {
	tests := []struct {
		name     string
		cfg      callflow.Config
		agent    *fakefs.Party // nil: no such endpoint
		drive    func(h *harness, caller *fakefs.Channel, id string)
		reason   string // prefix of CLOSED's reason
		log      string // a line the operator sees
		message  bool   // the caller heard the no-agent message
		survives bool   // the call goes on in FreeSWITCH, unmonitored
	}{
		{
			name:    "agent busy",
			agent:   &fakefs.Party{Behaviour: fakefs.Busy, RingFor: 100 * time.Millisecond},
			reason:  "agent_busy",
			log:     "agent not reached",
			message: true,
		},
		{
			name:    "agent does not answer",
			cfg:     callflow.Config{AgentTimeout: time.Second},
			agent:   &fakefs.Party{Behaviour: fakefs.NoAnswer},
			reason:  "agent_no_answer",
			log:     "agent not reached",
			message: true,
		},
		{
			name:    "agent unreachable",
			reason:  "agent_unreachable",
			log:     "agent not reached",
			message: true,
		},
		{
			name:  "caller hangs up during the greeting",
			cfg:   callflow.Config{Greeting: "Thank you for calling. All our calls are recorded and coached for quality and training purposes. Please hold."},
			agent: &fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, amplitude)},
			drive: func(h *harness, caller *fakefs.Channel, id string) {
				h.state(bus.StateAnswered)
				caller.Hangup("NORMAL_CLEARING")
			},
			reason: "caller hung up during the greeting",
			log:    "caller hung up during the greeting",
		},
		{
			name:  "caller hangs up while the agent rings",
			agent: &fakefs.Party{Behaviour: fakefs.Answer, RingFor: time.Minute, Source: mixer.Tone(880, amplitude)},
			drive: func(h *harness, caller *fakefs.Channel, id string) {
				agent := h.channelWith("cc_role", "agent")
				caller.Hangup("NORMAL_CLEARING")
				select {
				case <-agent.Done():
				case <-h.ctx.Done():
					h.t.Fatal("the ringing agent leg was left behind")
				}
			},
			reason: "caller hung up while the agent was ringing",
			log:    "caller hung up while the agent was ringing",
		},
		{
			name:  "FreeSWITCH drops the event sockets mid-call",
			agent: &fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, amplitude)},
			drive: func(h *harness, caller *fakefs.Channel, id string) {
				h.state(bus.StateConnected)
				h.fs.DropConnections()
			},
			reason:   "esl_",
			log:      "the call continues in FreeSWITCH unmonitored",
			survives: true,
		},
		{
			name:  "the analyzer's websocket is cut mid-call",
			agent: &fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, amplitude)},
			drive: func(h *harness, caller *fakefs.Channel, id string) {
				h.state(bus.StateConnected)
				poll.Until(h.t, h.ctx, "the fork", func() bool {
					in, err := h.mgr.Call(id)
					return err == nil && in.Pipeline != nil && in.Pipeline.Frames > 10
				})
				if n := h.proxy.cut(); n != 1 {
					h.t.Errorf("cut %d websocket connections, want 1", n)
				}
				// The controller restarts the fork once: audio flows again.
				poll.Until(h.t, h.ctx, "the fork to be restarted", func() bool {
					return strings.Count(h.logs.String(), `msg="audio fork connected"`) == 2
				})
				poll.Until(h.t, h.ctx, "audio on the new fork", func() bool {
					in, err := h.mgr.Call(id)
					return err == nil && in.Pipeline != nil && in.Pipeline.Frames > 10
				})
				caller.Hangup("NORMAL_CLEARING")
			},
			reason: "caller hung up",
			log:    "analyzer websocket lost; restarting the fork once",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.cfg)
			if tt.agent != nil {
				h.fs.AddEndpoint("user/5001", *tt.agent)
			}
			base := runtime.NumGoroutine()
			caller := h.call("5001", mixer.Tone(440, amplitude))
			rec, err := caller.Record()
			if err != nil {
				t.Fatal(err)
			}
			id, _ := h.state(bus.StatePending)
			if tt.drive != nil {
				tt.drive(h, caller, id)
			}
			_, closed := h.state(bus.StateClosed)
			if !strings.HasPrefix(closed.Reason, tt.reason) {
				t.Errorf("CLOSED because %q, want %q", closed.Reason, tt.reason)
			}
			if !strings.Contains(h.logs.String(), tt.log) {
				t.Errorf("no log line %q", tt.log)
			}
			if tt.message {
				// Never dead air: the caller heard speech before the end.
				if e := extraEnergy(rec.Heard(), 0); e < 500 {
					t.Errorf("the caller heard no message (level %.0f)", e)
				}
			}
			if tt.survives {
				if _, ok := h.fs.Channel(caller.UUID()); !ok {
					t.Error("the caller's call did not survive the controller losing it")
				}
				caller.Hangup("NORMAL_CLEARING")
			}
			h.noChannelsLeft()
			poll.Until(t, h.ctx, "the call to be unregistered", func() bool {
				_, err := h.mgr.Call(id)
				return errors.Is(err, callflow.ErrUnknownCall)
			})
			goroutinesSettle(h.ctx, t, base)
		})
	}
}
