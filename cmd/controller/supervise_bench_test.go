package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/registry"
)

// BenchmarkModeSwitch measures a supervisor's mode switch as the CLI makes
// it: registry lookup, PUBLISH to the owning controller, the controller's
// permission check and audit entry, the conference commands until
// FreeSWITCH (the fake) confirms them, and the reply by BLPOP. The
// controller runs in this process, wired as `serve` does it.
func BenchmarkModeSwitch(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rs := redistest.Start(b)
	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	fs.AddEndpoint("user/1001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(700, 5000)})
	fs.AddEndpoint("user/2001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(1100, 5000)})
	sup := filepath.Join(b.TempDir(), "supervisors.yaml")
	if err := os.WriteFile(sup, []byte(supervisorsYAML), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := serveConfig(b, fs.ESLAddr(), "--redis-addr", rs.Addr(), "--supervisors", sup, "--controller-id", "bench")
	a, err := start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = a.shutdown(time.Second) }()
	if _, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5550001", To: "1001", Socket: a.eslAddr.String(), Source: mixer.Tone(440, 5000)}); err != nil {
		b.Fatal(err)
	}
	var call registry.Record
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for call.State != "CONNECTED" {
		select {
		case <-tick.C:
		case <-ctx.Done():
			b.Fatal("the call never connected")
		}
		calls, _ := registry.Reader{Client: rs.Client()}.List(ctx)
		if len(calls) == 1 {
			call = calls[0]
		}
	}
	client := command.Client{Redis: rs.Client()}
	if _, err := client.Do(ctx, command.Request{Call: call.ID, Op: command.Spy, Supervisor: "alice"}); err != nil {
		b.Fatal(err)
	}
	modes := []command.Op{command.Whisper, command.Barge, command.Spy}
	var total, confirmed []time.Duration
	i := 0
	for b.Loop() {
		t0 := time.Now()
		rep, err := client.Do(ctx, command.Request{Call: call.ID, Op: modes[i%len(modes)], Supervisor: "alice"})
		if err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(t0))
		confirmed = append(confirmed, time.Duration(rep.ConfirmedMS*float64(time.Millisecond)))
		i++
	}
	b.StopTimer()
	b.ReportMetric(percentileMS(total, 50), "p50-ms")
	b.ReportMetric(percentileMS(total, 99), "p99-ms")
	b.ReportMetric(percentileMS(confirmed, 50), "fs-confirm-p50-ms")
	b.ReportMetric(percentileMS(confirmed, 99), "fs-confirm-p99-ms")
}

func percentileMS(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return float64(s[max(i-1, 0)]) / float64(time.Millisecond)
}
