package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/registry"
	"github.com/callcoach/callcoach/supervision"
)

// serve's wiring against the fake: a call connects and is analysed, GET
// /status reports it, and a shutdown whose grace runs out releases the call
// — it goes on in FreeSWITCH — instead of hanging it up.
func TestServeShutdownReleasesLiveCalls(t *testing.T) {
	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	fs.AddEndpoint("user/1001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, 7000)})

	rs := redistest.Start(t)
	cfg := serveConfig(t, fs.ESLAddr(), "--redis-addr", rs.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := start(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	statusURL := "http://" + a.httpAddr + "/status"

	caller, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5551234", To: "1001", Socket: a.eslAddr.String(), Source: mixer.Tone(440, 7000)})
	if err != nil {
		t.Fatal(err)
	}
	var st callflow.Stats
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for st.Analysed != 1 || st.Frames < 10 {
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("the call was not connected and analysed: %+v", st)
		}
		resp, err := http.Get(statusURL)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if st.Calls != 1 || st.Connected != 1 {
		t.Fatalf("status %+v, want one connected call", st)
	}

	if err := a.shutdown(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, ok := fs.Channel(caller.UUID()); !ok {
		t.Fatal("shutdown hung up the live call; it should have been released")
	}
	// Supervisors still see it: released, and orphaned now that its
	// controller is gone.
	calls, err := registry.Reader{Client: rs.Client()}.List(ctx)
	if err != nil || len(calls) != 1 || calls[0].State != supervision.Released || !calls[0].Orphaned || calls[0].Channel != caller.UUID() {
		t.Fatalf("registry after the release: %+v %v", calls, err)
	}
	if _, err := http.Get(statusURL); err == nil {
		t.Error("the status endpoint still answers after shutdown")
	}
	caller.Hangup("NORMAL_CLEARING")
}

// --coaching-policy: the rules of the file are what coaches the call.
func TestServeUsesTheCoachingPolicy(t *testing.T) {
	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	fs.AddEndpoint("user/1001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, 7000)})

	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(`rules: [{name: both-talking, say: "Both of you are talking.", when: {after: 1s, agent_share_below: 0.9}}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig(t, fs.ESLAddr(), "--redis-addr", "", "--coaching-policy", policyFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	logs := &logbuf.Buffer{}
	a, err := start(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.shutdown(time.Second)
	caller, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5551234", To: "1001", Socket: a.eslAddr.String(), Source: mixer.Tone(440, 7000)})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Hangup("NORMAL_CLEARING")
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for !strings.Contains(logs.String(), `rule=both-talking`) {
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("the policy's rule never fired\n%s", logs.String())
		}
	}
}

// serveConfig is `serve`'s configuration against the fake at eslAddr:
// loopback listeners, no greeting, a private media directory; extra flags
// follow.
func serveConfig(t testing.TB, eslAddr string, extra ...string) config {
	t.Helper()
	cfg := defaultConfig()
	fset := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg.register(fset)
	args := append([]string{"--esl-addr", eslAddr, "--esl-listen", "127.0.0.1:0", "--fork-listen", "127.0.0.1:0",
		"--greeting", "", "--media-dir", t.TempDir()}, extra...)
	if err := fset.Parse(args); err != nil {
		t.Fatal(err)
	}
	return cfg
}
