package streaming

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/coaching"
)

// Suggestion is a coaching line for the controller to speak to the agent.
type Suggestion = coaching.Suggestion

// maxGapFill bounds how many lost frames are stood in for at once (60 s).
const maxGapFill = 3000

// PipelineConfig configures a call's pipeline. Zero values give the defaults.
type PipelineConfig struct {
	Analysis analysis.Config
	Coaching coaching.Config
	// Now is the coach's clock (cool-downs, in-flight timeout); default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// OnFrame, if set, sees every frame after its analysis, with who is
	// talking in it (speech to text follows the analyzer's turns). It runs on
	// the pipeline's goroutine and must not block; pcm is reused afterwards.
	OnFrame func(pcm []int16, channels int, talking [2]bool)
}

// PipelineStats are a pipeline's counters.
type PipelineStats struct {
	Frames     uint64 // frames analysed
	LostFrames uint64 // frames missing from the sequence (dropped by the queue)
	// Lateness: from a frame's arrival to the start of its analysis.
	LatenessMax  time.Duration
	LatenessMean time.Duration
	Coach        coaching.Stats
}

// Pipeline analyses one session's audio and offers coaching suggestions. It
// owns one goroutine, which ends when the session ends, ctx is cancelled or
// Close is called.
type Pipeline struct {
	sess     *Session
	an       *analysis.Analyzer
	coach    *coaching.Coach
	now      func() time.Time
	log      *slog.Logger
	out      chan Suggestion
	finished chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
	onFrame  func(pcm []int16, channels int, talking [2]bool)

	mu       sync.Mutex
	snap     analysis.Snapshot
	stats    PipelineStats
	latNs    int64
	outcomes []coaching.Outcome
	mood     atomic.Pointer[[2]coaching.Mood]
}

// SetMood tells the coach how each side's sentiment is going (from the
// transcript, which another goroutine follows).
func (p *Pipeline) SetMood(m [2]coaching.Mood) { p.mood.Store(&m) }

func (p *Pipeline) moods() [2]coaching.Mood {
	if m := p.mood.Load(); m != nil {
		return *m
	}
	return [2]coaching.Mood{}
}

// NewPipeline starts the pipeline of session s.
func NewPipeline(ctx context.Context, s *Session, cfg PipelineConfig) (*Pipeline, error) {
	coach, err := coaching.New(cfg.Coaching)
	if err != nil {
		return nil, fmt.Errorf("streaming: pipeline for %s: %w", s.CallID(), err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	onFrame := cfg.OnFrame
	log := s.log.With("component", "pipeline")
	if cfg.Logger != nil {
		log = cfg.Logger.With("call", s.CallID(), "component", "pipeline")
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Pipeline{
		sess:     s,
		an:       analysis.New(cfg.Analysis),
		coach:    coach,
		now:      cfg.Now,
		log:      log,
		out:      make(chan Suggestion),
		finished: make(chan struct{}, 1),
		cancel:   cancel,
		done:     make(chan struct{}),
		onFrame:  onFrame,
	}
	go p.run(ctx)
	return p, nil
}

// Suggestions delivers coaching lines, one at a time: the next comes only
// after Finished (or the coach's in-flight timeout). It is closed when the
// pipeline ends.
func (p *Pipeline) Suggestions() <-chan Suggestion { return p.out }

// Finished tells the coach the last suggestion has been played (or given up).
func (p *Pipeline) Finished() {
	select {
	case p.finished <- struct{}{}:
	default:
	}
}

// Snapshot is the call's latest analysis.
func (p *Pipeline) Snapshot() analysis.Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// Stats returns the pipeline's counters.
func (p *Pipeline) Stats() PipelineStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	if st.Frames > 0 {
		st.LatenessMean = time.Duration(p.latNs / int64(st.Frames))
	}
	return st
}

// Outcomes are what followed the coaching lines so far (see
// coaching.Outcome); once the pipeline has ended, lines still being judged
// are included as undecided.
func (p *Pipeline) Outcomes() []coaching.Outcome {
	select {
	case <-p.done:
		return p.coach.Outcomes(true)
	default:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]coaching.Outcome(nil), p.outcomes...)
}

// Done is closed when the pipeline's goroutine has ended.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

// Close stops the pipeline and waits for its goroutine. It does not close
// the session.
func (p *Pipeline) Close() error {
	p.cancel()
	<-p.done
	return nil
}

func (p *Pipeline) run(ctx context.Context) {
	defer close(p.done)
	defer close(p.out)
	frames := p.sess.Frames()
	var next uint64 // the Seq expected next
	for {
		var out chan Suggestion
		sug, ready := p.coach.Ready(p.now())
		if ready {
			// A waiting consumer gets the line before the next frame can
			// change the coach's mind.
			select {
			case p.out <- sug:
				p.delivered(sug)
				continue
			default:
			}
			out = p.out
		}
		select {
		case f, ok := <-frames:
			if !ok {
				p.log.Debug("pipeline ended with its session", "stats", p.Stats())
				return
			}
			lateness := time.Since(f.Arrived)
			lost := f.Seq - next
			next = f.Seq + 1
			for i := uint64(0); i < min(lost, maxGapFill); i++ {
				p.an.Repeat()
			}
			if f.Channels == 2 {
				p.an.Stereo(f.PCM)
			} else {
				p.an.Mono(f.PCM, nil)
			}
			snap := p.an.Snapshot()
			if p.onFrame != nil {
				p.onFrame(f.PCM, f.Channels, [2]bool{snap.Sides[0].Talking, snap.Sides[1].Talking})
			}
			f.Release()
			p.coach.Observe(coaching.Signals{Snapshot: snap, Mood: p.moods()}, p.now())
			p.mu.Lock()
			p.snap = snap
			p.stats.Frames++
			p.stats.LostFrames += lost
			p.latNs += int64(lateness)
			p.stats.LatenessMax = max(p.stats.LatenessMax, lateness)
			if cs := p.coach.Stats(); cs.Worked+cs.NoChange != p.stats.Coach.Worked+p.stats.Coach.NoChange {
				p.outcomes = p.coach.Outcomes(false)
			}
			p.stats.Coach = p.coach.Stats()
			p.mu.Unlock()
		case out <- sug:
			p.delivered(sug)
		case <-p.finished:
			p.coach.Finished()
		case <-ctx.Done():
			return
		}
	}
}

func (p *Pipeline) delivered(sug Suggestion) {
	p.coach.Delivered(p.now())
	p.log.Info("coaching suggestion", "rule", sug.Rule, "line", sug.Line)
	p.mu.Lock()
	p.stats.Coach = p.coach.Stats()
	p.mu.Unlock()
}
