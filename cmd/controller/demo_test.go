package main

import (
	"context"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/redistest"
)

// The README's first command: a whole monitored call on the simulated
// FreeSWITCH, exit 0, and a timeline that tells the story in order —
// measured on the simulated phones, not asserted by the demo itself.
func TestDemoRunsAWholeMonitoredCall(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo is a 45 s call")
	}
	r := redistest.Start(t)
	var out, errb logbuf.Buffer
	if code := run([]string{"demo", "--redis-addr", r.Addr()}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	got := out.String()
	steps := []string{
		`SIMULATED FreeSWITCH`,
		`Redis at ` + regexp.QuoteMeta(r.Addr()),
		`PENDING`, `ANSWERED`, `CONNECTED`,
		`mode +ai → whisper`,
		`mode +alice \(member \d+\) → spy`,
		`coaching +".+" \(ai, rule customer-overtalk\) → played to the agent only`,
		`heard by: agent \(-\d+ dBFS\); not heard by: customer, supervisor`,
		`heard +(customer|agent) +".+" \(sentiment [-+]\d\.\d\d`, // speech to text, when pocketsphinx is installed (CI installs it)
		`mode +alice \(member \d+\) → whisper`,
		`heard by: agent \(-\d+ dBFS\); not heard by: customer\n`,
		`mode +alice \(member \d+\) → barge`,
		`heard by: customer \(-\d+ dBFS\), agent \(-\d+ dBFS\)\n`,
		`mode +alice \(member \d+\) → spy`,
		`final +[\d.]+s in: customer talked [1-9][\d.]*s, agent [1-9][\d.]*s .*coaching lines [1-9]`,
		`CLOSED +\(caller hung up\)`,
		`nothing left in the simulated FreeSWITCH`,
		`Redis has the call: \d+ events, states PENDING → ANSWERED → CONNECTED → CLOSED`,
		`controller serve`,
	}
	rest := got
	for _, s := range steps {
		loc := regexp.MustCompile(s).FindStringIndex(rest)
		if loc == nil {
			t.Fatalf("the timeline lacks %q after what came before\nstdout:\n%s\nstderr:\n%s", s, got, errb.String())
		}
		rest = rest[loc[1]:]
	}
	if strings.Contains(errb.String(), "level=ERROR") {
		t.Errorf("the demo logged errors:\n%s", errb.String())
	}
}

func TestDemoSaysWhatItDoesWithoutRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	cfg := defaultConfig()
	cfg.RedisAddr = addr
	note := demoRedis(context.Background(), &cfg)
	if cfg.RedisAddr != "" || !strings.Contains(note, "no Redis reachable at "+addr) || !strings.Contains(note, "printed here only") {
		t.Fatalf("redis addr %q, note %q", cfg.RedisAddr, note)
	}

	r := redistest.Start(t)
	cfg.RedisAddr = r.Addr()
	if note := demoRedis(context.Background(), &cfg); cfg.RedisAddr != r.Addr() || !strings.Contains(note, "Redis at "+r.Addr()) {
		t.Fatalf("redis addr %q, note %q", cfg.RedisAddr, note)
	}
}
