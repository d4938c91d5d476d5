package callflow_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/streaming"
	"github.com/callcoach/callcoach/tts"
)

const amplitude = 7194

// harness is a controller wired as `controller serve` does it, against the
// fake FreeSWITCH, a real redis-server, real websockets and real TTS.
type harness struct {
	t      testing.TB
	ctx    context.Context
	fs     *fakefs.FS
	redis  *redistest.Server
	events *bus.Subscription
	all    *bus.Subscription // every event, for asserting whole sequences
	mgr    *callflow.Manager
	srv    *esl.Server
	addr   string
	proxy  *cutProxy
	logs   *logbuf.Buffer
}

func newHarness(t testing.TB, cfg callflow.Config) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a benchmark runs many calls
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, logs: &logbuf.Buffer{}}
	var logOut io.Writer = h.logs
	if testing.Verbose() {
		logOut = io.MultiWriter(h.logs, os.Stderr)
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))

	h.redis = redistest.Start(t)
	pub, err := bus.New(bus.Options{Client: h.redis.Client(), Controller: "test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.events, err = bus.Subscribe(ctx, h.redis.Client(), "")
	if err != nil {
		t.Fatal(err)
	}
	h.all, err = bus.Subscribe(ctx, h.redis.Client(), "")
	if err != nil {
		t.Fatal(err)
	}

	h.fs, err = fakefs.Start(fakefs.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	client, err := esl.Dial(ctx, esl.ClientOptions{Addr: h.fs.ESLAddr(), Password: "ClueCon", Logger: log, MinBackoff: 10 * time.Millisecond,
		Events: []string{"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "conference::maintenance"}})
	if err != nil {
		t.Fatal(err)
	}
	forks := streaming.NewRegistry(streaming.Options{Logger: log})
	web := httptest.NewServer(forks)
	h.proxy = newCutProxy(t, strings.TrimPrefix(web.URL, "http://"))

	engine, err := tts.Auto()
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	cfg.ForkURL = "ws://" + h.proxy.addr()
	cfg.MediaDir = t.TempDir()
	if cfg.AgentTimeout == 0 {
		cfg.AgentTimeout = 5 * time.Second
	}
	h.mgr, err = callflow.New(cfg, callflow.Deps{Switch: client, Forks: forks, TTS: tts.NewCached(engine, 8<<20), Bus: pub, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = &esl.Server{Handler: h.mgr.Handle, Logger: log}
	a, err := h.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = a.String()
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		h.srv.Close()
		<-served
		web.Close()
		forks.Close()
		h.proxy.close()
		client.Close()
		h.fs.Close()
		h.events.Close()
		h.all.Close()
		pub.Close(context.Background())
		if t.Failed() {
			t.Logf("controller log:\n%s", h.logs.String())
		}
	})
	return h
}

// call places a customer call and returns its channel.
func (h *harness) call(to string, src mixer.Source) *fakefs.Channel {
	h.t.Helper()
	ch, err := h.fs.PlaceCall(h.ctx, fakefs.InboundCall{From: "5551000", To: to, Socket: h.addr, Source: src})
	if err != nil {
		h.t.Fatal(err)
	}
	return ch
}

// next returns the next published event matching match.
func (h *harness) next(what string, match func(bus.Event) bool) bus.Event {
	h.t.Helper()
	for {
		ev, err := h.events.Next(h.ctx)
		if err != nil {
			h.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(ev) {
			return ev
		}
	}
}

func (h *harness) state(want bus.CallState) (string, bus.StateData) {
	h.t.Helper()
	var sd bus.StateData
	ev := h.next(string(want), func(ev bus.Event) bool {
		if ev.Type != bus.TypeCallState {
			return false
		}
		_ = ev.DecodeData(&sd)
		return sd.State == want
	})
	return ev.CallID, sd
}

// channelWith waits for the fake's channel whose variable is value.
func (h *harness) channelWith(name, value string) *fakefs.Channel {
	h.t.Helper()
	var found *fakefs.Channel
	poll.Until(h.t, h.ctx, "channel "+name+"="+value, func() bool {
		for _, ch := range h.fs.Channels() {
			if ch.Var(name) == value {
				found = ch
				return true
			}
		}
		return false
	})
	return found
}

func (h *harness) noChannelsLeft() {
	h.t.Helper()
	poll.Until(h.t, h.ctx, "every channel to end", func() bool { return len(h.fs.Channels()) == 0 })
}

// goroutinesSettle waits until the goroutine count is back to base (what a
// finished call may leave behind is nothing).
func goroutinesSettle(ctx context.Context, t testing.TB, base int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for runtime.NumGoroutine() > base {
		select {
		case <-tick.C:
		case <-ctx.Done():
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, before the call %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
	}
}

// cutProxy stands between mod_audio_fork and the analyzer so a test can cut
// the websocket's TCP connection like a network failure.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func newCutProxy(t testing.TB, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(u, c); u.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, u); c.Close() }()
	}
}

// cut closes every proxied connection.
func (p *cutProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns) / 2
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	return n
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// sequence reads every event of call id published on Redis up to CLOSED,
// as short strings ("state PENDING", "mode alice whisper", "coach ai agent",
// "analytics"), and the analytics events' data.
func (h *harness) sequence(id string) (seq []string, analytics []analyticsWire) {
	h.t.Helper()
	for {
		ev, err := h.all.Next(h.ctx)
		if err != nil {
			h.t.Fatalf("reading the event sequence: %v (so far %q)", err, seq)
		}
		if ev.CallID != id {
			continue
		}
		switch ev.Type {
		case bus.TypeCallState:
			var d bus.StateData
			_ = ev.DecodeData(&d)
			seq = append(seq, "state "+string(d.State))
			if d.State == bus.StateClosed {
				return seq, analytics
			}
		case bus.TypeCallMode:
			var d bus.ModeData
			_ = ev.DecodeData(&d)
			seq = append(seq, "mode "+d.Member+" "+d.Mode)
		case bus.TypeCoachLine:
			var d bus.CoachLineData
			_ = ev.DecodeData(&d)
			seq = append(seq, "coach "+d.Source+" "+d.HeardBy)
		case bus.TypeAnalytics:
			var a analyticsWire
			if err := ev.DecodeData(&a); err != nil {
				h.t.Errorf("analytics event does not decode: %v", err)
			}
			analytics = append(analytics, a)
		}
	}
}

// analyticsWire is what a dashboard reads from an analytics event.
type analyticsWire struct {
	Measures struct {
		ElapsedMS  int64 `json:"elapsed_ms"`
		OvertalkMS int64 `json:"overtalk_ms"`
		Customer   struct {
			TalkMS int64 `json:"talk_ms"`
		} `json:"customer"`
		Agent struct {
			TalkMS int64 `json:"talk_ms"`
		} `json:"agent"`
	} `json:"measures"`
	CoachLines int `json:"coach_lines"`
	Outcomes   []struct {
		Rule string `json:"rule"`
	} `json:"coaching_outcomes"`
	Final bool `json:"final"`
}
