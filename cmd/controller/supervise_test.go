package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/registry"
)

// The test binary doubles as the controller: run with this variable set, it
// is `controller` (so the CLI and the controllers below are real processes).
const asControllerEnv = "CALLCOACH_TEST_RUN_CONTROLLER"

func TestMain(m *testing.M) {
	if os.Getenv(asControllerEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const supervisorsYAML = `supervisors:
  alice: {groups: [sales], phone: user/2001}
  bob:   {groups: [support], phone: user/2002}
  carol: {groups: ["*"], phone: user/2003}
agents:
  "1001": sales
  "1002": support
`

// controllerProc is a `controller serve` process.
type controllerProc struct {
	id      string
	cmd     *exec.Cmd
	eslAddr string
	log     *logbuf.Buffer
	exited  chan struct{}
}

var readyLine = regexp.MustCompile(`msg="controller ready" esl_listen=(\S+)`)

func startController(t *testing.T, ctx context.Context, id, eslAddr, redisAddr, supervisors string) *controllerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--controller-id", id, "--esl-addr", eslAddr, "--esl-listen", "127.0.0.1:0",
		"--fork-listen", "127.0.0.1:0", "--redis-addr", redisAddr, "--supervisors", supervisors, "--greeting", "",
		"--media-dir", t.TempDir(), "--registry-heartbeat", "300ms", "--shutdown-grace", "1s")
	cmd.Env = append(os.Environ(), asControllerEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &controllerProc{id: id, cmd: cmd, log: &logbuf.Buffer{}, exited: make(chan struct{})}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.log.Write([]byte(line + "\n"))
			if m := readyLine.FindStringSubmatch(line); m != nil {
				ready <- m[1]
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("controller %s log:\n%s", id, p.log.String())
		}
	})
	select {
	case p.eslAddr = <-ready:
	case <-p.exited:
		t.Fatalf("controller %s exited at start:\n%s", id, p.log.String())
	case <-ctx.Done():
		t.Fatalf("controller %s not ready:\n%s", id, p.log.String())
	}
	return p
}

// cli runs one supervisor command as a process.
func cli(t *testing.T, ctx context.Context, redisAddr string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), asControllerEnv+"=1", "CALLCOACH_REDIS_ADDR="+redisAddr, "CALLCOACH_SUPERVISOR=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("controller %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// Supervisors drive two controllers that share one Redis and one
// FreeSWITCH through the CLI, a process per command, as a person would.
func TestSupervisorCLIAcrossTwoControllers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rs := redistest.Start(t)
	rdb := rs.Client()
	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for dial, hz := range map[string]float64{"user/1001": 700, "user/1002": 900, "user/2001": 1100, "user/2002": 1300, "user/2003": 1500} {
		fs.AddEndpoint(dial, fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(hz, 5000)})
	}
	sup := filepath.Join(t.TempDir(), "supervisors.yaml")
	if err := os.WriteFile(sup, []byte(supervisorsYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	ctlA := startController(t, ctx, "ctl-a", fs.ESLAddr(), rs.Addr(), sup)
	ctlB := startController(t, ctx, "ctl-b", fs.ESLAddr(), rs.Addr(), sup)

	if _, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5550001", To: "1001", Socket: ctlA.eslAddr, Source: mixer.Tone(440, 5000)}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.PlaceCall(ctx, fakefs.InboundCall{From: "5550002", To: "1002", Socket: ctlB.eslAddr, Source: mixer.Tone(550, 5000)}); err != nil {
		t.Fatal(err)
	}
	reader := registry.Reader{Client: rdb}
	var sales, support registry.Record
	poll.Until(t, ctx, "both calls CONNECTED in the registry", func() bool {
		calls, _ := reader.List(ctx)
		sales, support = registry.Record{}, registry.Record{}
		for _, c := range calls {
			if c.State != "CONNECTED" {
				continue
			}
			switch c.Callee {
			case "1001":
				sales = c
			case "1002":
				support = c
			}
		}
		return sales.ID != "" && support.ID != ""
	})

	t.Run("calls lists both controllers' calls", func(t *testing.T) {
		out, errOut, code := cli(t, ctx, rs.Addr(), "calls", "--json")
		if code != 0 {
			t.Fatalf("calls --json: exit %d: %s", code, errOut)
		}
		var recs []registry.Record
		if err := json.Unmarshal([]byte(out), &recs); err != nil {
			t.Fatalf("calls --json printed %q: %v", out, err)
		}
		owners := map[string]string{}
		for _, r := range recs {
			owners[r.Callee] = r.Owner + "/" + r.Group + "/" + r.Caller
		}
		if owners["1001"] != "ctl-a/sales/5550001" || owners["1002"] != "ctl-b/support/5550002" || len(recs) != 2 {
			t.Fatalf("calls: %v", owners)
		}
		out, _, code = cli(t, ctx, rs.Addr(), "calls")
		if code != 0 || !strings.Contains(out, sales.ID[:8]) || !strings.Contains(out, support.ID[:8]) || strings.Count(out, "CONNECTED") != 2 {
			t.Fatalf("calls table (exit %d):\n%s", code, out)
		}
	})

	t.Run("shell completion offers the live calls", func(t *testing.T) {
		script, _, code := cli(t, ctx, rs.Addr(), "completion", "bash")
		if code != 0 {
			t.Fatalf("completion bash: exit %d", code)
		}
		// Complete `controller whisper <TAB>` the way bash does.
		shell := script + `
COMP_WORDS=(` + os.Args[0] + ` whisper "")
COMP_CWORD=2
_callcoach_controller
printf '%s\n' "${COMPREPLY[@]}"
`
		cmd := exec.CommandContext(ctx, "bash", "-c", shell)
		cmd.Env = append(os.Environ(), asControllerEnv+"=1", "CALLCOACH_REDIS_ADDR="+rs.Addr())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), sales.ID[:8]) || !strings.Contains(string(out), support.ID[:8]) {
			t.Fatalf("completions %q lack the live calls", out)
		}
	})

	t.Run("--help has examples and exit codes", func(t *testing.T) {
		out, _, code := cli(t, ctx, rs.Addr(), "whisper", "--help")
		if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "Exit codes:") {
			t.Fatalf("whisper --help: exit %d\n%s", code, out)
		}
	})

	monitor := func(rec registry.Record, name string) (registry.Monitor, bool) {
		r, err := reader.Get(ctx, rec.ID)
		if err != nil {
			return registry.Monitor{}, false
		}
		for _, m := range r.Monitors {
			if m.Name == name {
				return m, true
			}
		}
		return registry.Monitor{}, false
	}
	member := func(rec registry.Record, id int) fakefs.MemberInfo {
		info, _ := fs.Conference(rec.Conference)
		for _, m := range info.Members {
			if m.ID == id {
				return m
			}
		}
		t.Fatalf("member %d not in %s", id, rec.Conference)
		return fakefs.MemberInfo{}
	}

	t.Run("whisper, barge, spy through the owner", func(t *testing.T) {
		for _, tc := range []struct {
			mode     string
			canSpeak bool
		}{{"whisper", true}, {"barge", true}, {"spy", false}} {
			// A prefix of the id, as `calls` shows it.
			out, errOut, code := cli(t, ctx, rs.Addr(), tc.mode, sales.ID[:8], "--as", "alice")
			if code != 0 || !strings.Contains(out, "alice: "+tc.mode+" on call "+sales.ID[:8]) {
				t.Fatalf("%s: exit %d\n%s%s", tc.mode, code, out, errOut)
			}
			var m registry.Monitor
			poll.Until(t, ctx, "alice in "+tc.mode+" in the registry", func() bool {
				var ok bool
				m, ok = monitor(sales, "alice")
				return ok && m.Mode == tc.mode
			})
			if got := member(sales, m.MemberID); got.CanSpeak != tc.canSpeak {
				t.Fatalf("%s: alice's member can speak = %v in FreeSWITCH", tc.mode, got.CanSpeak)
			}
		}
	})

	t.Run("a supervisor of another group is refused", func(t *testing.T) {
		_, errOut, code := cli(t, ctx, rs.Addr(), "whisper", support.ID, "--as", "alice")
		if code != exitDenied || !strings.Contains(errOut, "alice may monitor agents of sales") {
			t.Fatalf("exit %d, want %d: %s", code, exitDenied, errOut)
		}
		_, errOut, code = cli(t, ctx, rs.Addr(), "coach", support.ID, "hello", "--as", "mallory")
		if code != exitDenied || !strings.Contains(errOut, "not in the supervisors file") {
			t.Fatalf("unknown supervisor: exit %d: %s", code, errOut)
		}
		if _, ok := monitor(support, "alice"); ok {
			t.Fatal("alice joined a call she may not monitor")
		}
	})

	t.Run("coach speaks to the agent alone", func(t *testing.T) {
		out, errOut, code := cli(t, ctx, rs.Addr(), "coach", support.ID, "Offer the callback option", "--as", "bob", "--json")
		if code != 0 {
			t.Fatalf("coach: exit %d: %s", code, errOut)
		}
		var rep command.Reply
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.HeardBy != "agent" || rep.Controller != "ctl-b" {
			t.Fatalf("coach reply %q (%v)", out, err)
		}
	})

	t.Run("DTMF on the supervisor's phone switches mode", func(t *testing.T) {
		if _, errOut, code := cli(t, ctx, rs.Addr(), "spy", support.ID[:8], "--as", "bob"); code != 0 {
			t.Fatalf("spy: exit %d: %s", code, errOut)
		}
		var leg *fakefs.Channel
		poll.Until(t, ctx, "bob's leg", func() bool {
			for _, ch := range fs.Channels() {
				if ch.Var("cc_call") == support.ID && ch.Var("cc_role") == "monitor" {
					leg = ch
				}
			}
			return leg != nil
		})
		leg.PressDigit('3')
		poll.Until(t, ctx, "bob in barge after pressing 3", func() bool {
			m, ok := monitor(support, "bob")
			return ok && m.Mode == "barge"
		})
		leg.PressDigit('1')
		poll.Until(t, ctx, "bob back in spy after pressing 1", func() bool {
			m, ok := monitor(support, "bob")
			return ok && m.Mode == "spy"
		})
	})

	t.Run("leave", func(t *testing.T) {
		if out, errOut, code := cli(t, ctx, rs.Addr(), "leave", sales.ID[:8], "--as", "alice"); code != 0 {
			t.Fatalf("leave: exit %d: %s%s", code, out, errOut)
		}
		poll.Until(t, ctx, "alice gone from the call", func() bool {
			_, ok := monitor(sales, "alice")
			return !ok
		})
		if _, errOut, code := cli(t, ctx, rs.Addr(), "leave", sales.ID[:8], "--as", "alice"); code != exitFailed || !strings.Contains(errOut, "not on call") {
			t.Fatalf("leave twice: exit %d: %s", code, errOut)
		}
	})

	t.Run("watch updates in place in a terminal", func(t *testing.T) {
		tm := startTmux(t, ctx, rs.Addr(), "watch", sales.ID[:8])
		header := "callcoach watch: call " + sales.ID
		poll.Until(t, ctx, "the watch view", func() bool {
			screen := tm.capture()
			return strings.Contains(screen, header) && strings.Contains(screen, "caller 5550001 -> agent 1001 (group sales)") &&
				strings.Contains(screen, "talk: agent")
		})
		if _, errOut, code := cli(t, ctx, rs.Addr(), "coach", sales.ID[:8], "Ask for the order number", "--as", "alice"); code != 0 {
			t.Fatalf("coach: exit %d: %s", code, errOut)
		}
		poll.Until(t, ctx, "the coaching line on the watch view", func() bool {
			return strings.Contains(tm.capture(), "alice -> agent: Ask for the order number")
		})
		screen := tm.capture()
		if n := strings.Count(screen, "callcoach watch:"); n != 1 {
			t.Fatalf("the view was appended, not redrawn: %d headers on screen:\n%s", n, screen)
		}
		t.Logf("the watch view:\n%s", screen)
		tm.keys("C-c")
		poll.Until(t, ctx, "watch to quit on Ctrl-C", func() bool {
			return strings.Contains(tm.capture(), "watch exited 0")
		})
	})

	t.Run("watch without a call shows every call, redrawn", func(t *testing.T) {
		tm := startTmux(t, ctx, rs.Addr(), "watch")
		poll.Until(t, ctx, "both calls on the overview", func() bool {
			screen := tm.capture()
			return strings.Contains(screen, "2 live call(s)") && strings.Contains(screen, sales.ID[:8]) && strings.Contains(screen, support.ID[:8])
		})
		// The clock in the header ticks every second: wait for a redraw.
		first := tm.capture()
		poll.Until(t, ctx, "a redraw", func() bool { return tm.capture() != first })
		if n := strings.Count(tm.capture(), "live call(s)"); n != 1 {
			t.Fatalf("the overview was appended, not redrawn:\n%s", tm.capture())
		}
		tm.keys("C-c")
		poll.Until(t, ctx, "watch to quit on Ctrl-C", func() bool { return strings.Contains(tm.capture(), "watch exited 0") })
	})

	t.Run("unknown calls", func(t *testing.T) {
		if _, errOut, code := cli(t, ctx, rs.Addr(), "hangup", "deadbeef", "--as", "carol"); code != exitUnknownCall || !strings.Contains(errOut, "unknown call") {
			t.Fatalf("hangup deadbeef: exit %d: %s", code, errOut)
		}
		if _, _, code := cli(t, ctx, rs.Addr(), "whisper"); code != exitUsage {
			t.Fatalf("whisper without a call: exit %d, want %d", code, exitUsage)
		}
	})

	t.Run("a killed controller's calls are reported orphaned", func(t *testing.T) {
		if err := ctlB.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-ctlB.exited
		poll.Until(t, ctx, "the support call orphaned", func() bool {
			r, err := reader.Get(ctx, support.ID)
			return err == nil && r.Orphaned
		})
		out, _, code := cli(t, ctx, rs.Addr(), "calls")
		if code != 0 || !strings.Contains(out, "ORPHANED") || !strings.Contains(out, support.ID) || !strings.Contains(out, "1 orphaned call") {
			t.Fatalf("calls after the kill (exit %d):\n%s", code, out)
		}
		_, errOut, code := cli(t, ctx, rs.Addr(), "whisper", support.ID[:8], "--as", "bob")
		if code != exitUnreachable || !strings.Contains(errOut, "orphaned") {
			t.Fatalf("command to a dead owner: exit %d: %s", code, errOut)
		}
		// The other controller's call is untouched.
		if r, err := reader.Get(ctx, sales.ID); err != nil || r.Orphaned || r.State != "CONNECTED" {
			t.Fatalf("the sales call after ctl-b died: %+v %v", r, err)
		}
	})

	t.Run("hangup, then the call is closed", func(t *testing.T) {
		if _, errOut, code := cli(t, ctx, rs.Addr(), "hangup", sales.ID[:8], "--as", "carol"); code != 0 {
			t.Fatalf("hangup: exit %d: %s", code, errOut)
		}
		poll.Until(t, ctx, "the sales call gone from the registry", func() bool {
			_, err := reader.Get(ctx, sales.ID)
			return errors.Is(err, registry.ErrUnknownCall)
		})
		_, errOut, code := cli(t, ctx, rs.Addr(), "whisper", sales.ID, "--as", "alice")
		if code != exitUnknownCall || !strings.Contains(errOut, "already closed") {
			t.Fatalf("whisper on a closed call: exit %d: %s", code, errOut)
		}
	})

	t.Run("audit has every action", func(t *testing.T) {
		out, errOut, code := cli(t, ctx, rs.Addr(), "audit", "--json")
		if code != 0 {
			t.Fatalf("audit: exit %d: %s", code, errOut)
		}
		var entries []audit.Entry
		if err := json.Unmarshal([]byte(out), &entries); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			s := e.Supervisor + " " + e.Action + " " + e.Mode + " " + e.Via
			if e.Action == audit.Ended && (e.Since.IsZero() || e.Until.Before(e.Since)) {
				t.Errorf("ended entry without since/until: %+v", e)
			}
			got = append(got, strings.TrimSpace(s))
		}
		want := []string{
			"alice monitor whisper cli", "alice mode barge cli", "alice ended whisper", "alice mode spy cli", "alice ended barge",
			"alice denied whisper cli", "mallory denied coach cli", "bob coach  cli",
			"bob monitor spy cli", "bob mode barge dtmf", "bob ended spy", "bob mode spy dtmf", "bob ended barge",
			"alice leave spy cli", "alice ended spy", "carol hangup  cli",
		}
		// The ends are written in the background: compare as sets, in order per supervisor.
		for _, w := range want {
			if !contains(got, w) {
				t.Errorf("audit lacks %q", w)
			}
		}
		if t.Failed() {
			t.Logf("audit: %q", got)
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tmuxPane runs a CLI command in a real terminal (a detached tmux session
// on a private server) so its screen can be read as a person sees it.
type tmuxPane struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, ctx context.Context, redisAddr string, args ...string) *tmuxPane {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux is not installed (%v); run ./scripts/setup", err)
	}
	p := &tmuxPane{t: t, socket: filepath.Join(t.TempDir(), "tmux.sock")}
	shell := fmt.Sprintf("env %s=1 CALLCOACH_REDIS_ADDR=%s %s %s; echo \"watch exited $?\"; exec cat",
		asControllerEnv, redisAddr, os.Args[0], strings.Join(args, " "))
	if out, err := exec.CommandContext(ctx, "tmux", "-S", p.socket, "-f", "/dev/null", "new-session", "-d", "-x", "150", "-y", "40", "-s", "cc", shell).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", p.socket, "kill-server").Run() })
	return p
}

func (p *tmuxPane) capture() string {
	out, err := exec.Command("tmux", "-S", p.socket, "capture-pane", "-p", "-t", "cc").Output()
	if err != nil {
		p.t.Fatalf("tmux capture-pane: %v", err)
	}
	return string(out)
}

func (p *tmuxPane) keys(k string) {
	if err := exec.Command("tmux", "-S", p.socket, "send-keys", "-t", "cc", k).Run(); err != nil {
		p.t.Fatalf("tmux send-keys: %v", err)
	}
}
