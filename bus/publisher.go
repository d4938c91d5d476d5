package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure a Publisher. Only Client is required.
type Options struct {
	// Client is not closed by the Publisher. MaxRetries -1 suits it: the
	// writer retries with its own backoff and never blocks a caller anyway.
	Client     redis.UniversalClient
	Controller string // this controller's id, stamped on every event
	Logger     *slog.Logger

	QueueSize    int           // events buffered while Redis is slow or away; default 4096
	BatchSize    int           // events per pipeline round trip; default 128
	StreamMaxLen int64         // approximate cap of each analytics stream; default 10000
	SummaryTTL   time.Duration // lifetime of a closed call's summary; default 7 days
	RetryMin     time.Duration // first backoff after a failed write; default 50ms
	RetryMax     time.Duration // backoff ceiling; default 5s
	// MaxTrackedCalls bounds the per-call summary state for calls that never
	// reach CLOSED; calls beyond it get no summary. Default 100000.
	MaxTrackedCalls int

	Now func() time.Time // default time.Now
}

// maxSummaryModes bounds a summary's mode list; a call that flips modes forever
// must not grow memory forever.
const maxSummaryModes = 64

// Publisher writes events to Redis without ever blocking its callers.
type Publisher struct {
	client redis.UniversalClient
	opts   Options
	log    *slog.Logger

	mu     sync.Mutex // guards closed, seq, calls and the send into queue
	closed bool
	seq    uint64
	calls  map[string]*Summary

	queue   chan op
	closing chan struct{}      // closed by Close: drain and exit
	ctx     context.Context    // cancelled when Close gives up waiting
	cancel  context.CancelFunc //
	done    chan struct{}      // closed when the writer exits

	written  atomic.Uint64
	dropped  atomic.Uint64
	failed   atomic.Uint64
	retries  atomic.Uint64
	down     atomic.Bool
	dropping atomic.Bool // a "queue full" warning was logged and not yet resolved
	lost     atomic.Uint64
}

// op is one event ready to be written, with its summary when it closes a call.
type op struct {
	event   Event
	payload []byte
	summary []byte
}

// Stats are counters for metrics and tests.
type Stats struct {
	Written uint64 // events written to Redis
	Dropped uint64 // events refused because the queue was full
	Failed  uint64 // commands Redis rejected with an error reply (not retried)
	Lost    uint64 // events still queued when Close gave up
	Retries uint64 // write attempts that could not reach Redis
	Queued  int    // events waiting now
	Down    bool   // the last write attempt failed to reach Redis
}

// New starts a Publisher and its writer goroutine; Close stops it.
func New(opts Options) (*Publisher, error) {
	if opts.Client == nil {
		return nil, fmt.Errorf("%w: Options.Client is nil", ErrInvalidEvent)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 4096
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 128
	}
	if opts.StreamMaxLen <= 0 {
		opts.StreamMaxLen = 10000
	}
	if opts.SummaryTTL <= 0 {
		opts.SummaryTTL = 7 * 24 * time.Hour
	}
	if opts.RetryMin <= 0 {
		opts.RetryMin = 50 * time.Millisecond
	}
	if opts.RetryMax < opts.RetryMin {
		opts.RetryMax = max(5*time.Second, opts.RetryMin)
	}
	if opts.MaxTrackedCalls <= 0 {
		opts.MaxTrackedCalls = 100000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{
		client:  opts.Client,
		opts:    opts,
		log:     opts.Logger.With("component", "bus"),
		calls:   make(map[string]*Summary),
		queue:   make(chan op, opts.QueueSize),
		closing: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go p.run()
	return p, nil
}

// State publishes a call.state event.
func (p *Publisher) State(callID string, state CallState, reason string) error {
	return p.Publish(TypeCallState, callID, StateData{State: state, Reason: reason})
}

// Mode publishes a call.mode event.
func (p *Publisher) Mode(callID string, m ModeData) error {
	return p.Publish(TypeCallMode, callID, m)
}

// CoachLine publishes a coach.line event.
func (p *Publisher) CoachLine(callID string, l CoachLineData) error {
	return p.Publish(TypeCoachLine, callID, l)
}

// Speech publishes a transcribed utterance.
func (p *Publisher) Speech(callID string, s SpeechData) error {
	return p.Publish(TypeSpeech, callID, s)
}

// Alert publishes a compliance alert.
func (p *Publisher) Alert(callID string, a AlertData) error {
	return p.Publish(TypeAlert, callID, a)
}

// Analytics publishes an analytics event; data must marshal to a JSON object.
func (p *Publisher) Analytics(callID string, data any) error {
	return p.Publish(TypeAnalytics, callID, data)
}

// Publish enqueues an event and returns at once. It returns ErrInvalidEvent
// for a bad call id, type or data, ErrQueueFull when the event was dropped
// because Redis has been away long enough to fill the queue, and ErrClosed
// after Close. A caller on a call path may ignore the error: Stats counts it.
func (p *Publisher) Publish(typ Type, callID string, data any) error {
	if !typ.valid() {
		return fmt.Errorf("%w: unknown type %q", ErrInvalidEvent, typ)
	}
	if err := validCallID(callID); err != nil {
		return err
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("%w: %s data: %w", ErrInvalidEvent, typ, err)
	}
	if len(raw) == 0 || raw[0] != '{' {
		return fmt.Errorf("%w: %s data must be a JSON object, got %.20s", ErrInvalidEvent, typ, raw)
	}
	var state StateData
	if typ == TypeCallState {
		if err := json.Unmarshal(raw, &state); err != nil || state.State == "" {
			return fmt.Errorf("%w: call.state without a state", ErrInvalidEvent)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	p.seq++
	ev := Event{
		V:          Version,
		Type:       typ,
		CallID:     callID,
		Seq:        p.seq,
		At:         p.opts.Now().UTC().Truncate(time.Millisecond),
		Controller: p.opts.Controller,
		Data:       raw,
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidEvent, err)
	}
	o := op{event: ev, payload: payload}
	// The summary counts what was offered, even if the queue drops the event:
	// it describes the call, not the delivery.
	if sum := p.track(ev, state); sum != nil {
		if o.summary, err = json.Marshal(sum); err != nil {
			return fmt.Errorf("%w: summary: %w", ErrInvalidEvent, err)
		}
	}
	select {
	case p.queue <- o:
		return nil
	default:
		p.dropped.Add(1)
		if p.dropping.CompareAndSwap(false, true) {
			p.log.Warn("bus: event queue full, dropping events until Redis catches up",
				"queue_size", p.opts.QueueSize, "call_id", callID, "type", string(typ))
		}
		return fmt.Errorf("%w (call %s, %s)", ErrQueueFull, callID, typ)
	}
}

// track folds ev into its call's summary and returns the finished summary when
// ev closes the call. Caller holds p.mu.
func (p *Publisher) track(ev Event, state StateData) *Summary {
	sum, ok := p.calls[ev.CallID]
	if !ok {
		if len(p.calls) >= p.opts.MaxTrackedCalls {
			return nil
		}
		sum = &Summary{V: Version, CallID: ev.CallID, Controller: p.opts.Controller, OpenedAt: ev.At}
		p.calls[ev.CallID] = sum
	}
	sum.Events++
	switch ev.Type {
	case TypeCallState:
		sum.States = append(sum.States, StateChange{State: state.State, At: ev.At})
	case TypeCallMode:
		var m ModeData
		if json.Unmarshal(ev.Data, &m) == nil && len(sum.Modes) < maxSummaryModes {
			sum.Modes = append(sum.Modes, m)
		}
	case TypeCoachLine:
		sum.CoachLines++
	case TypeAnalytics:
		sum.Analytics = ev.Data
	}
	if ev.Type != TypeCallState || state.State != StateClosed {
		return nil
	}
	delete(p.calls, ev.CallID)
	sum.ClosedAt = ev.At
	sum.DurationMS = ev.At.Sub(sum.OpenedAt).Milliseconds()
	sum.Reason = state.Reason
	return sum
}

// Stats returns the current counters.
func (p *Publisher) Stats() Stats {
	return Stats{
		Written: p.written.Load(),
		Dropped: p.dropped.Load(),
		Failed:  p.failed.Load(),
		Lost:    p.lost.Load(),
		Retries: p.retries.Load(),
		Queued:  len(p.queue),
		Down:    p.down.Load(),
	}
}

// Close stops accepting events and waits until the queue is written to Redis
// or ctx ends. If ctx ends first, what is left is counted as lost, the writer
// is stopped, and the error wraps ctx.Err(). Close always waits for the writer
// goroutine, which exits within the client's read/write timeout.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()

	select {
	case <-p.done:
		p.cancel()
		return nil
	case <-ctx.Done():
	}
	p.cancel()
	<-p.done
	if p.lost.Load() == 0 {
		return nil // the writer finished just as ctx ended
	}
	return fmt.Errorf("bus: close: %d events not written to Redis: %w", p.lost.Load(), ctx.Err())
}

// run is the writer goroutine: it owns every Redis write.
func (p *Publisher) run() {
	defer close(p.done)
	batch := make([]op, 0, p.opts.BatchSize)
	var outageStart time.Time
	var droppedAtOutage uint64
	for {
		if len(batch) == 0 {
			select {
			case o := <-p.queue:
				batch = append(batch, o)
			case <-p.closing:
				select {
				case o := <-p.queue:
					batch = append(batch, o)
				default:
					return // closed and drained
				}
			case <-p.ctx.Done():
				return
			}
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case o := <-p.queue:
				batch = append(batch, o)
			default:
				break fill
			}
		}

		backoff := p.opts.RetryMin
		for {
			err := p.write(batch)
			if err == nil {
				break
			}
			p.retries.Add(1)
			if p.ctx.Err() != nil {
				p.lost.Add(uint64(len(batch) + len(p.queue)))
				return
			}
			if !p.down.Swap(true) {
				outageStart = p.opts.Now()
				droppedAtOutage = p.dropped.Load()
				p.log.Error("bus: Redis unreachable; queueing events and retrying with backoff",
					"err", err, "queued", len(batch)+len(p.queue), "queue_size", p.opts.QueueSize)
			}
			if !p.wait(backoff) {
				p.lost.Add(uint64(len(batch) + len(p.queue)))
				return
			}
			backoff = min(2*backoff, p.opts.RetryMax)
		}
		if p.down.Swap(false) {
			p.log.Info("bus: Redis reachable again; queued events written",
				"outage", p.opts.Now().Sub(outageStart).Round(time.Millisecond),
				"dropped_during_outage", p.dropped.Load()-droppedAtOutage)
		}
		p.written.Add(uint64(len(batch)))
		clear(batch)
		batch = batch[:0]
		if len(p.queue) < cap(p.queue)/2 && p.dropping.CompareAndSwap(true, false) {
			p.log.Info("bus: event queue has room again", "dropped_total", p.dropped.Load())
		}
	}
}

// wait sleeps for a backoff interval unless the publisher is aborted.
func (p *Publisher) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// write sends one batch in a single pipeline. It returns an error only when
// Redis could not be reached, so the batch is retried as a whole (pub/sub
// messages may then repeat: consumers dedupe by seq). Error replies (a key of
// the wrong type, say) are not transient: those events are counted as failed
// and logged, and the batch is done.
func (p *Publisher) write(batch []op) error {
	pipe := p.client.Pipeline()
	for _, o := range batch {
		id := o.event.CallID
		pipe.Publish(p.ctx, AllEventsChannel, o.payload)
		pipe.Publish(p.ctx, CallChannel(id), o.payload)
		if o.event.Type == TypeAnalytics {
			pipe.XAdd(p.ctx, &redis.XAddArgs{
				Stream: AnalyticsStream(id),
				MaxLen: p.opts.StreamMaxLen,
				Approx: true,
				Values: []any{"event", o.payload},
			})
		}
		if o.summary != nil {
			pipe.Set(p.ctx, SummaryKey(id), o.summary, p.opts.SummaryTTL)
		}
	}
	cmds, err := pipe.Exec(p.ctx)
	if err == nil {
		return nil
	}
	var transient error
	rejected := 0
	for _, c := range cmds {
		cerr := c.Err()
		if cerr == nil {
			continue
		}
		var reply redis.Error
		if errors.As(cerr, &reply) && !isConnectionReply(reply) {
			rejected++
			p.log.Error("bus: Redis rejected a command; event not stored", "cmd", c.Name(), "args", c.Args()[:2], "err", cerr)
			continue
		}
		transient = cerr
	}
	if transient != nil {
		return transient
	}
	if rejected == 0 {
		return err // no command carries it: treat the whole pipeline as failed
	}
	p.failed.Add(uint64(rejected))
	return nil
}

// isConnectionReply reports error replies that mean "try again later" rather
// than "this command is wrong".
func isConnectionReply(err redis.Error) bool {
	for _, prefix := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN"} {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}
