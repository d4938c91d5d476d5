// Package redistest runs a real redis-server for tests, in the spirit of
// net/http/httptest: Start gives a private, throw-away server on a loopback port.
//
// The redis-server binary must be on PATH (./scripts/setup installs it). Tests fail,
// never skip, when it is missing: a skipped integration test hides a broken setup.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// startTimeout bounds how long a server may take to answer its first PING.
const startTimeout = 15 * time.Second

// Server is one redis-server process owned by a test.
type Server struct {
	t    testing.TB
	path string
	dir  string
	addr string

	mu      sync.Mutex
	proc    *process // nil while stopped
	clients []*redis.Client
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{}  // closed once Wait returned
	err    error          // Wait's result, valid after exited
	log    *logbuf.Buffer // redis' stdout+stderr (its log)
}

// Start starts redis-server without persistence in a temporary directory on a
// free 127.0.0.1 port and waits until it answers PING. The server and every
// client handed out by Client are closed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server is not on PATH (%v); run ./scripts/setup to install it", err)
	}
	s := &Server{t: t, path: path, dir: t.TempDir()}
	t.Cleanup(s.cleanup)

	// A free port can be taken by someone else between probing and redis binding
	// it, so try a few ports before giving up.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: finding a free port: %v", err)
		}
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Addr is host:port of the server; it stays the same across Stop/Restart.
func (s *Server) Addr() string { return s.addr }

// Options returns client options for this server, with short timeouts so that
// tests notice an outage quickly and without maintenance notifications (which
// redis 7 does not know).
func (s *Server) Options() *redis.Options {
	return &redis.Options{
		Addr:            s.addr,
		DialTimeout:     time.Second,
		ReadTimeout:     time.Second,
		WriteTimeout:    time.Second,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

// Client returns a new client for this server; it is closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(s.Options())
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	return c
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit.
func (s *Server) Stop() {
	s.t.Helper()
	s.halt(os.Interrupt)
}

// Kill ends the server abruptly (SIGKILL), as a crash or an OOM kill would, and
// waits for it to exit.
func (s *Server) Kill() {
	s.t.Helper()
	s.halt(os.Kill)
}

// Restart starts the server again on the same address after Stop or Kill. The
// data is gone: the server runs without persistence.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	// The port may linger for a moment after a kill; redis retries nothing itself.
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.start(); err == nil {
			return
		}
	}
	s.t.Fatalf("redistest: restarting on %s: %v", s.addr, err)
}

// Log returns what redis-server has logged so far (for failure messages).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return ""
	}
	return s.proc.log.String()
}

func (s *Server) start() error {
	s.mu.Lock()
	if s.proc != nil {
		s.mu.Unlock()
		return errors.New("redistest: server already running")
	}
	s.mu.Unlock()

	_, port, _ := net.SplitHostPort(s.addr)
	cmd := exec.Command(s.path,
		"--port", port,
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "",
		"--databases", "1",
	)
	cmd.Dir = s.dir
	log := &logbuf.Buffer{}
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", s.path, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{}), log: log}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := waitReady(ctx, s.addr, p); err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("redis-server on %s did not become ready: %w\nredis log:\n%s", s.addr, err, log.String())
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitReady polls PING until it succeeds, the process exits, or ctx ends.
func waitReady(ctx context.Context, addr string, p *process) error {
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		DialTimeout:     200 * time.Millisecond,
		MaxRetries:      -1,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	defer c.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("redis-server exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last PING error: %v)", ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func (s *Server) halt(sig os.Signal) {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("redistest: signalling redis-server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.exited
		s.t.Errorf("redistest: redis-server ignored %v for %v; killed it", sig, startTimeout)
	}
}

func (s *Server) cleanup() {
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.Close()
	}
	s.halt(os.Kill)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
