package mixer

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure an Engine.
type Options struct {
	// Tick is the real time between frames (default 20 ms). Manual engines
	// have no clock: the test calls Step.
	Tick   time.Duration
	Manual bool
	Logger *slog.Logger
	// FirstPlayFile numbers the first playAudio file: mod_audio_fork counts
	// them in one counter for the whole FreeSWITCH process, from 0.
	FirstPlayFile uint32
}

// Engine owns the clock and everything it drives.
type Engine struct {
	log  *slog.Logger
	tick time.Duration

	mu    sync.Mutex
	legs  map[*Leg]struct{}
	confs map[*Conference]struct{}
	forks sync.WaitGroup // fork goroutines

	stepMu sync.Mutex // one step at a time
	frames uint64

	stop chan struct{}
	done chan struct{}
	once sync.Once

	playFiles atomic.Uint32 // mod_audio_fork's process-wide playCount
}

// NewEngine starts an engine.
func NewEngine(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tick <= 0 {
		o.Tick = FrameTime
	}
	e := &Engine{log: o.Logger, tick: o.Tick, legs: map[*Leg]struct{}{}, confs: map[*Conference]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
	e.playFiles.Store(o.FirstPlayFile)
	if o.Manual {
		close(e.done)
	} else {
		go e.clock()
	}
	return e
}

func (e *Engine) clock() {
	defer close(e.done)
	t := time.NewTicker(e.tick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.Step()
		case <-e.stop:
			return
		}
	}
}

// Close stops the clock, closes every leg (and so every fork) and waits.
func (e *Engine) Close() error {
	e.once.Do(func() { close(e.stop) })
	<-e.done
	e.mu.Lock()
	legs := make([]*Leg, 0, len(e.legs))
	for l := range e.legs {
		legs = append(legs, l)
	}
	e.mu.Unlock()
	for _, l := range legs {
		l.Close()
	}
	e.forks.Wait()
	return nil
}

// Step advances every leg and conference by one frame.
func (e *Engine) Step() {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	e.mu.Lock()
	legs := make([]*Leg, 0, len(e.legs))
	for l := range e.legs {
		legs = append(legs, l)
	}
	confs := make([]*Conference, 0, len(e.confs))
	for c := range e.confs {
		confs = append(confs, c)
	}
	e.frames++
	e.mu.Unlock()

	var after []func()
	for _, l := range legs {
		l.readSource()
	}
	for _, c := range confs {
		after = append(after, c.mix()...)
	}
	for _, l := range legs {
		after = append(after, l.deliver()...)
	}
	// Callbacks run outside every lock: they may call back into the engine.
	for _, f := range after {
		f()
	}
}

// Frames is the number of steps taken.
func (e *Engine) Frames() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.frames
}

// NewLeg makes a channel's media endpoint; its party says nothing until
// SetSource.
func (e *Engine) NewLeg(name string) *Leg {
	l := &Leg{e: e, name: name, src: Silence(), sent: make([]int16, FrameSamples), heard: make([]int16, FrameSamples)}
	e.mu.Lock()
	e.legs[l] = struct{}{}
	e.mu.Unlock()
	return l
}

// Leg is one channel's media.
type Leg struct {
	e    *Engine
	name string

	mu       sync.Mutex
	src      Source
	play     *playback
	conf     *Conference
	confMix  []int16 // what its conference gave it this frame
	sent     []int16 // what its party said this frame
	heard    []int16
	recs     []*Recording
	forks    []*Fork
	allForks []*Fork // for their playAudio files, removed when the leg goes
	closed   bool
}

type playback struct {
	src  Source
	done func()
}

// SetSource sets what the leg's party says.
func (l *Leg) SetSource(s Source) {
	if s == nil {
		s = Silence()
	}
	l.mu.Lock()
	l.src = s
	l.mu.Unlock()
}

// Play is a channel-level playback (the playback/speak app): the party hears
// s instead of anything else until s ends; done is called once, also when
// stopped.
func (l *Leg) Play(s Source, done func()) {
	l.mu.Lock()
	old := l.play
	l.play = &playback{src: s, done: done}
	l.mu.Unlock()
	if old != nil && old.done != nil {
		old.done()
	}
}

// StopPlayback ends a running playback.
func (l *Leg) StopPlayback() {
	l.mu.Lock()
	old := l.play
	l.play = nil
	l.mu.Unlock()
	if old != nil && old.done != nil {
		old.done()
	}
}

// Close detaches the leg: out of its conference, playback stopped, forks
// closed (without a disconnect event, as when the channel goes away).
func (l *Leg) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	conf, forks, all := l.conf, l.forks, l.allForks
	l.forks, l.allForks = nil, nil
	recs := l.recs
	l.recs = nil
	l.mu.Unlock()
	if conf != nil {
		conf.removeLeg(l)
	}
	l.StopPlayback()
	for _, f := range forks {
		f.hangup()
	}
	for _, f := range all {
		f.RemoveFiles()
	}
	for _, r := range recs {
		r.Stop()
	}
	l.e.mu.Lock()
	delete(l.e.legs, l)
	l.e.mu.Unlock()
}

func (l *Leg) readSource() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.src.Read(l.sent)
	clear(l.confMix)
}

// deliver settles what the leg hears this frame and hands it to recordings
// and forks.
func (l *Leg) deliver() []func() {
	l.mu.Lock()
	defer l.mu.Unlock()
	var after []func()
	switch {
	case l.play != nil:
		if !l.play.src.Read(l.heard) {
			if d := l.play.done; d != nil {
				after = append(after, d)
			}
			l.play = nil
		}
	case l.conf != nil && l.confMix != nil:
		copy(l.heard, l.confMix)
	default:
		clear(l.heard)
	}
	for _, r := range l.recs {
		r.add(l.heard, l.sent)
	}
	for _, f := range l.forks {
		f.frame(l.sent, l.heard)
	}
	return after
}

// Record collects what the leg hears and sends from the next frame on.
func (l *Leg) Record() *Recording {
	r := &Recording{changed: make(chan struct{})}
	l.mu.Lock()
	l.recs = append(l.recs, r)
	l.mu.Unlock()
	return r
}

// Recording is what a leg heard and sent.
type Recording struct {
	mu      sync.Mutex
	heard   []int16
	sent    []int16
	stopped bool
	changed chan struct{} // closed and replaced on every frame
}

func (r *Recording) add(heard, sent []int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.heard = append(r.heard, heard...)
	r.sent = append(r.sent, sent...)
	close(r.changed)
	r.changed = make(chan struct{})
}

// Frames is how many frames have been recorded.
func (r *Recording) Frames() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.heard) / FrameSamples
}

// WaitFrames waits until n frames are recorded.
func (r *Recording) WaitFrames(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		have, ch, stopped := len(r.heard)/FrameSamples, r.changed, r.stopped
		r.mu.Unlock()
		if have >= n {
			return nil
		}
		if stopped {
			return context.Canceled
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Heard is what the leg's party heard so far.
func (r *Recording) Heard() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.heard...)
}

// Sent is what the leg's party said so far.
func (r *Recording) Sent() []int16 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int16(nil), r.sent...)
}

// Stop ends the recording.
func (r *Recording) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.stopped {
		r.stopped = true
		close(r.changed)
		r.changed = make(chan struct{})
	}
}
