package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Handler carries a request out on this controller. It must honour ctx:
// it ends at the request's deadline.
type Handler interface {
	Handle(ctx context.Context, req Request) Reply
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) Reply

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req Request) Reply { return f(ctx, req) }

// ServerOptions configure a Server.
type ServerOptions struct {
	Redis      redis.UniversalClient
	Controller string
	Handler    Handler
	// MaxInFlight bounds the requests run at once (default 64); more wait.
	MaxInFlight int
	Logger      *slog.Logger
}

// Server takes this controller's commands off Redis.
type Server struct {
	opts ServerOptions
	log  *slog.Logger
	ps   *redis.PubSub
	sem  chan struct{}
	wg   sync.WaitGroup
	done chan struct{}
	stop context.CancelFunc
}

// Listen subscribes to the controller's command channel and returns once
// Redis confirmed it; requests are then served until Close. If Redis is
// unreachable it still returns, and go-redis keeps trying to subscribe.
func Listen(ctx context.Context, opts ServerOptions) (*Server, error) {
	if opts.Redis == nil || opts.Controller == "" || opts.Handler == nil {
		return nil, errors.New("command: Redis, Controller and Handler are required")
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, log: opts.Logger, sem: make(chan struct{}, opts.MaxInFlight), done: make(chan struct{})}
	s.ps = opts.Redis.Subscribe(ctx, Channel(opts.Controller))
	if _, err := s.ps.Receive(ctx); err != nil {
		s.log.Warn("commands: not subscribed yet (Redis unreachable?); retrying in the background", "err", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go s.run(rctx)
	return s, nil
}

// Close stops taking commands and waits for those running.
func (s *Server) Close() error {
	err := s.ps.Close()
	s.stop()
	<-s.done
	s.wg.Wait()
	return err
}

func (s *Server) run(ctx context.Context) {
	defer close(s.done)
	for msg := range s.ps.Channel() {
		var req Request
		if err := json.Unmarshal([]byte(msg.Payload), &req); err != nil || req.ID == "" {
			s.log.Warn("commands: malformed request ignored", "err", err, "bytes", len(msg.Payload))
			continue
		}
		if req.V != Version {
			s.reply(ctx, req, Reply{Code: CodeBadRequest, Error: fmt.Sprintf("request version %d; this controller speaks %d", req.V, Version)})
			continue
		}
		budget := time.Duration(req.TimeoutMS)*time.Millisecond - ReplyMargin
		if budget <= 0 {
			s.log.Warn("commands: request with no time left to carry it out; dropped", "id", req.ID, "op", req.Op, "call", req.Call, "timeout_ms", req.TimeoutMS)
			continue
		}
		deadline := time.Now().Add(budget)
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-s.sem }()
			hctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			rep := s.opts.Handler.Handle(hctx, req)
			s.reply(ctx, req, rep)
		}()
	}
}

func (s *Server) reply(ctx context.Context, req Request, rep Reply) {
	rep.V, rep.ID, rep.Controller, rep.Call = Version, req.ID, s.opts.Controller, req.Call
	if rep.Code == "" {
		rep.Code = OK
	}
	b, _ := json.Marshal(rep)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	pipe := s.opts.Redis.Pipeline()
	pipe.LPush(ctx, ReplyKey(req.ID), b)
	pipe.Expire(ctx, ReplyKey(req.ID), replyTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		s.log.Warn("commands: reply not delivered", "id", req.ID, "op", req.Op, "call", req.Call, "err", err)
	}
}
