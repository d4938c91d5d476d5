// Package transcript follows what each side of a live call says: speech to
// text per side, each utterance's sentiment, and the topics and compliance
// phrases spotted in it. It runs beside a call's analysis pipeline, in its
// own goroutine, so decoding never delays the measures or the coaching.
package transcript

import (
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/sentiment"
	"github.com/callcoach/callcoach/stt"
)

// Config is shared by every call's Follower.
type Config struct {
	Pool      *stt.Pool // recognisers; a call that gets none goes without
	Sentiment *sentiment.Analyzer
	Phrases   phrases.Config
	Logger    *slog.Logger
}

// Utterance is one side's finished utterance.
type Utterance struct {
	Side       analysis.Side
	Text       string
	Start, End time.Duration // from the start of the call's audio
	Sentiment  float64
	// WordsPerMinute is the speaking rate over the utterance.
	WordsPerMinute float64
	// Trend is the side's smoothed sentiment after this utterance.
	Trend     float64
	Direction sentiment.Direction
	Found     []phrases.Finding // topics, disclosures, forbidden phrases in it
}

// Event is what a Follower reports: an utterance, or findings not tied to
// one (a disclosure not made in time).
type Event struct {
	Utterance *Utterance
	Found     []phrases.Finding
}

const (
	frameSamples = 320 // per side: 20 ms at 16 kHz
	queueFrames  = 250 // 5 s of audio waits for the decoder, then frames drop
)

type frame struct {
	pcm     [2][frameSamples]int16
	talking [2]bool
}

// Follower transcribes one call.
type Follower struct {
	cfg     Config
	log     *slog.Logger
	in      chan *frame
	out     chan Event
	stop    chan struct{}
	once    sync.Once
	done    chan struct{}
	dropped atomic.Uint64
}

// Start follows a call; Frame feeds it, Events reports, Close ends it.
func Start(cfg Config, log *slog.Logger) *Follower {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Sentiment == nil {
		cfg.Sentiment = &sentiment.Analyzer{}
	}
	f := &Follower{cfg: cfg, log: log, in: make(chan *frame, queueFrames), out: make(chan Event, 64),
		stop: make(chan struct{}), done: make(chan struct{})}
	go f.run()
	return f
}

// Frame hands over one 20 ms stereo 16 kHz frame (channel 0 customer) and
// who is talking in it. It never blocks: when the decoder is behind, the
// frame is dropped and counted. The caller may reuse pcm at once.
func (f *Follower) Frame(pcm []int16, talking [2]bool) {
	if len(pcm) < 2*frameSamples {
		return
	}
	fr := &frame{talking: talking}
	for i := range frameSamples {
		fr.pcm[0][i], fr.pcm[1][i] = pcm[2*i], pcm[2*i+1]
	}
	select {
	case f.in <- fr:
	default:
		f.dropped.Add(1)
	}
}

// Events delivers utterances and findings; it is closed when the Follower
// has ended. A consumer that falls behind loses events (counted in the log).
func (f *Follower) Events() <-chan Event { return f.out }

// Close ends the call: what is being said is finished, the recognisers go
// back to the pool.
func (f *Follower) Close() {
	f.once.Do(func() { close(f.stop) })
	<-f.done
}

// next is the next frame; false once Close was called and the queue is empty.
func (f *Follower) next() (*frame, bool) {
	select {
	case fr := <-f.in:
		return fr, true
	case <-f.stop:
		select {
		case fr := <-f.in:
			return fr, true
		default:
			return nil, false
		}
	}
}

func (f *Follower) run() {
	defer close(f.done)
	defer close(f.out)
	var streams [2]*stt.Stream
	var recs [2]stt.Recognizer
	for side := range recs {
		r, ok, err := f.cfg.Pool.Acquire()
		if err != nil || !ok {
			if err != nil {
				f.log.Error("speech to text unavailable for this call", "err", err)
			} else {
				f.log.Warn("no speech-to-text capacity left: this call goes without a transcript", "in_use", f.cfg.Pool.InUse())
			}
			for _, r := range recs[:side] {
				f.cfg.Pool.Release(r)
			}
			for _, ok := f.next(); ok; _, ok = f.next() { // drop frames until Close
			}
			return
		}
		recs[side] = r
		streams[side] = stt.NewStream(r, 16000, stt.StreamOptions{})
	}
	defer func() {
		for _, r := range recs {
			f.cfg.Pool.Release(r)
		}
	}()
	spot := phrases.NewSpotter(f.cfg.Phrases)
	var trends [2]sentiment.Trend
	var voice [2]sentiment.VoiceLog
	var n int64
	var lost uint64
	emit := func(ev Event) {
		select {
		case f.out <- ev:
		default:
			lost++
		}
	}
	handle := func(side int, rs []stt.Result, err error) {
		if err != nil {
			f.log.Warn("speech to text", "side", analysis.Side(side), "err", err)
			return
		}
		for _, r := range rs {
			if !r.Final || r.Text == "" {
				continue
			}
			score := f.cfg.Sentiment.Utterance(r.Text, voice[side].Cues(r.Start, r.End))
			trends[side].Add(r.End, score)
			u := &Utterance{Side: analysis.Side(side), Text: r.Text, Start: r.Start, End: r.End,
				Sentiment: score, WordsPerMinute: wordsPerMinute(r.Text, r.End-r.Start),
				Trend: trends[side].Value(), Direction: trends[side].Direction(),
				Found: spot.Utterance(analysis.Side(side).String(), r.Text, r.Start)}
			emit(Event{Utterance: u})
		}
	}
	for fr, ok := f.next(); ok; fr, ok = f.next() {
		n++
		at := time.Duration(n) * 20 * time.Millisecond
		for side := range voice {
			voice[side].Add(fr.talking[side], levelDB(fr.pcm[side][:]), fr.talking[1-side])
		}
		for side := range streams {
			rs, err := streams[side].Feed(fr.pcm[side][:], fr.talking[side])
			handle(side, rs, err)
		}
		if found := spot.Tick(at); len(found) > 0 {
			emit(Event{Found: found})
		}
	}
	for side := range streams {
		rs, err := streams[side].Flush()
		handle(side, rs, err)
	}
	if d := f.dropped.Load(); d > 0 || lost > 0 {
		f.log.Warn("speech to text fell behind", "frames_dropped", d, "events_lost", lost)
	}
}

// wordsPerMinute is a speaking rate; 0 for an utterance too short to tell.
func wordsPerMinute(text string, d time.Duration) float64 {
	if d < 500*time.Millisecond {
		return 0
	}
	return float64(len(strings.Fields(text))) / d.Minutes()
}

// levelDB is a frame's level in dB (any fixed reference: cues compare levels).
func levelDB(pcm []int16) float64 {
	var sum float64
	for _, x := range pcm {
		sum += float64(x) * float64(x)
	}
	return 10 * math.Log10(max(sum/float64(len(pcm)), 1))
}
