package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/access"
	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/internal/reload"
	"github.com/callcoach/callcoach/llmcoach"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/registry"
	"github.com/callcoach/callcoach/sentiment"
	"github.com/callcoach/callcoach/streaming"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/stt/vosk"
	"github.com/callcoach/callcoach/supervision"
	"github.com/callcoach/callcoach/transcript"
	"github.com/callcoach/callcoach/tts"
)

// serveCommand runs the controller until SIGINT/SIGTERM. Shutdown stops
// taking new calls and lets live calls finish for --shutdown-grace (a
// controller restart must not cut customers off); calls still up after that
// are released — left to FreeSWITCH, talking, unmonitored — not hung up. A
// second signal skips the grace.
func serveCommand(ctx context.Context, stopSignals func(), args []string, stderr io.Writer) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: serve takes flags only, not %q", errUsage, fs.Args())
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	app, err := start(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	<-ctx.Done()
	stopSignals() // a second signal now kills the process the default way
	return app.shutdown(cfg.ShutdownGrace)
}

// app is a running controller.
type app struct {
	log       *slog.Logger
	esl       *esl.Client
	server    *esl.Server
	served    chan error
	forks     *streaming.Registry
	http      *http.Server
	httpDone  chan error
	publisher *bus.Publisher
	redis     *redis.Client
	manager   *callflow.Manager
	eslAddr   net.Addr // where FreeSWITCH's `socket` app connects
	httpAddr  string   // the analyzer's websocket and /status
	// watchers stop the config files' watchers (policy, supervisors).
	watchers []func()
	sttPool  *stt.Pool
	// Supervision, when Redis is configured.
	registry    *registry.Owner
	desk        *supervision.Desk
	commands    *command.Server
	supervisors *reload.File[*access.Directory]
}

// start wires and starts every part. observe, if set, wraps the publisher
// (the demo prints the timeline from it).
func start(ctx context.Context, cfg config, log *slog.Logger, observe func(callflow.Publisher) callflow.Publisher) (*app, error) {
	mode, err := conference.ParseMode(cfg.CoachMode)
	if err != nil {
		return nil, fmt.Errorf("%w: --coach-mode: %w", errUsage, err)
	}
	engine, err := ttsEngine(cfg.TTSEngine)
	if err != nil {
		return nil, err
	}
	a := &app{log: log}
	ok := false
	defer func() {
		if !ok {
			a.closeAll()
		}
	}()

	var pub callflow.Publisher = logPublisher{log: log}
	if cfg.RedisAddr != "" {
		// No go-redis retries: the publisher retries itself, and must notice an outage fast.
		a.redis = redis.NewClient(&redis.Options{Addr: cfg.RedisAddr, MaxRetries: -1})
		a.publisher, err = bus.New(bus.Options{Client: a.redis, Controller: cfg.ControllerID, Logger: log})
		if err != nil {
			return nil, err
		}
		pub = a.publisher
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := a.redis.Ping(pctx).Err(); err != nil {
			log.Warn("Redis not reachable yet; events are queued and sent when it is", "addr", cfg.RedisAddr, "err", err)
		}
		cancel()
	} else {
		log.Warn("no --redis-addr: events and analytics are only logged")
	}
	if observe != nil {
		pub = observe(pub)
	}

	a.esl, err = dialFreeSWITCH(ctx, cfg, log)
	if err != nil {
		return nil, err
	}

	a.forks = streaming.NewRegistry(streaming.Options{Logger: log})
	ln, err := net.Listen("tcp", cfg.ForkListen)
	if err != nil {
		return nil, fmt.Errorf("analyzer websocket: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(streaming.DefaultPathPrefix, a.forks)
	mux.HandleFunc("GET /status", a.status)
	if cfg.Pprof {
		runtime.MemProfileRate = 4096 // per-call structures are small: sample finely
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	}
	a.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	a.httpAddr = ln.Addr().String()
	if cfg.ForkURL == "" {
		cfg.ForkURL = "ws://" + a.httpAddr
	}

	builtIn := policy.Default()
	rules := func() []coaching.Rule { return builtIn }
	if cfg.CoachingPolicy != "" {
		w, err := policy.Watch(cfg.CoachingPolicy, log)
		if err != nil {
			return nil, fmt.Errorf("--coaching-policy: %w", err)
		}
		a.watch(ctx, w.Run)
		rules = w.Rules
	}

	transcripts, err := a.speechToText(cfg, log)
	if err != nil {
		return nil, err
	}
	var llm *llmcoach.Client
	if cfg.LLMURL != "" {
		if transcripts == nil {
			return nil, fmt.Errorf("%w: --llm-url needs --stt: the model reads the transcript", errUsage)
		}
		llm = &llmcoach.Client{URL: cfg.LLMURL, Model: cfg.LLMModel, APIKey: cfg.LLMKey, Timeout: cfg.LLMTimeout}
		log.Info("LLM coach on", "url", cfg.LLMURL, "model", cfg.LLMModel, "timeout", cfg.LLMTimeout)
	}

	observers := &supervision.Observers{}
	directory := func() *access.Directory { return nil }
	if cfg.Supervisors != "" {
		a.supervisors, err = reload.Watch(cfg.Supervisors, "supervisors file", access.Load, log)
		if err != nil {
			return nil, fmt.Errorf("--supervisors: %w", err)
		}
		directory = a.supervisors.Current
		a.watch(ctx, a.supervisors.Run)
	}

	a.manager, err = callflow.New(callflow.Config{
		AgentDial:         cfg.AgentDial,
		ConferenceProfile: cfg.Profile,
		Greeting:          cfg.Greeting,
		NoAgentMessage:    cfg.NoAgentMessage,
		AgentTimeout:      cfg.AgentTimeout,
		ForkURL:           cfg.ForkURL,
		MediaDir:          cfg.MediaDir,
		CoachMode:         mode,
		CoachingRules:     rules,
		Transcripts:       transcripts,
		LLM:               llm,
	}, callflow.Deps{Switch: a.esl, Forks: a.forks, TTS: engine, Bus: pub, Logger: log, Observer: observer(a.redis != nil, observers)})
	if err != nil {
		return nil, err
	}
	if a.redis != nil {
		if err := a.superviseThroughRedis(ctx, cfg, directory, observers); err != nil {
			return nil, err
		}
	}

	a.httpDone = make(chan error, 1)
	go func() { a.httpDone <- a.http.Serve(ln) }()

	a.server = &esl.Server{Allow: cfg.ESLAllow, Handler: a.manager.Handle, Logger: log}
	addr, err := a.server.Listen(cfg.ESLListen)
	if err != nil {
		return nil, err
	}
	a.eslAddr = addr
	a.served = make(chan error, 1)
	go func() { a.served <- a.server.Serve(context.WithoutCancel(ctx)) }()
	log.Info("controller ready", "esl_listen", addr, "freeswitch", cfg.ESLAddr, "fork_listen", ln.Addr(), "fork_url", cfg.ForkURL, "redis", cfg.RedisAddr, "coach_mode", mode)
	ok = true
	return a, nil
}

// observer is what follows the calls: nothing without Redis (no registry,
// no commands), so calls do not build snapshots for nobody.
func observer(redis bool, o *supervision.Observers) callflow.Observer {
	if !redis {
		return nil
	}
	return o
}

// watch runs a config file's watcher until closeAll (not until ctx: the
// files stay current through the shutdown grace).
func (a *app) watch(ctx context.Context, run func(context.Context, time.Duration)) {
	wctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); run(wctx, 2*time.Second) }()
	a.watchers = append(a.watchers, func() { stop(); <-done })
}

// superviseThroughRedis registers the calls in Redis and takes supervisors'
// commands for them.
func (a *app) superviseThroughRedis(ctx context.Context, cfg config, directory func() *access.Directory, observers *supervision.Observers) error {
	var err error
	a.registry, err = registry.NewOwner(registry.Options{Client: a.redis, Controller: cfg.ControllerID, Heartbeat: cfg.Heartbeat, Logger: a.log})
	if err != nil {
		return err
	}
	a.desk = supervision.NewDesk(supervision.DeskOptions{Calls: a.manager, Directory: directory,
		Audit: audit.Writer{Client: a.redis, Controller: cfg.ControllerID}, Controller: cfg.ControllerID, Logger: a.log})
	// No call is running yet: the observers are complete before the first.
	*observers = append(*observers, supervision.Registrar{Owner: a.registry, Directory: directory}, a.desk)
	a.warnOrphans(ctx, cfg.ControllerID)
	a.commands, err = command.Listen(ctx, command.ServerOptions{Redis: a.redis, Controller: cfg.ControllerID, Handler: a.desk, Logger: a.log})
	return err
}

// warnOrphans reports calls a previous run of this controller left behind.
func (a *app) warnOrphans(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	calls, err := registry.Reader{Client: a.redis}.List(ctx)
	if err != nil {
		return
	}
	n := 0
	for _, c := range calls {
		if c.Owner == id && c.Instance != a.registry.Instance() {
			n++
		}
	}
	if n > 0 {
		a.log.Warn("calls of this controller's previous run are orphaned: they may still be up in FreeSWITCH, unmonitored; `controller calls` lists them", "calls", n)
	}
}

// dialFreeSWITCH connects the inbound event socket, waiting for a
// FreeSWITCH that is still starting; a wrong password is fatal at once.
func dialFreeSWITCH(ctx context.Context, cfg config, log *slog.Logger) (*esl.Client, error) {
	backoff := 500 * time.Millisecond
	for {
		c, err := esl.Dial(ctx, esl.ClientOptions{
			Addr: cfg.ESLAddr, Password: cfg.ESLPassword, Logger: log,
			Events: []string{"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "conference::maintenance", "DTMF"},
		})
		if err == nil {
			return c, nil
		}
		if errors.Is(err, esl.ErrAuth) || errors.Is(err, esl.ErrAccessDenied) {
			return nil, fmt.Errorf("FreeSWITCH at %s refused us: %w (check --esl-password and the event socket's apply-inbound-acl)", cfg.ESLAddr, err)
		}
		log.Warn("FreeSWITCH's event socket not reachable; retrying", "addr", cfg.ESLAddr, "err", err, "retry_in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up waiting for FreeSWITCH at %s: %w", cfg.ESLAddr, ctx.Err())
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (a *app) shutdown(grace time.Duration) error {
	a.log.Info("shutting down: no new calls; live calls may finish", "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	// A second SIGINT/SIGTERM ends the grace at once.
	again, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := a.server.Shutdown(again)
	if err != nil {
		a.log.Warn("grace over; remaining calls released to FreeSWITCH unmonitored", "err", err)
	}
	<-a.served
	a.closeAll()
	a.log.Info("controller stopped")
	return nil
}

func (a *app) closeAll() {
	if a.commands != nil {
		_ = a.commands.Close()
	}
	for _, stop := range a.watchers {
		stop()
	}
	if a.server != nil {
		_ = a.server.Close()
	}
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.http.Shutdown(ctx)
		cancel()
	}
	if a.forks != nil {
		_ = a.forks.Close()
	}
	if a.esl != nil {
		_ = a.esl.Close()
	}
	if a.sttPool != nil {
		_ = a.sttPool.Close()
	}
	if a.desk != nil {
		a.desk.Close()
	}
	if a.registry != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := a.registry.Close(ctx); err != nil {
			a.log.Warn("call registry not cleaned up", "err", err)
		}
		cancel()
	}
	if a.publisher != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := a.publisher.Close(ctx); err != nil {
			a.log.Warn("events not flushed to Redis", "err", err)
		}
		cancel()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
}

func ttsEngine(name string) (*tts.Cached, error) {
	var e tts.Engine
	var err error
	switch name {
	case "", "auto":
		e, err = tts.Auto()
	case "flite":
		e, err = tts.NewFlite("")
	case "espeak-ng", "espeak":
		e, err = tts.NewESpeak("")
	default:
		return nil, fmt.Errorf("%w: --tts-engine %q (want flite or espeak-ng)", errUsage, name)
	}
	if err != nil {
		return nil, fmt.Errorf("text to speech: %w (run ./scripts/setup to install flite and espeak-ng)", err)
	}
	return tts.NewCached(e, 32<<20), nil
}

// logPublisher stands in for Redis when none is configured.
type logPublisher struct{ log *slog.Logger }

func (p logPublisher) State(id string, s bus.CallState, reason string) error {
	p.log.Info("event call.state", "call", id, "state", s, "reason", reason)
	return nil
}
func (p logPublisher) Mode(id string, m bus.ModeData) error {
	p.log.Info("event call.mode", "call", id, "member", m.Member, "mode", m.Mode)
	return nil
}
func (p logPublisher) CoachLine(id string, l bus.CoachLineData) error {
	p.log.Info("event coach.line", "call", id, "text", l.Text, "source", l.Source)
	return nil
}
func (p logPublisher) Speech(id string, s bus.SpeechData) error {
	p.log.Info("event call.speech", "call", id, "side", s.Side, "text", s.Text, "sentiment", s.Sentiment, "topics", s.Topics)
	return nil
}
func (p logPublisher) Alert(id string, a bus.AlertData) error {
	p.log.Info("event call.alert", "call", id, "rule", a.Rule, "kind", a.Kind, "side", a.Side)
	return nil
}
func (p logPublisher) Analytics(id string, data any) error {
	p.log.Info("event analytics", "call", id, "data", data)
	return nil
}

// status reports the live calls' counters as JSON (GET /status on
// --fork-listen), for monitoring and the load tool.
func (a *app) status(w http.ResponseWriter, _ *http.Request) {
	if a.manager == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(struct {
		callflow.Stats
		Goroutines int    `json:"goroutines"`
		HeapBytes  uint64 `json:"heap_bytes"`
		StackBytes uint64 `json:"stack_bytes"`
	}{a.manager.Stats(), runtime.NumGoroutine(), ms.HeapInuse, ms.StackInuse})
}

// speechToText sets up live transcription (nil when --stt none).
func (a *app) speechToText(cfg config, log *slog.Logger) (*transcript.Config, error) {
	var engine stt.Engine
	switch {
	case cfg.STT == "" || cfg.STT == "none":
		return nil, nil
	case cfg.STT == "pocketsphinx":
		e, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
		if err != nil {
			return nil, err
		}
		engine = e
	case strings.HasPrefix(cfg.STT, "ws://"), strings.HasPrefix(cfg.STT, "wss://"):
		engine = &vosk.Engine{URL: cfg.STT}
	default:
		return nil, fmt.Errorf("%w: --stt %q (want none, pocketsphinx or ws://host:port)", errUsage, cfg.STT)
	}
	if cfg.STTCalls < 1 {
		return nil, fmt.Errorf("%w: --stt-calls must be at least 1", errUsage)
	}
	words := phrases.Default()
	if cfg.Phrases != "" {
		var err error
		if words, err = phrases.Load(cfg.Phrases); err != nil {
			return nil, fmt.Errorf("--phrases: %w", err)
		}
	}
	a.sttPool = stt.NewPool(engine, 2*cfg.STTCalls)
	log.Info("speech to text on", "engine", engine.Name(), "calls", cfg.STTCalls)
	return &transcript.Config{Pool: a.sttPool, Sentiment: &sentiment.Analyzer{}, Phrases: words}, nil
}
