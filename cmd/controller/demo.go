package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/pace"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/tts"
)

// The demo runs the controller exactly as `serve` wires it, against the fake
// FreeSWITCH in-process: a customer calls, the agent answers, a supervisor
// listens in and switches modes, the AI coach whispers to the agent, and the
// timeline says what happened and — measured on the simulated phones — who
// heard what.

const demoBanner = `callcoach demo — one monitored call on a SIMULATED FreeSWITCH
  FreeSWITCH is not running here: the fake in package fakefs stands in for it
  (event socket, mod_conference, mod_audio_fork, a 20 ms audio mixer). The
  controller, the analyzer's websocket, the text-to-speech and Redis are real.
`

const demoEpilogue = `
That was a simulated FreeSWITCH. To coach real calls:
  1. drop the files of freeswitch/ into your FreeSWITCH (see freeswitch/README.md:
     dialplan, conference profile, event socket, mod_audio_fork);
  2. run:  go run ./cmd/controller serve      (flags: go run ./cmd/controller help serve)
`

// demoStep bounds every wait of the script: the demo must end, whatever breaks.
const demoStep = 20 * time.Second

func demoCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := defaultConfig()
	cfg.LogLevel = slog.LevelWarn
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.RedisAddr, "redis-addr", envOr("redis-addr", cfg.RedisAddr), "Redis to publish to, if reachable")
	fs.StringVar(&cfg.TTSEngine, "tts-engine", envOr("tts-engine", cfg.TTSEngine), "flite or espeak-ng")
	cfg.STT = "pocketsphinx"
	if _, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel); err != nil {
		cfg.STT = "none"
	}
	fs.StringVar(&cfg.STT, "stt", cfg.STT, "speech to text: pocketsphinx, none, or ws://host:port")
	live := fs.Bool("live", false, "keep calls up until Ctrl-C, for trying the supervisor commands from another terminal")
	fs.Func("log-level", "controller log level on stderr (default warn)", func(v string) error { return cfg.LogLevel.UnmarshalText([]byte(v)) })
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	fmt.Fprint(stdout, demoBanner)

	voices, err := ttsEngine(cfg.TTSEngine)
	if err != nil {
		return err
	}
	redisNote := demoRedis(ctx, &cfg)
	if *live {
		return demoLive(ctx, cfg, log, voices, stdout)
	}

	fake, cleanup, err := simulatedSwitch(&cfg, log)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg.Greeting = "Thank you for calling Acme. Please hold while I connect you to an agent."

	tl := &timeline{w: stdout, start: time.Now()}
	seen := newDemoEvents()
	app, err := start(ctx, cfg, log, func(p callflow.Publisher) callflow.Publisher {
		tl.next = fanout{p, seen}
		return tl
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  controller: outbound ESL server on %s; %s\n\n", app.eslAddr, redisNote)

	d := &demo{ctx: ctx, tl: tl, seen: seen, fake: fake, app: app, tts: voices,
		customer: &voice{}, agent: &voice{}, supervisor: &voice{}}
	runErr := d.run()
	if err := app.shutdown(cfg.ShutdownGrace); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return fmt.Errorf("demo: %w", runErr)
	}
	if app.redis != nil {
		d.printSummary(stdout, cfg.RedisAddr)
	}
	fmt.Fprint(stdout, demoEpilogue)
	return nil
}

// simulatedSwitch starts the fake FreeSWITCH and points cfg at it: its
// event socket, loopback listeners, a temporary media directory (cleanup
// removes it and stops the fake) and a short shutdown grace.
func simulatedSwitch(cfg *config, log *slog.Logger) (*fakefs.FS, func(), error) {
	fake, err := fakefs.Start(fakefs.Options{Logger: log.With("part", "fakefs")})
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "callcoach-demo-")
	if err != nil {
		fake.Close()
		return nil, nil, err
	}
	cfg.ESLAddr, cfg.ESLListen, cfg.ForkListen, cfg.ForkURL = fake.ESLAddr(), "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.MediaDir = dir
	cfg.ShutdownGrace = 5 * time.Second
	return fake, func() { fake.Close(); os.RemoveAll(dir) }, nil
}

// demoRedis keeps cfg.RedisAddr when a Redis answers there, else clears it
// (the controller then only logs its events), and says which.
func demoRedis(ctx context.Context, cfg *config) string {
	if cfg.RedisAddr == "" {
		return "no Redis: events are printed here only"
	}
	c := redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, MaxRetries: -1})
	defer c.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		addr := cfg.RedisAddr
		cfg.RedisAddr = ""
		return fmt.Sprintf("no Redis reachable at %s (%v): events are printed here only, nothing is stored — start redis-server to see them published", addr, err)
	}
	return fmt.Sprintf("Redis at %s: events on %s (watch: redis-cli subscribe %s)", cfg.RedisAddr, bus.AllEventsChannel, bus.AllEventsChannel)
}

type demo struct {
	ctx                         context.Context
	tl                          *timeline
	seen                        *demoEvents
	fake                        *fakefs.FS
	app                         *app
	tts                         *tts.Cached
	customer, agent, supervisor *voice
	callID                      string
	supervisorID                int                        // alice's conference member id
	legs                        map[string]*fakefs.Channel // customer, agent, supervisor
}

func (d *demo) run() error {
	d.fake.AddEndpoint("user/1001", fakefs.Party{Behaviour: fakefs.Answer, RingFor: time.Second, Source: d.agent})
	d.fake.AddEndpoint("user/9001", fakefs.Party{Behaviour: fakefs.Answer, RingFor: 300 * time.Millisecond, Source: d.supervisor})

	d.tl.Note("customer 5551234 dials 1001; the dialplan hands the call to the controller")
	caller, err := d.fake.PlaceCall(d.ctx, fakefs.InboundCall{From: "5551234", To: "1001", Socket: d.app.eslAddr.String(), Source: d.customer})
	if err != nil {
		return err
	}
	if d.callID, err = d.seen.waitState(d.ctx, bus.StateConnected); err != nil {
		return err
	}
	agent, err := d.channel("agent")
	if err != nil {
		return err
	}
	d.legs = map[string]*fakefs.Channel{"customer": caller, "agent": agent}

	steps := []func() error{
		func() error {
			return d.say(d.agent, "agent", "Thank you for calling Acme support, this is Sam. How can I help you today?")
		},
		func() error { return d.say(d.customer, "customer", "Hi. My internet has been down since yesterday.") },
		d.supervisorJoins,
		d.customerTalksOver,
		func() error { return d.say(d.agent, "agent", "I am sorry, please go on.") },
		func() error {
			return d.say(d.customer, "customer", "The router shows a red light, and I work from home, so I need it working.")
		},
		func() error { return d.supervise(conference.Whisper, "Sam, offer him a priority technician visit.") },
		func() error {
			return d.say(d.agent, "agent", "I am sorry for the trouble. I can book a priority technician visit for tomorrow morning.")
		},
		func() error { return d.say(d.customer, "customer", "Okay. That would help.") },
		func() error {
			return d.supervise(conference.Barge, "This is Alice, the team leader. I will make sure the technician is there tomorrow.")
		},
		func() error { return d.mode(conference.Spy) },
		func() error { return d.say(d.customer, "customer", "Thank you. Goodbye.") },
		func() error { return d.say(d.agent, "agent", "Thank you for calling Acme. Goodbye.") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	d.tl.Note("the customer hangs up")
	caller.Hangup("NORMAL_CLEARING")
	if _, err := d.seen.waitState(d.ctx, bus.StateClosed); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(d.ctx, demoStep)
	defer cancel()
	for len(d.fake.Channels()) > 0 {
		if err := pace.Sleep(ctx, 20*time.Millisecond); err != nil {
			return fmt.Errorf("channels still up after the call closed: %w", err)
		}
	}
	d.tl.Note("every leg has hung up; nothing left in the simulated FreeSWITCH")
	return nil
}

// say has a party speak a line and waits until it is said.
func (d *demo) say(v *voice, who, text string) error {
	done, err := d.speak(v, who, text)
	if err != nil {
		return err
	}
	return waitFor(d.ctx, done, who+" to finish speaking")
}

func (d *demo) speak(v *voice, who, text string) (<-chan struct{}, error) {
	sp, err := d.tts.Synthesize(d.ctx, text)
	if err != nil {
		return nil, err
	}
	d.tl.Note("%-10s says %q", who, text)
	return v.say(mixer.Resample(sp.Samples, sp.Rate, mixer.Rate)), nil
}

func (d *demo) supervisorJoins() error {
	d.tl.Note("supervisor alice asks to listen in; her phone (user/9001) is dialled into the conference")
	id, err := d.app.manager.AddMonitor(d.ctx, d.callID, "alice", "user/9001", conference.Spy)
	if err != nil {
		return err
	}
	d.supervisorID = id
	sup, err := d.channel("monitor")
	if err != nil {
		return err
	}
	d.legs["supervisor"] = sup
	return nil
}

// customerTalksOver has the customer interrupt the agent until the AI coach
// speaks up, then both stop to let the line be heard.
func (d *demo) customerTalksOver() error {
	agentDone, err := d.speak(d.agent, "agent", "I understand. Let me look at your account. Could you give me your account number and the address of the installation, please?")
	if err != nil {
		return err
	}
	if err := pace.Sleep(d.ctx, 1200*time.Millisecond); err != nil {
		return err
	}
	if _, err := d.speak(d.customer, "customer", "I already gave all of that twice! This is the third time I am calling about this, and nobody ever calls me back, I want it fixed today!"); err != nil {
		return err
	}
	line, err := d.seen.waitLine(d.ctx, "ai")
	if err != nil {
		return fmt.Errorf("the AI coach never spoke up: %w", err)
	}
	d.customer.hush()
	d.agent.hush()
	d.tl.Note("the agent stops to listen; the customer waits")
	if err := d.heard(line.Text, ""); err != nil {
		return err
	}
	<-agentDone
	return nil
}

// supervise switches alice's mode and has her say a line.
func (d *demo) supervise(m conference.Mode, text string) error {
	if err := d.mode(m); err != nil {
		return err
	}
	if _, err := d.speak(d.supervisor, "supervisor", text); err != nil {
		return err
	}
	return d.heard(text, "supervisor")
}

func (d *demo) mode(m conference.Mode) error {
	return d.app.manager.SetMode(d.ctx, d.callID, d.supervisorID, m)
}

// heard records every phone but the speaker's while text is spoken (nobody
// else talking) and prints who heard it — measured on what each simulated
// phone received.
func (d *demo) heard(text, speaker string) error {
	sp, err := d.tts.Synthesize(d.ctx, text)
	if err != nil {
		return err
	}
	frames := int(sp.Duration()/mixer.FrameTime) + 10
	const skip = 5 // what was said before everyone fell silent
	peak := map[string]float64{}
	recs := map[string]*mixer.Recording{}
	for who, ch := range d.legs {
		if who == speaker {
			continue
		}
		r, err := ch.Record()
		if err != nil {
			return err
		}
		recs[who] = r
	}
	ctx, cancel := context.WithTimeout(d.ctx, demoStep)
	defer cancel()
	for who, r := range recs {
		if err := r.WaitFrames(ctx, frames); err != nil {
			return fmt.Errorf("recording %s: %w", who, err)
		}
		r.Stop()
		pcm := r.Heard()[skip*mixer.FrameSamples : frames*mixer.FrameSamples]
		for i := 0; i+5*mixer.FrameSamples <= len(pcm); i += mixer.FrameSamples {
			peak[who] = max(peak[who], mixer.RMS(pcm[i:i+5*mixer.FrameSamples]))
		}
	}
	var yes, no []string
	for _, who := range []string{"customer", "agent", "supervisor"} {
		p, ok := peak[who]
		switch {
		case !ok:
		case p > 300:
			yes = append(yes, fmt.Sprintf("%s (%.0f dBFS)", who, dbfs(p)))
		default:
			no = append(no, who)
		}
	}
	if len(no) == 0 {
		d.tl.Note("  heard by: %s", orNone(yes))
	} else {
		d.tl.Note("  heard by: %s; not heard by: %s", orNone(yes), strings.Join(no, ", "))
	}
	return nil
}

func (d *demo) channel(role string) (*fakefs.Channel, error) {
	ctx, cancel := context.WithTimeout(d.ctx, demoStep)
	defer cancel()
	for {
		for _, ch := range d.fake.Channels() {
			if ch.Var("cc_role") == role {
				return ch, nil
			}
		}
		if err := pace.Sleep(ctx, 10*time.Millisecond); err != nil {
			return nil, fmt.Errorf("no %s leg: %w", role, err)
		}
	}
}

func (d *demo) printSummary(w io.Writer, addr string) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(d.ctx, 2*time.Second)
	defer cancel()
	s, err := bus.ReadSummary(ctx, c, d.callID)
	if err != nil {
		fmt.Fprintf(w, "\nRedis: no summary for the call: %v\n", err)
		return
	}
	var states []string
	for _, st := range s.States {
		states = append(states, string(st.State))
	}
	host, port, _ := strings.Cut(addr, ":")
	cli := fmt.Sprintf("redis-cli -h %s -p %s", host, port)
	fmt.Fprintf(w, "\nRedis has the call: %d events, states %s, mode changes: %d, coaching lines: %d\n  %s get callcoach:call:%s:summary\n  %s xrange callcoach:call:%s:analytics - +\n",
		s.Events, strings.Join(states, " → "), len(s.Modes), s.CoachLines, cli, d.callID, cli, d.callID)
}

// voice is a simulated phone's microphone: it says one clip at a time.
type voice struct {
	mu   sync.Mutex
	pcm  []int16
	pos  int
	done chan struct{}
}

// Read is called by the fake's media clock every 20 ms.
func (v *voice) Read(frame []int16) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pos >= len(v.pcm) {
		clear(frame)
		v.finish()
		return false
	}
	n := copy(frame, v.pcm[v.pos:])
	clear(frame[n:])
	v.pos += len(frame)
	return true
}

func (v *voice) say(pcm []int16) <-chan struct{} {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.finish()
	v.pcm, v.pos, v.done = pcm, 0, make(chan struct{})
	return v.done
}

func (v *voice) hush() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pos = len(v.pcm)
	v.finish()
}

func (v *voice) finish() {
	if v.done != nil {
		close(v.done)
		v.done = nil
	}
}

// demoEvents hands the script the events it waits for.
type demoEvents struct {
	states chan stateEvent
	lines  chan bus.CoachLineData
}

type stateEvent struct {
	id    string
	state bus.CallState
}

func newDemoEvents() *demoEvents {
	return &demoEvents{states: make(chan stateEvent, 64), lines: make(chan bus.CoachLineData, 64)}
}

func (e *demoEvents) State(id string, s bus.CallState, _ string) error {
	select {
	case e.states <- stateEvent{id, s}:
	default:
	}
	return nil
}

func (e *demoEvents) CoachLine(_ string, l bus.CoachLineData) error {
	select {
	case e.lines <- l:
	default:
	}
	return nil
}

func (e *demoEvents) Mode(string, bus.ModeData) error     { return nil }
func (e *demoEvents) Analytics(string, any) error         { return nil }
func (e *demoEvents) Speech(string, bus.SpeechData) error { return nil }
func (e *demoEvents) Alert(string, bus.AlertData) error   { return nil }

func (e *demoEvents) waitState(ctx context.Context, want bus.CallState) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, demoStep)
	defer cancel()
	for {
		select {
		case ev := <-e.states:
			if ev.state == want {
				return ev.id, nil
			}
			if ev.state == bus.StateClosed {
				return "", fmt.Errorf("the call closed while waiting for %s", want)
			}
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for %s: %w", want, ctx.Err())
		}
	}
}

func (e *demoEvents) waitLine(ctx context.Context, source string) (bus.CoachLineData, error) {
	ctx, cancel := context.WithTimeout(ctx, demoStep)
	defer cancel()
	for {
		select {
		case l := <-e.lines:
			if l.Source == source {
				return l, nil
			}
		case <-ctx.Done():
			return bus.CoachLineData{}, ctx.Err()
		}
	}
}

// fanout publishes to several publishers.
type fanout []callflow.Publisher

func (f fanout) State(id string, s bus.CallState, r string) error {
	return f.each(func(p callflow.Publisher) error { return p.State(id, s, r) })
}
func (f fanout) Mode(id string, m bus.ModeData) error {
	return f.each(func(p callflow.Publisher) error { return p.Mode(id, m) })
}
func (f fanout) CoachLine(id string, l bus.CoachLineData) error {
	return f.each(func(p callflow.Publisher) error { return p.CoachLine(id, l) })
}
func (f fanout) Speech(id string, s bus.SpeechData) error {
	return f.each(func(p callflow.Publisher) error { return p.Speech(id, s) })
}
func (f fanout) Alert(id string, a bus.AlertData) error {
	return f.each(func(p callflow.Publisher) error { return p.Alert(id, a) })
}
func (f fanout) Analytics(id string, data any) error {
	return f.each(func(p callflow.Publisher) error { return p.Analytics(id, data) })
}

func (f fanout) each(do func(callflow.Publisher) error) error {
	var errs []error
	for _, p := range f {
		errs = append(errs, do(p))
	}
	return errors.Join(errs...)
}

func waitFor(ctx context.Context, done <-chan struct{}, what string) error {
	ctx, cancel := context.WithTimeout(ctx, demoStep)
	defer cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}

func dbfs(rms float64) float64 { return 20 * math.Log10(rms/32768) }

func orNone(s []string) string {
	if len(s) == 0 {
		return "nobody"
	}
	return strings.Join(s, ", ")
}
