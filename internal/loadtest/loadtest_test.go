package loadtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The scripted conversation: one episode of customer overtalk (3–7 s,
// the coaching trigger), then turns without overtalk or long silence.
func TestSceneScript(t *testing.T) {
	overtalk, longestSilence, silence := 0, 0, 0
	for f := 0; f < 60*fps; f++ {
		a, c := talking(true, f), talking(false, f)
		if a && c {
			overtalk++
			if f < overtalkFrame || f >= 7*fps {
				t.Fatalf("overtalk at %v", time.Duration(f)*20*time.Millisecond)
			}
		}
		if !a && !c {
			silence++
			longestSilence = max(longestSilence, silence)
		} else {
			silence = 0
		}
	}
	if overtalk != 4*fps {
		t.Errorf("overtalk %d frames, want %d", overtalk, 4*fps)
	}
	if longestSilence > 1*fps {
		t.Errorf("a silence of %d frames would trigger dead-air coaching", longestSilence)
	}
}

// BenchmarkMonitoredCalls runs CALLCOACH_LOAD_CALLS (default 100) concurrent
// monitored calls through a controller process; see scripts/load for the
// search for the largest N.
//
//	go test -run XXX -bench MonitoredCalls -benchtime 1x ./internal/loadtest/
func BenchmarkMonitoredCalls(b *testing.B) {
	n := 100
	if v, err := strconv.Atoi(os.Getenv("CALLCOACH_LOAD_CALLS")); err == nil && v > 0 {
		n = v
	}
	bin := filepath.Join(b.TempDir(), "controller")
	build := exec.Command("go", "build", "-o", bin, "github.com/callcoach/callcoach/cmd/controller")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	var res Result
	for range b.N {
		var err error
		res, err = Run(context.Background(), Options{Calls: n, Controller: bin, Warmup: 8 * time.Second, Window: 10 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(res.PerCallRSS()/1024, "KiB/call")
	b.ReportMetric(1000*res.ControllerCPU/float64(n), "cpu-ms/s/call")
	b.ReportMetric(res.LatenessMaxMS, "lateness-max-ms")
	b.ReportMetric(float64(res.CoachP50)/float64(time.Millisecond), "coach-p50-ms")
	b.ReportMetric(float64(res.CoachP99)/float64(time.Millisecond), "coach-p99-ms")
	if !res.RealTime() {
		b.Errorf("not in real time: %s", res)
	}
}
