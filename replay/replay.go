// Package replay runs the call analyzer — voice activity, measures, speech
// to text, coaching rules — over a recording instead of a live fork, as fast
// as the machine allows. It is `controller replay` and the evaluation harness.
package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/internal/wav"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/sentiment"
	"github.com/callcoach/callcoach/stt"
)

// Rate is what a recording must be: the fork's stereo 16 kHz, channel 0 the
// customer (what the caller's leg reads), channel 1 the agent.
const Rate = 16000

const frameSamples = Rate / 50 // per channel, 20 ms

// ErrFormat: the recording is not stereo 16 kHz.
var ErrFormat = errors.New("replay: want a stereo 16 kHz recording (channel 0 customer, channel 1 agent)")

// Options of a replay.
type Options struct {
	STT      stt.Engine // nil: no transcript
	Analysis analysis.Config
	Coaching coaching.Config
	// LineDuration is how long a coaching line is taken to play: the coach
	// keeps it in flight that long (default 3 s).
	LineDuration time.Duration
	// Partials adds partial transcripts to the timeline.
	Partials bool
	// Sentiment scores the transcript; nil: a new analyzer.
	Sentiment *sentiment.Analyzer
	// Phrases are the topics and compliance rules looked for in the
	// transcript; nil: phrases.Default().
	Phrases *phrases.Config
}

// Event is one line of the timeline.
type Event struct {
	AtMS  int64  `json:"at_ms"`            // when it starts in the recording
	EndMS int64  `json:"end_ms,omitempty"` // speech: when it ends
	Kind  string `json:"kind"`             // "speech", "partial", "coaching", "outcome", "topic", "alert" or "disclosure"
	Side  string `json:"side,omitempty"`   // speech: customer or agent
	Text  string `json:"text"`
	Rule  string `json:"rule,omitempty"` // coaching: the rule that fired
	// Sentiment of a speech event, -1 … +1: its words, adjusted by a raised
	// voice or cutting the other side off.
	Sentiment *float64 `json:"sentiment,omitempty"`
}

// SideSentiment is one side's smoothed sentiment at the end.
type SideSentiment struct {
	Value     float64             `json:"value"`
	Direction sentiment.Direction `json:"direction"`
}

// Result of a replay.
type Result struct {
	Events []Event
	Final  analysis.Snapshot
	// Sentiment per side (customer, agent), from the transcript; zero without one.
	Sentiment [2]SideSentiment
	// Topics mentioned, from the transcript.
	Topics []string
	Audio  time.Duration // length of the recording
	Took   time.Duration // time the replay took
}

// RunWAV replays a WAV file's bytes.
func RunWAV(ctx context.Context, b []byte, o Options) (Result, error) {
	a, err := wav.Decode(b)
	if err != nil {
		return Result{}, err
	}
	if a.Channels != 2 || a.Rate != Rate {
		return Result{}, fmt.Errorf("%w: got %d channel(s) at %d Hz", ErrFormat, a.Channels, a.Rate)
	}
	return Run(ctx, a.PCM, o)
}

// Run replays interleaved stereo 16 kHz PCM.
func Run(ctx context.Context, pcm []int16, o Options) (Result, error) {
	if o.LineDuration <= 0 {
		o.LineDuration = 3 * time.Second
	}
	if o.Sentiment == nil {
		o.Sentiment = &sentiment.Analyzer{}
	}
	if o.Phrases == nil {
		d := phrases.Default()
		o.Phrases = &d
	}
	spot := phrases.NewSpotter(*o.Phrases)
	start := time.Now()
	an := analysis.New(o.Analysis)
	coach, err := coaching.New(o.Coaching)
	if err != nil {
		return Result{}, err
	}
	var streams [2]*stt.Stream
	if o.STT != nil {
		if o.STT.SampleRate() != Rate {
			return Result{}, fmt.Errorf("replay: %s takes %d Hz audio", o.STT.Name(), o.STT.SampleRate())
		}
		for side := range streams {
			rec, err := o.STT.NewRecognizer()
			if err != nil {
				return Result{}, fmt.Errorf("replay: %s: %w", o.STT.Name(), err)
			}
			streams[side] = stt.NewStream(rec, Rate, stt.StreamOptions{})
			defer streams[side].Close()
		}
	}

	var events []Event
	found := func(fs []phrases.Finding) {
		for _, f := range fs {
			ev := Event{AtMS: f.At.Milliseconds(), Side: f.Side, Rule: f.Name, Text: f.Phrase}
			switch f.Kind {
			case phrases.Topic:
				ev.Kind, ev.Rule, ev.Text = "topic", "", f.Name+" ("+f.Phrase+")"
			case phrases.Disclosed:
				ev.Kind = "disclosure"
			case phrases.Said:
				ev.Kind, ev.Text = "alert", "said: "+f.Phrase
			case phrases.Missing:
				ev.Kind, ev.Text = "alert", "not said in time"
			}
			events = append(events, ev)
		}
	}
	var trends [2]sentiment.Trend
	var voice [2]sentiment.VoiceLog
	speech := func(side analysis.Side, rs []stt.Result) {
		for _, r := range rs {
			ev := Event{AtMS: r.Start.Milliseconds(), EndMS: r.End.Milliseconds(), Kind: "speech", Side: side.String(), Text: r.Text}
			if !r.Final {
				if !o.Partials {
					continue
				}
				ev.Kind = "partial"
			} else {
				score := o.Sentiment.Utterance(r.Text, voice[side].Cues(r.Start, r.End))
				trends[side].Add(r.End, score)
				ev.Sentiment = &score
			}
			events = append(events, ev)
			if r.Final {
				found(spot.Utterance(side.String(), r.Text, r.Start))
			}
		}
	}
	base := time.Unix(0, 0) // the coach's clock is the recording's
	var inFlightUntil time.Time
	var sides [2][]int16
	sides[0], sides[1] = make([]int16, frameSamples), make([]int16, frameSamples)
	frames := len(pcm) / (2 * frameSamples)
	for i := range frames {
		if i%250 == 0 && ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		f := pcm[i*2*frameSamples : (i+1)*2*frameSamples]
		an.Stereo(f)
		snap := an.Snapshot()
		at := time.Duration(i+1) * 20 * time.Millisecond
		now := base.Add(at)
		if !inFlightUntil.IsZero() && !now.Before(inFlightUntil) {
			coach.Finished()
			inFlightUntil = time.Time{}
		}
		var mood [2]coaching.Mood
		for side := range trends {
			if trends[side].Known() {
				d := trends[side].Direction()
				mood[side] = coaching.Mood{Known: true, Value: trends[side].Value(), Falling: d == sentiment.Falling, Rising: d == sentiment.Rising}
			}
		}
		coach.Observe(coaching.Signals{Snapshot: snap, Mood: mood}, now)
		if s, ok := coach.Ready(now); ok {
			coach.Delivered(now)
			inFlightUntil = now.Add(o.LineDuration)
			events = append(events, Event{AtMS: at.Milliseconds(), Kind: "coaching", Text: s.Line, Rule: s.Rule})
		}
		if o.STT == nil {
			continue
		}
		found(spot.Tick(at))
		for side := range voice {
			voice[side].Add(snap.Sides[side].Talking, snap.Sides[side].LevelDBFS, snap.Sides[1-side].Talking)
		}
		for j := range frameSamples {
			sides[0][j], sides[1][j] = f[2*j], f[2*j+1]
		}
		for side := range streams {
			rs, err := streams[side].Feed(sides[side], snap.Sides[side].Talking)
			if err != nil {
				return Result{}, err
			}
			speech(analysis.Side(side), rs)
		}
	}
	for side, s := range streams {
		if s == nil {
			continue
		}
		rs, err := s.Flush()
		if err != nil {
			return Result{}, err
		}
		speech(analysis.Side(side), rs)
	}
	for _, oc := range coach.Outcomes(true) {
		ev := Event{AtMS: oc.At.Sub(base).Milliseconds(), Kind: "outcome", Rule: oc.Rule}
		switch {
		case oc.Undecided:
			ev.Text = "the recording ended first"
		case oc.Worked:
			ev.Text = fmt.Sprintf("worked: it ended %.1f s later", oc.After.Seconds())
		default:
			ev.Text = "no change"
		}
		events = append(events, ev)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].AtMS < events[j].AtMS })
	res := Result{Events: events, Final: an.Snapshot(), Audio: time.Duration(frames) * 20 * time.Millisecond, Took: time.Since(start)}
	for side := range trends {
		res.Sentiment[side] = SideSentiment{Value: trends[side].Value(), Direction: trends[side].Direction()}
	}
	if o.STT != nil {
		res.Topics = spot.Topics()
	}
	return res, nil
}
