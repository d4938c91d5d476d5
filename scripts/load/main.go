// Command load runs N concurrent monitored calls through a controller
// process against the fake FreeSWITCH and reports whether the controller
// kept real time, its CPU and memory per call, and coaching latency.
//
//	go run ./scripts/load -calls 500,1000,2000
//
// Each N is a separate run (a fresh controller and fake); the largest N
// that held real time is reported last.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/callcoach/callcoach/internal/loadtest"
)

func main() {
	calls := flag.String("calls", "100,250,500,1000,2000", "comma-separated numbers of concurrent calls, one run each")
	rate := flag.Int("rate", 200, "calls placed per second")
	warmup := flag.Duration("warmup", 10*time.Second, "after the last call connects, before measuring")
	window := flag.Duration("window", 20*time.Second, "measuring window")
	redis := flag.String("redis", "", "Redis address for the controller (empty: none)")
	stopEarly := flag.Bool("stop", true, "stop at the first N that does not hold real time")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	dir, err := os.MkdirTemp("", "callcoach-load-bin-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "controller")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/controller")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fail(fmt.Errorf("building the controller (run from the repository root): %w", err))
	}

	host, _ := os.Hostname()
	fmt.Printf("machine: %s, %d CPUs, %s; fake and controller share it\n", host, runtime.NumCPU(), runtime.Version())
	best := 0
	for _, f := range strings.Split(*calls, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-calls: %q", f))
		}
		res, err := loadtest.Run(ctx, loadtest.Options{Calls: n, Rate: *rate, Warmup: *warmup, Window: *window, Controller: bin, Redis: *redis, Progress: os.Stderr})
		if err != nil {
			fmt.Printf("N=%d: failed: %v\n", n, err)
			if *stopEarly {
				break
			}
			continue
		}
		fmt.Printf("N=%d: %s\n", n, res)
		if res.RealTime() {
			best = n
		} else if *stopEarly {
			break
		}
	}
	fmt.Printf("largest N in real time: %d\n", best)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}
