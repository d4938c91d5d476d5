package esl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/percipia/eslgo/command"
)

// ClientOptions configure an inbound connection to FreeSWITCH's event socket.
type ClientOptions struct {
	Addr     string // host:port, e.g. 127.0.0.1:8021
	Password string
	// Events to listen for; BACKGROUND_JOB is always added (BgAPI needs it).
	// Names with "::" are CUSTOM subclasses.
	Events []string
	Logger *slog.Logger
	// Backoff between reconnection attempts, doubling from MinBackoff to
	// MaxBackoff (defaults 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
	DialTimeout            time.Duration // default 5 s
	Limits                 Limits
	WriteTimeout           time.Duration
	// OnConnect runs after every (re)connection, once authenticated and
	// subscribed, before commands flow: events sent while disconnected are
	// lost, so this is where a user resynchronises (e.g. conference json_list).
	OnConnect func(ctx context.Context, c *Conn)
}

// Client is an inbound event socket connection that reconnects with backoff
// and re-subscribes. One Client is shared safely by every call.
type Client struct {
	opts ClientOptions
	log  *slog.Logger
	hub  *hub

	mu        sync.Mutex
	conn      *Conn
	connected chan struct{} // closed while conn is usable; replaced on loss

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	closing atomic.Bool // Close said exit: the connection's end is ours
}

// Dial connects and authenticates. The first connection must succeed, so a
// wrong address or password is reported at once; later losses are repaired
// in the background until Close.
func Dial(ctx context.Context, opts ClientOptions) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if !contains(opts.Events, "BACKGROUND_JOB") {
		opts.Events = append([]string{"BACKGROUND_JOB"}, opts.Events...)
	}
	cl := &Client{opts: opts, log: opts.Logger, hub: &hub{}, connected: make(chan struct{}), done: make(chan struct{})}
	conn, err := cl.connect(ctx)
	if err != nil {
		return nil, err
	}
	cl.ctx, cl.cancel = context.WithCancel(context.WithoutCancel(ctx))
	cl.setConn(conn)
	go cl.supervise(conn)
	return cl, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (cl *Client) connect(ctx context.Context) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, cl.opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", cl.opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", cl.opts.Addr, err)
	}
	c := newConn(nc, connOptions{logger: cl.log, limits: cl.opts.Limits, writeTimeout: cl.opts.WriteTimeout, hub: cl.hub})
	fail := func(err error) (*Conn, error) {
		_ = c.Close()
		if c.Err() != nil && !errors.Is(c.Err(), ErrClosed) {
			err = fmt.Errorf("%w (%w)", err, c.Err())
		}
		return nil, err
	}
	select {
	case <-c.authRequest:
	case <-c.done:
		return fail(fmt.Errorf("esl: %s closed before asking for authentication", cl.opts.Addr))
	case <-ctx.Done():
		return fail(fmt.Errorf("esl: %s: waiting for auth/request: %w", cl.opts.Addr, ctx.Err()))
	}
	text, err := c.command(ctx, command.Auth{Password: cl.opts.Password}.BuildMessage()+"\n\n", "auth")
	if err != nil || !strings.HasPrefix(text, "+OK") {
		if err == nil || errors.As(err, new(*ReplyError)) {
			err = fmt.Errorf("%w: %s answered %q", ErrAuth, cl.opts.Addr, text)
		}
		return fail(err)
	}
	if err := c.Listen(ctx, cl.opts.Events...); err != nil {
		return fail(err)
	}
	if cl.opts.OnConnect != nil {
		cl.opts.OnConnect(ctx, c)
	}
	return c, nil
}

func (cl *Client) setConn(c *Conn) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.conn = c
	close(cl.connected)
}

// supervise replaces a lost connection until Close.
func (cl *Client) supervise(c *Conn) {
	defer close(cl.done)
	for {
		select {
		case <-c.Done():
		case <-cl.ctx.Done():
			_ = c.Close()
			return
		}
		if cl.closing.Load() {
			return
		}
		cl.mu.Lock()
		cl.conn = nil
		cl.connected = make(chan struct{})
		cl.mu.Unlock()
		cl.log.Error("esl: lost the connection to FreeSWITCH; reconnecting", "addr", cl.opts.Addr, "err", c.Err())

		backoff := cl.opts.MinBackoff
		for {
			select {
			case <-time.After(backoff):
			case <-cl.ctx.Done():
				return
			}
			next, err := cl.connect(cl.ctx)
			if err == nil {
				c = next
				cl.setConn(c)
				cl.log.Info("esl: reconnected to FreeSWITCH", "addr", cl.opts.Addr)
				break
			}
			if cl.ctx.Err() != nil {
				return
			}
			backoff = min(2*backoff, cl.opts.MaxBackoff)
			cl.log.Warn("esl: reconnect failed", "addr", cl.opts.Addr, "err", err, "retry_in", backoff)
		}
	}
}

// current waits, up to ctx, for a usable connection.
func (cl *Client) current(ctx context.Context) (*Conn, error) {
	for {
		cl.mu.Lock()
		c, ready := cl.conn, cl.connected
		cl.mu.Unlock()
		if c != nil {
			return c, nil
		}
		select {
		case <-ready:
		case <-cl.done:
			return nil, ErrClosed
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNotConnected, ctx.Err())
		}
	}
}

// Connected reports whether a connection is currently up.
func (cl *Client) Connected() bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.conn != nil
}

// API runs an api command (see Conn.API), waiting for a connection if one is
// being re-established.
func (cl *Client) API(ctx context.Context, cmd string) (string, error) {
	c, err := cl.current(ctx)
	if err != nil {
		return "", err
	}
	return c.API(ctx, cmd)
}

// BgAPI runs a bgapi command and waits for its result (see Conn.BgAPI). A
// connection lost while the job runs fails it with ErrClosed: the job itself
// may still complete in FreeSWITCH.
func (cl *Client) BgAPI(ctx context.Context, cmd string) (string, error) {
	c, err := cl.current(ctx)
	if err != nil {
		return "", err
	}
	return c.BgAPI(ctx, cmd)
}

// Subscribe returns the events that pass filter, across reconnections, in
// FreeSWITCH's order. Close the subscription when done.
func (cl *Client) Subscribe(filter func(*Event) bool) *Subscription {
	return cl.hub.subscribe(filter)
}

// SubscribeHeader delivers the events whose header name is exactly value
// (e.g. Conference-Name: cc-…). Such subscriptions are indexed: thousands of
// them cost one lookup per event, where filters are each called for every event.
func (cl *Client) SubscribeHeader(name, value string) *Subscription {
	return cl.hub.subscribeHeader(name, value)
}

// Close says `exit` to FreeSWITCH (briefly: a dead peer does not hold it up),
// ends the connection and stops reconnecting; subscriptions are closed.
func (cl *Client) Close() error {
	cl.closing.Store(true)
	cl.mu.Lock()
	c := cl.conn
	cl.mu.Unlock()
	if c != nil {
		// FreeSWITCH answers +OK bye, sends a disconnect notice and closes:
		// wait for that so subscribers get everything.
		ctx, cancel := context.WithTimeout(cl.ctx, time.Second)
		if _, err := c.command(ctx, "exit\n\n", "exit"); err == nil {
			select {
			case <-c.Done():
			case <-ctx.Done():
			}
		}
		cancel()
	}
	cl.cancel()
	<-cl.done
	cl.hub.end()
	return nil
}
