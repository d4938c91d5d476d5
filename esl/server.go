package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("esl: server closed")

// DefaultConnectTimeout bounds the `connect` exchange with a new call.
const DefaultConnectTimeout = 10 * time.Second

// Server accepts the connections FreeSWITCH's dialplan `socket host:port
// async full` application makes, one per call, and hands each call to Handler.
type Server struct {
	// Allow lists the peers that may connect. Empty: loopback only, because an
	// outbound socket drives calls and must not be reachable by strangers.
	Allow []netip.Prefix
	// Handler runs once per call, in its own goroutine. Its ctx is cancelled
	// when the server is closed (or Shutdown's grace runs out); the call's own
	// end is Call.Done(). The connection is closed when Handler returns —
	// which does not hang the call up (FreeSWITCH's dialplan continues).
	Handler func(ctx context.Context, call *Call)
	Logger  *slog.Logger
	// ConnectTimeout bounds the `connect` exchange (default 10 s).
	ConnectTimeout time.Duration
	Limits         Limits
	WriteTimeout   time.Duration

	mu       sync.Mutex
	ln       net.Listener
	closing  bool
	calls    map[*Conn]struct{}
	handlers sync.WaitGroup
	base     context.Context
	cancel   context.CancelFunc
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Listen opens the listening socket; Serve then accepts on it. Separate so a
// caller (or a test) knows the address before calls arrive.
func (s *Server) Listen(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("esl: listen %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	return ln.Addr(), nil
}

// Addr is the listening address, once Listen has run.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// ListenAndServe listens on addr and serves until ctx ends or the server is
// closed.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	if _, err := s.Listen(addr); err != nil {
		return err
	}
	return s.Serve(ctx)
}

// Serve accepts calls on the socket opened by Listen until ctx ends or the
// server is shut down. When ctx ends, it behaves as Close.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	if ln == nil {
		s.mu.Unlock()
		return errors.New("esl: Serve before Listen")
	}
	if s.base == nil {
		s.base, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
		s.calls = make(map[*Conn]struct{})
	}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()

	log := s.logger()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of descriptors or a transient failure: back off, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				log.Error("esl: accept failed; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
				case <-ctx.Done():
				}
				continue
			}
			return fmt.Errorf("esl: accept: %w", err)
		}
		delay = 0
		if !s.allowed(nc.RemoteAddr()) {
			log.Warn("esl: refused outbound connection from a peer not allowed", "peer", nc.RemoteAddr())
			_ = nc.Close()
			continue
		}
		if !s.startHandler() {
			_ = nc.Close()
			return ErrServerClosed
		}
		go s.serveConn(nc)
	}
}

func (s *Server) startHandler() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) allowed(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	if len(s.Allow) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range s.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.handlers.Done()
	log := s.logger()
	conn := newConn(nc, connOptions{logger: log, limits: s.Limits, writeTimeout: s.WriteTimeout})
	if !s.track(conn) {
		_ = conn.Close()
		return
	}
	defer s.untrack(conn)
	defer conn.Close()

	timeout := s.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(s.base, timeout)
	call, err := connectCall(ctx, conn, log)
	cancel()
	if err != nil {
		log.Error("esl: outbound connection failed before the call could be handled", "peer", nc.RemoteAddr(), "err", err)
		return
	}
	if s.Handler == nil {
		log.Error("esl: no handler; closing the call's socket", "uuid", call.UUID())
		return
	}
	func() {
		defer func() {
			// A bug in one call's handler must not take down every call.
			if r := recover(); r != nil {
				log.Error("esl: call handler panicked", "uuid", call.UUID(), "panic", r)
			}
		}()
		s.Handler(s.base, call)
	}()
	call.closeEvents()
}

func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing && s.cancelled() {
		return false
	}
	s.calls[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.calls, c)
}

func (s *Server) cancelled() bool { return s.base.Err() != nil }

// Shutdown stops accepting calls and waits for the running handlers to
// finish — live calls end on their own. When ctx ends first, it cancels the
// handlers' context, closes their sockets (the calls themselves go on in
// FreeSWITCH, unmonitored), waits for them and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	idle := make(chan struct{})
	go func() { s.handlers.Wait(); close(idle) }()
	select {
	case <-idle:
		if s.cancel != nil {
			s.cancel()
		}
		return nil
	case <-ctx.Done():
		s.abort()
		<-idle
		return ctx.Err()
	}
}

// Close stops accepting, cancels every handler's context, closes every call's
// socket and waits for the handlers to return.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closing = true
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	s.abort()
	s.handlers.Wait()
	return nil
}

func (s *Server) abort() {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	conns := make([]*Conn, 0, len(s.calls))
	for c := range s.calls {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(ErrServerClosed)
	}
}
