package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/pace"
	"github.com/callcoach/callcoach/tts"
)

// `demo --live` keeps calls up on the simulated FreeSWITCH until Ctrl-C, so
// that a newcomer can try the supervisor commands from another terminal.

// liveScripts are the conversations the live calls repeat.
var liveScripts = []struct {
	from, to, group string
	lines           []string // agent first, then the customer, in turn
}{
	{"5551234", "1001", "support", []string{
		"Acme support, this is Sam. How can I help?",
		"My internet has been down since yesterday and I work from home.",
		"I am sorry to hear that. Let me check the line for you.",
		"This is the third time I am calling about this. Nobody ever calls me back.",
		"I understand. I can book a priority technician visit for tomorrow morning.",
		"Okay. That would help. Thank you.",
	}},
	{"5559876", "1002", "billing", []string{
		"Acme billing, this is Dana speaking.",
		"I was charged twice for my subscription this month.",
		"Let me look at your account. I can see the double charge.",
		"I want a refund today, or I will cancel.",
		"I will refund the second charge now. It takes three days to show.",
		"Fine. Thanks for sorting it out.",
	}},
}

const liveSupervisorsYAML = `# The demo's supervisors file: you may monitor every call.
supervisors:
  %s: {groups: ["*"], phone: user/9001}
agents:
  "1001": support
  "1002": billing
`

func demoLive(ctx context.Context, cfg config, log *slog.Logger, voices *tts.Cached, stdout io.Writer) error {
	if cfg.RedisAddr == "" {
		return fmt.Errorf("%w: demo --live needs Redis (the supervisor commands find calls there); start redis-server or give --redis-addr", errUsage)
	}
	fake, cleanup, err := simulatedSwitch(&cfg, log)
	if err != nil {
		return err
	}
	defer cleanup()
	me := whoami()
	if me == "" {
		me = "supervisor"
	}
	cfg.Supervisors = filepath.Join(cfg.MediaDir, "supervisors.yaml")
	if err := os.WriteFile(cfg.Supervisors, []byte(fmt.Sprintf(liveSupervisorsYAML, me)), 0o644); err != nil {
		return err
	}
	cfg.Greeting = ""
	cfg.ControllerID = "demo"
	app, err := start(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	// The supervisor's phone: silent, it only listens (and talks in barge).
	fake.AddEndpoint("user/9001", fakefs.Party{Behaviour: fakefs.Answer, RingFor: 300 * time.Millisecond, Source: mixer.Silence()})

	done := make(chan error, len(liveScripts))
	for _, s := range liveScripts {
		customer, agent := &voice{}, &voice{}
		fake.AddEndpoint("user/"+s.to, fakefs.Party{Behaviour: fakefs.Answer, RingFor: 500 * time.Millisecond, Source: agent})
		caller, err := fake.PlaceCall(ctx, fakefs.InboundCall{From: s.from, To: s.to, Socket: app.eslAddr.String(), Source: customer})
		if err != nil {
			_ = app.shutdown(cfg.ShutdownGrace)
			return err
		}
		go func() { done <- converse(ctx, voices, caller, agent, customer, s.lines) }()
	}
	fmt.Fprintf(stdout, `
%d live calls are up on the simulated FreeSWITCH (controller %q, Redis %s).
You are supervisor %q (the demo's supervisors file lets you monitor every call;
your "phone" is user/9001 on the simulated switch). In another terminal:

  go build -o controller ./cmd/controller
  ./controller calls
  ./controller watch <call>            (Ctrl-C to quit)
  ./controller whisper <call>
  ./controller coach <call> "Offer the priority visit"
  ./controller barge <call>; ./controller spy <call>; ./controller leave <call>
  ./controller audit

Ctrl-C here ends the calls.
`, len(liveScripts), cfg.ControllerID, cfg.RedisAddr, me)
	var convErr error
	for range liveScripts {
		if err := <-done; err != nil && convErr == nil && ctx.Err() == nil {
			convErr = err
		}
	}
	fmt.Fprintln(stdout, "\nending the calls…")
	for _, ch := range fake.Channels() {
		ch.Hangup("NORMAL_CLEARING")
	}
	if err := app.shutdown(cfg.ShutdownGrace); err != nil && convErr == nil {
		convErr = err
	}
	return convErr
}

// converse has agent and customer take turns through lines, over and over,
// with a pause between turns, until ctx ends or the call does.
func converse(ctx context.Context, voices *tts.Cached, caller *fakefs.Channel, agent, customer *voice, lines []string) error {
	for i := 0; ; i++ {
		v := agent
		if i%2 == 1 {
			v = customer
		}
		sp, err := voices.Synthesize(ctx, lines[i%len(lines)])
		if err != nil {
			return err
		}
		said := v.say(mixer.Resample(sp.Samples, sp.Rate, mixer.Rate))
		select {
		case <-said:
		case <-caller.Done():
			return nil
		case <-ctx.Done():
			return nil
		}
		if err := pace.Sleep(ctx, 1500*time.Millisecond); err != nil {
			return nil
		}
	}
}
