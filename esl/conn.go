package esl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// DefaultWriteTimeout bounds a write to a peer that has stopped reading.
const DefaultWriteTimeout = 10 * time.Second

// Reply is a command/reply or api/response frame.
type Reply struct {
	Header Header
	Body   []byte
}

// Text is Reply-Text for a command/reply, the body for an api/response.
func (r *Reply) Text() string {
	if t, ok := r.Header.Lookup("Reply-Text"); ok {
		return decodeValue(t)
	}
	return string(r.Body)
}

// pendingCommand is a command's slot in the reply FIFO. FreeSWITCH answers
// commands in the order it receives them, so the reader pairs the n-th reply
// with the n-th command, whether or not its sender is still waiting.
type pendingCommand struct {
	reply chan *frame // cap 1: the reader never blocks on a sender that gave up
	job   chan *Event // bgapi: registered under the reply's Job-UUID by the reader
}

// Conn is one event socket connection, inbound or outbound. It is safe for
// concurrent use.
type Conn struct {
	nc           net.Conn
	log          *slog.Logger
	fr           *frameReader
	hub          *hub
	ownsHub      bool
	writeTimeout time.Duration

	wmu sync.Mutex // serialises writes and keeps pending in write order

	pmu     sync.Mutex
	pending []*pendingCommand
	jobs    map[string]chan *Event

	authRequest chan struct{}
	done        chan struct{}
	closeOnce   sync.Once
	errMu       sync.Mutex
	err         error
}

type connOptions struct {
	logger       *slog.Logger
	limits       Limits
	writeTimeout time.Duration
	hub          *hub // shared across reconnects by the inbound client
}

func newConn(nc net.Conn, o connOptions) *Conn {
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.writeTimeout <= 0 {
		o.writeTimeout = DefaultWriteTimeout
	}
	ownsHub := o.hub == nil
	if ownsHub {
		o.hub = &hub{}
	}
	c := &Conn{
		nc:           nc,
		log:          o.logger,
		fr:           newFrameReader(nc, o.limits),
		hub:          o.hub,
		ownsHub:      ownsHub,
		writeTimeout: o.writeTimeout,
		jobs:         make(map[string]chan *Event),
		authRequest:  make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection ended: nil while it is open, io.EOF when the
// peer closed it, ErrClosed after Close, a *FrameError for a protocol
// violation, or the network error.
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Close closes the connection and waits for its reader to stop.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

func (c *Conn) fail(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.closeOnce.Do(func() { _ = c.nc.Close() })
}

// closedError is what a command gets once the connection has ended.
func (c *Conn) closedError() error {
	err := c.Err()
	if err == nil || errors.Is(err, ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

func (c *Conn) readLoop() {
	defer close(c.done)
	if c.ownsHub {
		defer c.hub.end()
	}
	for {
		f, err := c.fr.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			c.fail(err)
			c.logEnd(err)
			return
		}
		if err := c.handle(f); err != nil {
			c.fail(err)
			c.logEnd(err)
			return
		}
	}
}

func (c *Conn) logEnd(err error) {
	switch {
	case errors.Is(c.Err(), ErrClosed), errors.Is(err, io.EOF):
		c.log.Debug("esl connection ended", "peer", c.nc.RemoteAddr(), "reason", c.Err())
	default:
		c.log.Error("esl connection failed", "peer", c.nc.RemoteAddr(), "err", c.Err())
	}
}

func (c *Conn) handle(f *frame) error {
	switch ct := f.contentType(); ct {
	case TypeCommandReply, TypeAPIResponse:
		c.deliverReply(f)
	case TypeEventPlain:
		ev, err := parseEventPlain(f.body)
		if err != nil {
			// The frame boundary is intact: lose this event, keep the call.
			c.log.Error("esl: dropping malformed event", "peer", c.nc.RemoteAddr(), "err", err)
			return nil
		}
		c.deliverEvent(ev)
	case TypeDisconnectNotice:
		c.hub.dispatch(&Event{ContentType: ct, Header: f.header, Body: f.body})
	case TypeAuthRequest:
		select {
		case c.authRequest <- struct{}{}:
		default:
		}
	case TypeRudeRejection:
		return fmt.Errorf("%w: %s", ErrAccessDenied, strings.TrimSpace(string(f.body)))
	case "":
		return &FrameError{Reason: "frame without Content-Type"}
	default:
		c.log.Warn("esl: ignoring frame of unknown type", "content_type", ct)
	}
	return nil
}

func (c *Conn) deliverReply(f *frame) {
	c.pmu.Lock()
	if len(c.pending) == 0 {
		c.pmu.Unlock()
		c.log.Warn("esl: reply without a command", "reply", truncate(string(f.body)+f.header.Get("Reply-Text")))
		return
	}
	p := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	if p.job != nil {
		if id := f.header.Get("Job-UUID"); id != "" {
			c.jobs[id] = p.job
		}
	}
	c.pmu.Unlock()
	p.reply <- f
}

func (c *Conn) deliverEvent(ev *Event) {
	if ev.Name() == "BACKGROUND_JOB" {
		id := ev.JobUUID()
		c.pmu.Lock()
		ch, ok := c.jobs[id]
		delete(c.jobs, id)
		c.pmu.Unlock()
		if ok {
			ch <- ev
		}
	}
	c.hub.dispatch(ev)
}

// validate refuses line breaks, which would end the command early and let the
// rest be read as a second command.
func validate(parts ...string) error {
	for _, p := range parts {
		if strings.ContainsAny(p, "\r\n") {
			return fmt.Errorf("%w: line break in %q", ErrInvalidCommand, truncate(p))
		}
	}
	return nil
}

// roundTrip writes raw (a complete frame, terminated by a blank line) and
// waits for its reply.
func (c *Conn) roundTrip(ctx context.Context, raw string, job chan *Event) (*frame, error) {
	p := &pendingCommand{reply: make(chan *frame, 1), job: job}
	if err := c.write(ctx, raw, p); err != nil {
		return nil, err
	}
	select {
	case f := <-p.reply:
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		// The reply may have been delivered just before the end.
		select {
		case f := <-p.reply:
			return f, nil
		default:
		}
		return nil, c.closedError()
	}
}

func (c *Conn) write(ctx context.Context, raw string, p *pendingCommand) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return c.closedError()
	default:
	}
	deadline := time.Now().Add(c.writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.nc.SetWriteDeadline(deadline)
	c.pmu.Lock()
	c.pending = append(c.pending, p)
	c.pmu.Unlock()
	if _, err := io.WriteString(c.nc, raw); err != nil {
		// A partial write leaves the stream unusable.
		c.fail(fmt.Errorf("esl: write: %w", err))
		return c.closedError()
	}
	return nil
}

// Command sends a command that answers with command/reply (event, myevents,
// linger, auth…) and returns Reply-Text; a "-ERR" reply is an error.
func (c *Conn) Command(ctx context.Context, cmd string) (string, error) {
	if err := validate(cmd); err != nil {
		return "", err
	}
	return c.command(ctx, cmd+"\n\n", cmd)
}

func (c *Conn) command(ctx context.Context, raw, name string) (string, error) {
	f, err := c.roundTrip(ctx, raw, nil)
	if err != nil {
		return "", fmt.Errorf("esl: %s: %w", commandName(name), err)
	}
	r := Reply{Header: f.header, Body: f.body}
	text := r.Text()
	if err := replyError(name, text); err != nil {
		return text, err
	}
	return text, nil
}

// API runs `api <cmd>` and returns FreeSWITCH's answer. An answer starting
// with "-ERR" is returned as a *ReplyError as well. Do not use API for
// anything that waits (originate): it holds the whole connection until it
// returns; use BgAPI.
func (c *Conn) API(ctx context.Context, cmd string) (string, error) {
	if err := validate(cmd); err != nil {
		return "", err
	}
	f, err := c.roundTrip(ctx, "api "+cmd+"\n\n", nil)
	if err != nil {
		return "", fmt.Errorf("esl: api %s: %w", commandName(cmd), err)
	}
	body := string(f.body)
	if err := replyError(cmd, body); err != nil {
		return body, err
	}
	return body, nil
}

// BgAPI runs `bgapi <cmd>` and waits, up to ctx, for its BACKGROUND_JOB
// result, without holding the connection. The connection must be listening
// for BACKGROUND_JOB events (the inbound Client always is).
func (c *Conn) BgAPI(ctx context.Context, cmd string) (string, error) {
	if err := validate(cmd); err != nil {
		return "", err
	}
	// Our own Job-UUID, so the job is known before the command is sent;
	// FreeSWITCH echoes it in the reply, where the reader registers it
	// before it can read the result.
	jobID := uuid.NewString()
	job := make(chan *Event, 1)
	f, err := c.roundTrip(ctx, "bgapi "+cmd+"\nJob-UUID: "+jobID+"\n\n", job)
	if err != nil {
		return "", fmt.Errorf("esl: bgapi %s: %w", commandName(cmd), err)
	}
	r := Reply{Header: f.header}
	if err := replyError(cmd, r.Text()); err != nil {
		return "", err
	}
	id := f.header.Get("Job-UUID")
	defer func() {
		c.pmu.Lock()
		delete(c.jobs, id)
		c.pmu.Unlock()
	}()
	select {
	case ev := <-job:
		body := string(ev.Body)
		if err := replyError(cmd, body); err != nil {
			return body, err
		}
		return body, nil
	case <-ctx.Done():
		return "", fmt.Errorf("esl: bgapi %s: job %s: %w", commandName(cmd), id, ctx.Err())
	case <-c.done:
		select {
		case ev := <-job: // delivered just before the end
			body := string(ev.Body)
			return body, replyError(cmd, body)
		default:
		}
		return "", fmt.Errorf("esl: bgapi %s: job %s: %w", commandName(cmd), id, c.closedError())
	}
}

// Subscribe returns the events of this connection that pass filter (nil: all).
// Which events FreeSWITCH sends at all is set with Listen / MyEvents.
func (c *Conn) Subscribe(filter func(*Event) bool) *Subscription {
	return c.hub.subscribe(filter)
}

// SubscribeHeader delivers the events whose header name is exactly value,
// through an index (see Client.SubscribeHeader).
func (c *Conn) SubscribeHeader(name, value string) *Subscription {
	return c.hub.subscribeHeader(name, value)
}

// Listen asks FreeSWITCH for events: plain names (CHANNEL_ANSWER) and CUSTOM
// subclasses (conference::maintenance, anything with "::"). FreeSWITCH reads
// every word after CUSTOM as a subclass, so subclasses are sent last.
func (c *Conn) Listen(ctx context.Context, names ...string) error {
	var plain, custom []string
	for _, n := range names {
		switch {
		case strings.Contains(n, "::"):
			custom = append(custom, n)
		case n != "CUSTOM":
			plain = append(plain, n)
		}
	}
	if len(custom) > 0 {
		plain = append(plain, "CUSTOM")
		plain = append(plain, custom...)
	}
	cmd := "event plain " + strings.Join(plain, " ")
	text, err := c.Command(ctx, cmd)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(text, "+OK") {
		return fmt.Errorf("esl: event: unexpected reply %q", text)
	}
	return nil
}
