// Package loadtest drives many concurrent monitored calls through a real
// controller process against the fake FreeSWITCH, and measures whether the
// controller keeps real time, what each call costs it, and how fast coaching
// reaches the agent. scripts/load and the benchmarks use it.
package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/pace"
)

// Options of one load run.
type Options struct {
	Calls      int
	Rate       int           // calls placed per second (default 200)
	Warmup     time.Duration // after the last call connects, before measuring (default 10 s)
	Window     time.Duration // the measuring window (default 20 s)
	Controller string        // the controller binary
	Redis      string        // Redis address for the controller; "" for none
	Progress   io.Writer     // progress lines; nil for none
}

// Result of one load run.
type Result struct {
	Calls, Connected int
	Window           time.Duration
	// FakeRealTime is the fake's media ticks over the window's 20 ms ticks
	// (1 = the fake kept real time; below, the machine could not carry it).
	FakeRealTime float64
	// Analysed is the frames the controller analysed in the window over the
	// frames the calls produced (1 = every frame analysed in real time).
	Analysed      float64
	LatenessMaxMS float64 // worst arrival → analysis delay of any live call
	// BehindMaxMS: the worst delay of the audio's arrival at the controller
	// against its own clock (the fake's fork or the network running late),
	// over the calls' lives, set-up burst included; BehindWindowMS: the
	// worst of that delay sampled every 250 ms during the window.
	BehindMaxMS, BehindWindowMS float64
	LostFrames                  uint64
	// Controller process: CPU in cores over the window, RSS before the calls and under load.
	ControllerCPU              float64
	ControllerRSSIdle, LoadRSS uint64
	// The controller's Go runtime under load: goroutines, heap and stacks in use.
	Goroutines            int
	HeapBytes, StackBytes uint64
	FakeCPU               float64 // this process (the fake and the driver), cores
	// Coaching: from the moment the trigger held in the audio (the customer
	// had talked over the agent for 2 s) to the fake's play-file-member.
	Coached                      int
	CoachP50, CoachP99, CoachMax time.Duration
}

// PerCallRSS is the controller's resident memory per call.
func (r Result) PerCallRSS() float64 {
	if r.Calls == 0 || r.LoadRSS < r.ControllerRSSIdle {
		return 0
	}
	return float64(r.LoadRSS-r.ControllerRSSIdle) / float64(r.Calls)
}

// RealTime: every call connected, analysed and coached, the fake and the
// controller in real time, and no frame more than 100 ms late — neither
// waiting for analysis after arrival (over the calls' lives), nor arriving
// late against the audio's own clock during the window (the fake and the
// controller share this machine's CPUs).
func (r Result) RealTime() bool {
	return r.Connected == r.Calls && r.FakeRealTime >= 0.99 && r.Analysed >= 0.98 &&
		r.LatenessMaxMS <= 100 && r.BehindWindowMS <= 100 && r.Coached == r.Calls
}

func (r Result) String() string {
	return fmt.Sprintf("calls %d (connected %d): fake real-time %.3f, analysed %.3f, lateness max %.1f ms, audio arriving up to %.0f ms behind in the window (%.0f ms at set-up), lost frames %d; controller CPU %.2f cores (%.2f ms/s per call), RSS %.1f MiB idle → %.1f MiB (%.1f KiB per call; heap %.1f MiB, stacks %.1f MiB, %d goroutines); fake+driver CPU %.2f cores; coaching %d/%d, latency p50 %v p99 %v max %v; real time: %v",
		r.Calls, r.Connected, r.FakeRealTime, r.Analysed, r.LatenessMaxMS, r.BehindWindowMS, r.BehindMaxMS, r.LostFrames,
		r.ControllerCPU, 1000*r.ControllerCPU/float64(max(r.Calls, 1)), mib(r.ControllerRSSIdle), mib(r.LoadRSS), r.PerCallRSS()/1024, mib(r.HeapBytes), mib(r.StackBytes), r.Goroutines,
		r.FakeCPU, r.Coached, r.Calls, r.CoachP50.Round(time.Millisecond), r.CoachP99.Round(time.Millisecond), r.CoachMax.Round(time.Millisecond), r.RealTime())
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// Run does one load run.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Warmup <= 0 {
		o.Warmup = 10 * time.Second
	}
	if o.Window <= 0 {
		o.Window = 20 * time.Second
	}
	progress := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "load: "+format+"\n", args...)
		}
	}
	res := Result{Calls: o.Calls, Window: o.Window}

	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		return res, err
	}
	defer fs.Close()

	ctl, err := startController(ctx, o, fs.ESLAddr())
	if err != nil {
		return res, err
	}
	defer ctl.stop()
	res.ControllerRSSIdle = rss(ctl.cmd.Process.Pid)

	// Coaching plays, seen as FreeSWITCH reports them.
	watch, err := esl.Dial(ctx, esl.ClientOptions{Addr: fs.ESLAddr(), Password: "ClueCon", Events: []string{"conference::maintenance"}})
	if err != nil {
		return res, err
	}
	defer watch.Close()
	plays := watch.Subscribe(func(ev *esl.Event) bool {
		ce, ok := ev.Conference()
		return ok && ce.Action == "play-file-member"
	})

	scenes := make(map[string]*scene, o.Calls)
	callers := make([]*fakefs.Channel, 0, o.Calls)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, o.Calls)
	tick := time.NewTicker(time.Second / time.Duration(o.Rate))
	for i := range o.Calls {
		number := strconv.Itoa(100000 + i)
		sc := newScene()
		scenes[number] = sc
		fs.AddEndpoint("user/"+number, fakefs.Party{Behaviour: fakefs.Answer, Source: sc.agent()})
		select {
		case <-tick.C:
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5550000", To: number, Socket: ctl.eslAddr, Source: sc.customer()})
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			callers = append(callers, ch)
			mu.Unlock()
		}()
	}
	tick.Stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		return res, fmt.Errorf("placing calls: %w", err)
	}
	defer func() {
		for _, ch := range callers {
			ch.Hangup("NORMAL_CLEARING")
		}
	}()

	// Coaching plays, measured as they come.
	var latMu sync.Mutex
	var latencies []time.Duration
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for ev := range plays.C() {
			if sc := scenes[ev.Get("Caller-Destination-Number")]; sc != nil {
				if d, ok := sc.latency(ev); ok {
					latMu.Lock()
					latencies = append(latencies, d)
					latMu.Unlock()
				}
			}
		}
	}()
	defer func() { plays.Close(); <-consumed }()

	deadline := time.Now().Add(30*time.Second + time.Duration(o.Calls)*time.Second/time.Duration(o.Rate))
	for {
		st, err := ctl.status(ctx)
		if err != nil {
			return res, err
		}
		if st.Connected == o.Calls {
			break
		}
		if time.Now().After(deadline) {
			res.Connected = st.Connected
			return res, fmt.Errorf("only %d of %d calls connected", st.Connected, o.Calls)
		}
		if err := pace.Sleep(ctx, 200*time.Millisecond); err != nil {
			return res, err
		}
	}
	progress("%d calls connected; warming up %v", o.Calls, o.Warmup)
	if err := pace.Sleep(ctx, o.Warmup); err != nil {
		return res, err
	}

	// The window.
	st0, err := ctl.status(ctx)
	if err != nil {
		return res, err
	}
	t0, fr0, cpu0, self0 := time.Now(), fs.MediaFrames(), cpuTime(ctl.cmd.Process.Pid), cpuTime(os.Getpid())
	if path := os.Getenv("LOADTEST_CPU_PROFILE"); path != "" {
		ctl.saveProfile(ctx, "profile?seconds="+strconv.Itoa(int(o.Window.Seconds())), path)
	} else {
		for end := t0.Add(o.Window); time.Now().Before(end); {
			if err := pace.Sleep(ctx, 250*time.Millisecond); err != nil {
				return res, err
			}
			if st, err := ctl.status(ctx); err == nil {
				res.BehindWindowMS = max(res.BehindWindowMS, st.BehindNowMS)
			}
		}
	}
	st1, err := ctl.status(ctx)
	if err != nil {
		return res, err
	}
	elapsed, fr1, cpu1, self1 := time.Since(t0), fs.MediaFrames(), cpuTime(ctl.cmd.Process.Pid), cpuTime(os.Getpid())
	res.LoadRSS = rss(ctl.cmd.Process.Pid)
	if path := os.Getenv("LOADTEST_HEAP_PROFILE"); path != "" {
		ctl.saveProfile(ctx, "heap?gc=1", path)
	}
	if path := os.Getenv("LOADTEST_GOROUTINES"); path != "" {
		ctl.saveProfile(ctx, "goroutine?debug=1", path)
	}
	latMu.Lock()
	latencies = slices.Clone(latencies)
	latMu.Unlock()

	ticks := elapsed.Seconds() * 50
	res.Connected = st1.Connected
	res.FakeRealTime = float64(fr1-fr0) / ticks
	res.Analysed = float64(st1.Frames-st0.Frames) / (ticks * float64(o.Calls))
	res.LatenessMaxMS = st1.LatenessMaxMS
	res.BehindMaxMS = st1.BehindMaxMS
	res.Goroutines, res.HeapBytes, res.StackBytes = st1.Goroutines, st1.HeapBytes, st1.StackBytes
	res.LostFrames = st1.LostFrames
	res.ControllerCPU = (cpu1 - cpu0).Seconds() / elapsed.Seconds()
	res.FakeCPU = (self1 - self0).Seconds() / elapsed.Seconds()
	res.Coached = len(latencies)
	if len(latencies) > 0 {
		slices.Sort(latencies)
		res.CoachP50 = latencies[len(latencies)/2]
		res.CoachP99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
		res.CoachMax = latencies[len(latencies)-1]
	}
	progress("%s", res)
	return res, nil
}

// scene is one call's scripted conversation, timed from the agent's
// answer: the agent talks from 0 to 7 s, the customer talks over from 3 s
// to 8 s (the coaching trigger holds at 5 s: 2 s of customer overtalk),
// then they take turns, 3 s each with 1 s gaps, without overtalk or dead air.
type scene struct {
	mu        sync.Mutex
	frame     int // 20 ms frames since the agent answered; -1 before
	triggered time.Time
	counted   bool
}

const (
	fps             = 50
	overtalkFrame   = 3 * fps
	triggerAfter    = 2 * time.Second
	amplitude       = 7194
	customerFreq    = 440
	agentFreq       = 880
	turnPeriodFrame = 8 * fps
)

func newScene() *scene { return &scene{frame: -1} }

func (s *scene) agent() fakefs.Source {
	return &voice{s: s, agent: true, tone: mixer.Tone(agentFreq, amplitude)}
}
func (s *scene) customer() fakefs.Source {
	return &voice{s: s, tone: mixer.Tone(customerFreq, amplitude)}
}

// latency is the time from the trigger to a coaching play event, for the
// scene's first play.
func (s *scene) latency(ev *esl.Event) (time.Duration, bool) {
	us, err := strconv.ParseInt(ev.Get("Event-Date-Timestamp"), 10, 64)
	if err != nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.counted || s.triggered.IsZero() {
		return 0, false
	}
	s.counted = true
	// A play within the trigger's own frame can precede the frame's start.
	return max(0, time.UnixMicro(us).Sub(s.triggered)), true
}

func talking(agent bool, f int) bool {
	switch {
	case f < 0:
		return false
	case f < 9*fps:
		if agent {
			return f < 7*fps
		}
		return f >= 3*fps && f < 8*fps
	}
	p := (f - 9*fps) % turnPeriodFrame
	if agent {
		return p < 3*fps
	}
	return p >= 4*fps && p < 7*fps
}

type voice struct {
	s     *scene
	agent bool
	tone  mixer.Source
}

// Read is called by the fake's media clock, once per leg per 20 ms; the
// agent's leg advances the scene's clock.
func (v *voice) Read(frame []int16) bool {
	v.s.mu.Lock()
	if v.agent {
		v.s.frame++
		if v.s.frame == overtalkFrame {
			// The trigger holds 2 s of audio after the customer starts
			// talking over: measured to the 20 ms frame.
			v.s.triggered = time.Now().Add(triggerAfter)
		}
	}
	f := v.s.frame
	v.s.mu.Unlock()
	if !talking(v.agent, f) {
		clear(frame)
		return false
	}
	return v.tone.Read(frame)
}

// controller is the controller process under load.
type controller struct {
	cmd      *exec.Cmd
	eslAddr  string
	httpAddr string
	logPath  string
	done     chan error
}

type stats struct {
	Calls         int     `json:"calls"`
	Connected     int     `json:"connected"`
	Frames        uint64  `json:"frames"`
	LostFrames    uint64  `json:"lost_frames"`
	LatenessMaxMS float64 `json:"lateness_max_ms"`
	BehindMaxMS   float64 `json:"arrival_behind_max_ms"`
	BehindNowMS   float64 `json:"arrival_behind_now_ms"`
	Goroutines    int     `json:"goroutines"`
	HeapBytes     uint64  `json:"heap_bytes"`
	StackBytes    uint64  `json:"stack_bytes"`
}

func startController(ctx context.Context, o Options, fsAddr string) (*controller, error) {
	eslAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "callcoach-load-")
	if err != nil {
		return nil, err
	}
	c := &controller{eslAddr: eslAddr, httpAddr: httpAddr, logPath: filepath.Join(dir, "controller.log"), done: make(chan error, 1)}
	logf, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(o.Controller, "serve",
		"--esl-addr", fsAddr, "--esl-listen", eslAddr, "--fork-listen", httpAddr,
		"--redis-addr", o.Redis, "--agent-dial", "user/${destination_number}", "--greeting", "",
		"--media-dir", filepath.Join(dir, "media"), "--log-level", logLevel(), "--shutdown-grace", "5s", "--pprof")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting the controller: %w", err)
	}
	go func() { c.done <- c.cmd.Wait(); logf.Close() }()
	for range 100 {
		if _, err := c.status(ctx); err == nil {
			return c, nil
		}
		select {
		case err := <-c.done:
			return nil, fmt.Errorf("the controller exited: %v\n%s", err, c.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.stop()
	return nil, fmt.Errorf("the controller did not come up\n%s", c.logTail())
}

func (c *controller) status(ctx context.Context) (stats, error) {
	var s stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/status", nil)
	if err != nil {
		return s, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("controller status: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

func (c *controller) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	if keep := os.Getenv("LOADTEST_KEEP_LOG"); keep != "" {
		if b, err := os.ReadFile(c.logPath); err == nil {
			_ = os.WriteFile(keep, b, 0o644)
		}
	}
	_ = os.RemoveAll(filepath.Dir(c.logPath))
}

func (c *controller) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cpuTime is a process's user+system CPU time (Linux /proc).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

// rss is a process's resident set size in bytes (Linux /proc).
func rss(pid int) uint64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func logLevel() string {
	if os.Getenv("LOADTEST_KEEP_LOG") != "" {
		return "info"
	}
	return "warn"
}

// saveProfile fetches one of the controller's pprof profiles (for looking
// into what a call costs).
func (c *controller) saveProfile(ctx context.Context, name, path string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.httpAddr+"/debug/pprof/"+name, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	_ = os.WriteFile(path, b, 0o644)
}
