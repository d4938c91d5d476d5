package bus_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// logRecorder is a slog handler that keeps messages so tests can count them.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) count(substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

func (r *logRecorder) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newPublisher(t *testing.T, srv *redistest.Server, logs *logRecorder, mod func(*bus.Options)) *bus.Publisher {
	t.Helper()
	if logs == nil {
		logs = &logRecorder{}
	}
	// The publisher retries by itself; go-redis' own retries only slow the test.
	ro := srv.Options()
	ro.MaxRetries = -1
	client := redis.NewClient(ro)
	t.Cleanup(func() { _ = client.Close() })
	opts := bus.Options{
		Client:     client,
		Controller: "ctl-test",
		Logger:     slog.New(logs),
		RetryMin:   10 * time.Millisecond,
		RetryMax:   100 * time.Millisecond,
	}
	if mod != nil {
		mod(&opts)
	}
	p, err := bus.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func TestEventsInOrderPerCall(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 20*time.Second)
	p := newPublisher(t, srv, nil, nil)

	all, err := bus.Subscribe(ctx, srv.Client(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	onlyA, err := bus.Subscribe(ctx, srv.Client(), "call-a")
	if err != nil {
		t.Fatal(err)
	}
	defer onlyA.Close()

	const perCall = 300
	for i := 0; i < perCall; i++ {
		for _, id := range []string{"call-a", "call-b"} {
			if err := p.Analytics(id, map[string]int{"i": i}); err != nil {
				t.Fatalf("publish %s #%d: %v", id, i, err)
			}
		}
	}

	// The all-calls channel carries both calls, each in publish order.
	next := map[string]int{}
	var lastSeq uint64
	for n := 0; n < 2*perCall; n++ {
		ev, err := all.Next(ctx)
		if err != nil {
			t.Fatalf("all #%d: %v", n, err)
		}
		var d struct{ I int }
		if err := ev.DecodeData(&d); err != nil {
			t.Fatal(err)
		}
		if d.I != next[ev.CallID] {
			t.Fatalf("%s: got i=%d, want %d (out of order)", ev.CallID, d.I, next[ev.CallID])
		}
		if ev.Seq <= lastSeq {
			t.Fatalf("seq %d after %d", ev.Seq, lastSeq)
		}
		if ev.V != bus.Version || ev.Controller != "ctl-test" || ev.Type != bus.TypeAnalytics || ev.At.IsZero() {
			t.Fatalf("bad envelope: %+v", ev)
		}
		lastSeq = ev.Seq
		next[ev.CallID]++
	}
	// The per-call channel carries that call only.
	for i := 0; i < perCall; i++ {
		ev, err := onlyA.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ I int }
		if err := ev.DecodeData(&d); err != nil {
			t.Fatal(err)
		}
		if ev.CallID != "call-a" || d.I != i {
			t.Fatalf("call-a channel #%d: got %s i=%d", i, ev.CallID, d.I)
		}
	}
}

func TestAnalyticsStreamAndSummary(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 20*time.Second)
	p := newPublisher(t, srv, nil, func(o *bus.Options) { o.SummaryTTL = time.Hour })
	c := srv.Client()

	const id = "3f1c2d8e-0b7a-4c55-9d7e-1a2b3c4d5e6f"
	steps := []func() error{
		func() error { return p.State(id, bus.StatePending, "") },
		func() error { return p.State(id, bus.StateAnswered, "") },
		func() error { return p.State(id, bus.StateConnected, "") },
		func() error { return p.Mode(id, bus.ModeData{Mode: "spy", Member: "ai"}) },
		func() error { return p.Analytics(id, map[string]float64{"talk_ratio": 0.4}) },
		func() error { return p.CoachLine(id, bus.CoachLineData{Text: "slow down", Source: "ai"}) },
		func() error { return p.Mode(id, bus.ModeData{Mode: "whisper", Member: "ai"}) },
		func() error { return p.Analytics(id, map[string]float64{"talk_ratio": 0.6}) },
		func() error { return p.State(id, bus.StateClosed, "NORMAL_CLEARING") },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}

	entries, err := bus.ReadAnalytics(ctx, c, id, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("stream has %d entries, want the 2 analytics events", len(entries))
	}
	for i, want := range []float64{0.4, 0.6} {
		var d struct {
			TalkRatio float64 `json:"talk_ratio"`
		}
		if err := entries[i].Event.DecodeData(&d); err != nil || d.TalkRatio != want {
			t.Fatalf("entry %d: talk_ratio %v (%v), want %v", i, d.TalkRatio, err, want)
		}
	}
	rest, err := bus.ReadAnalytics(ctx, c, id, entries[0].ID, 100)
	if err != nil || len(rest) != 1 || rest[0].ID != entries[1].ID {
		t.Fatalf("reading after %s: %v, %v", entries[0].ID, rest, err)
	}

	sum, err := bus.ReadSummary(ctx, c, id)
	if err != nil {
		t.Fatal(err)
	}
	var states []bus.CallState
	for _, s := range sum.States {
		states = append(states, s.State)
	}
	if fmt.Sprint(states) != "[PENDING ANSWERED CONNECTED CLOSED]" {
		t.Errorf("summary states = %v", states)
	}
	if sum.CoachLines != 1 || len(sum.Modes) != 2 || sum.Modes[1].Mode != "whisper" || sum.Events != len(steps) ||
		sum.Reason != "NORMAL_CLEARING" || sum.ClosedAt.Before(sum.OpenedAt) || !strings.Contains(string(sum.Analytics), "0.6") {
		t.Errorf("summary = %+v", sum)
	}
	ttl, err := c.TTL(ctx, bus.SummaryKey(id)).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("summary TTL = %v, %v; want (0, 1h]", ttl, err)
	}
	if _, err := bus.ReadSummary(ctx, c, "never-seen"); !errors.Is(err, bus.ErrNotFound) {
		t.Errorf("summary of an unknown call: %v, want ErrNotFound", err)
	}
}

func TestStreamIsTrimmed(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 20*time.Second)
	p := newPublisher(t, srv, nil, func(o *bus.Options) { o.StreamMaxLen = 100 })
	for i := 0; i < 1000; i++ {
		if err := p.Analytics("trim", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := srv.Client().XLen(ctx, bus.AnalyticsStream("trim")).Result()
	// MAXLEN ~ trims whole nodes (100 entries each by default), so allow one node.
	if err != nil || n < 100 || n > 200 {
		t.Fatalf("XLEN = %d, %v; want about 100", n, err)
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 30*time.Second)
	logs := &logRecorder{}
	p := newPublisher(t, srv, logs, nil)
	c := srv.Client()
	const id = "outage"

	if err := p.Analytics(id, map[string]int{"i": 0}); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, ctx, "first event written", func() bool { return p.Stats().Written == 1 })

	srv.Kill()
	const during = 50
	for i := 1; i <= during; i++ {
		start := time.Now()
		if err := p.Analytics(id, map[string]int{"i": i}); err != nil {
			t.Fatalf("publish during outage: %v", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Fatalf("Publish blocked %v with Redis down", d)
		}
	}
	// Let the writer retry a few times; the outage must still be logged once.
	poll.Until(t, ctx, "several failed retries", func() bool { return p.Stats().Down && p.Stats().Retries >= 3 })
	retriesSeen := logs.count("Redis unreachable")
	if retriesSeen != 1 {
		t.Fatalf("outage logged %d times, want 1:\n%s", retriesSeen, logs)
	}

	srv.Restart()
	poll.Until(t, ctx, "queued events written after restart", func() bool {
		s := p.Stats()
		return !s.Down && s.Written == during+1
	})
	if n := logs.count("Redis unreachable"); n != 1 {
		t.Errorf("outage logged %d times, want 1:\n%s", n, logs)
	}
	if n := logs.count("reachable again"); n != 1 {
		t.Errorf("recovery logged %d times, want 1:\n%s", n, logs)
	}
	// Redis lost the first event (no persistence); the queued ones arrive in order.
	entries, err := bus.ReadAnalytics(ctx, c, id, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != during {
		t.Fatalf("stream has %d entries after restart, want %d", len(entries), during)
	}
	for k, e := range entries {
		var d struct{ I int }
		if err := e.Event.DecodeData(&d); err != nil || d.I != k+1 {
			t.Fatalf("entry %d: i=%d (%v), want %d", k, d.I, err, k+1)
		}
	}

	// Publishing goes on: a fresh subscriber sees new events.
	sub, err := bus.Subscribe(ctx, c, id)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := p.State(id, bus.StateClosed, "after outage"); err != nil {
		t.Fatal(err)
	}
	ev, err := sub.Next(ctx)
	if err != nil || ev.Type != bus.TypeCallState {
		t.Fatalf("after restart: %+v, %v", ev, err)
	}
}

func TestQueueFullDropsAndCounts(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 20*time.Second)
	logs := &logRecorder{}
	const queue = 8
	p := newPublisher(t, srv, logs, func(o *bus.Options) { o.QueueSize = queue })

	srv.Kill()
	if err := p.Analytics("q", map[string]int{}); err != nil {
		t.Fatal(err)
	}
	// The writer holds that event in its retry loop; the queue is empty again.
	poll.Until(t, ctx, "outage noticed", func() bool { return p.Stats().Down && p.Stats().Queued == 0 })

	var full int
	for i := 0; i < queue+5; i++ {
		err := p.Analytics("q", map[string]int{"i": i})
		switch {
		case errors.Is(err, bus.ErrQueueFull):
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	if full != 5 || p.Stats().Dropped != 5 {
		t.Fatalf("dropped %d (stats %d), want 5", full, p.Stats().Dropped)
	}
	if n := logs.count("queue full"); n != 1 {
		t.Fatalf("queue full logged %d times, want once:\n%s", n, logs)
	}

	srv.Restart()
	poll.Until(t, ctx, "backlog written", func() bool { return p.Stats().Written == queue+1 })
}

func TestCloseFlushes(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 20*time.Second)
	p := newPublisher(t, srv, nil, func(o *bus.Options) { o.BatchSize = 7 })
	const n = 500
	for i := 0; i < n; i++ {
		if err := p.Analytics("flush", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := srv.Client().XLen(ctx, bus.AnalyticsStream("flush")).Result(); err != nil || got != n {
		t.Fatalf("XLEN after Close = %d, %v; want %d", got, err, n)
	}
	if err := p.Analytics("flush", map[string]int{}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("publish after close: %v, want ErrClosed", err)
	}
}

func TestCloseGivesUpWhenRedisIsDown(t *testing.T) {
	srv := redistest.Start(t)
	p := newPublisher(t, srv, nil, nil)
	srv.Kill()
	for i := 0; i < 10; i++ {
		if err := p.Analytics("gone", map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close with Redis down = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if lost := p.Stats().Lost; lost != 10 {
		t.Fatalf("lost = %d, want 10", lost)
	}
}

func TestInvalidEvents(t *testing.T) {
	srv := redistest.Start(t)
	p := newPublisher(t, srv, nil, nil)
	tests := []struct {
		name   string
		typ    bus.Type
		callID string
		data   any
	}{
		{"empty call id", bus.TypeAnalytics, "", map[string]int{}},
		{"glob in call id", bus.TypeAnalytics, "a*", map[string]int{}},
		{"colon in call id", bus.TypeAnalytics, "a:b", map[string]int{}},
		{"space in call id", bus.TypeAnalytics, "a b", map[string]int{}},
		{"long call id", bus.TypeAnalytics, strings.Repeat("x", 129), map[string]int{}},
		{"unknown type", bus.Type("call.eaten"), "ok", map[string]int{}},
		{"data not an object", bus.TypeAnalytics, "ok", []int{1}},
		{"data not marshalable", bus.TypeAnalytics, "ok", map[string]any{"f": func() {}}},
		{"state without state", bus.TypeCallState, "ok", bus.StateData{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Publish(tt.typ, tt.callID, tt.data); !errors.Is(err, bus.ErrInvalidEvent) {
				t.Fatalf("got %v, want ErrInvalidEvent", err)
			}
		})
	}
	if s := p.Stats(); s.Written != 0 || s.Queued != 0 {
		t.Fatalf("invalid events reached the queue: %+v", s)
	}
}

func TestSubscriberRejectsMalformed(t *testing.T) {
	srv := redistest.Start(t)
	ctx := testCtx(t, 10*time.Second)
	c := srv.Client()
	sub, err := bus.Subscribe(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, payload := range []string{"not json", `{"v":1}`} {
		if err := c.Publish(ctx, bus.AllEventsChannel, payload).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.Next(ctx); !errors.Is(err, bus.ErrMalformed) {
			t.Fatalf("%q: %v, want ErrMalformed", payload, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing published: %v", err)
	}
}
