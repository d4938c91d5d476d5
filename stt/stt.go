// Package stt turns one side of a call into text as it is spoken: partial
// hypotheses while the side talks, a final result when it stops. Endpointing
// follows the caller's voice-activity decisions, so the transcript's turns
// are the analyzer's turns. Engines plug in behind Recognizer; this package
// has no engine of its own (see stt/pocketsphinx).
package stt

import (
	"errors"
	"strings"
	"time"
)

// Result is a hypothesis for one utterance.
type Result struct {
	Text  string
	Final bool
	// Start and End are offsets from the stream's first sample.
	Start, End time.Duration
}

// Engine makes recognisers, one per side of a call.
type Engine interface {
	Name() string
	SampleRate() int // what Process expects
	NewRecognizer() (Recognizer, error)
}

// Recognizer decodes one utterance at a time. It is not safe for concurrent
// use: a Stream owns it.
type Recognizer interface {
	StartUtterance() error
	Process(pcm []int16) error
	Hypothesis() string // the best guess so far in this utterance
	EndUtterance() (string, error)
	Close() error
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("stt: closed")

// StreamOptions tune endpointing. Zero values give the defaults.
type StreamOptions struct {
	// EndSilence ends an utterance after this much non-speech (default 300 ms;
	// the voice-activity decisions fed in already hold a turn 300 ms past its
	// last voiced frame, so an utterance ends after 600 ms of quiet).
	EndSilence time.Duration
	// PreRoll is audio kept from before speech starts, so the first syllable
	// is not clipped by the detector's attack (default 200 ms).
	PreRoll time.Duration
	// PartialEvery is how often a changed partial hypothesis is reported
	// (default 500 ms of speech).
	PartialEvery time.Duration
	// MaxUtterance forces an end on very long talk (default 30 s).
	MaxUtterance time.Duration
}

func (o *StreamOptions) defaults() {
	if o.EndSilence <= 0 {
		o.EndSilence = 300 * time.Millisecond
	}
	if o.PreRoll <= 0 {
		o.PreRoll = 200 * time.Millisecond
	}
	if o.PartialEvery <= 0 {
		o.PartialEvery = 500 * time.Millisecond
	}
	if o.MaxUtterance <= 0 {
		o.MaxUtterance = 30 * time.Second
	}
}

// Stream endpoints one side's audio into utterances for a Recognizer.
type Stream struct {
	rec  Recognizer
	rate int
	o    StreamOptions

	pos         int64 // samples seen
	inUtt       bool
	uttStart    int64
	lastSpeech  int64
	lastPartial int64
	partial     string
	preroll     []int16 // ring of the last PreRoll samples
	closed      bool
}

// NewStream wraps rec, which takes audio at rate.
func NewStream(rec Recognizer, rate int, o StreamOptions) *Stream {
	o.defaults()
	return &Stream{rec: rec, rate: rate, o: o}
}

func (s *Stream) samples(d time.Duration) int64 { return int64(d) * int64(s.rate) / int64(time.Second) }
func (s *Stream) at(n int64) time.Duration {
	return time.Duration(n) * time.Second / time.Duration(s.rate)
}

// Feed gives the stream one frame and whether the side is speaking in it;
// it returns what became known: a changed partial, or a final result.
func (s *Stream) Feed(frame []int16, speech bool) ([]Result, error) {
	if s.closed {
		return nil, ErrClosed
	}
	start := s.pos
	s.pos += int64(len(frame))
	var out []Result
	if !s.inUtt {
		if !speech {
			s.keepPreroll(frame)
			return nil, nil
		}
		if err := s.rec.StartUtterance(); err != nil {
			return nil, err
		}
		s.inUtt = true
		s.uttStart = start - int64(len(s.preroll))
		s.lastPartial, s.partial = start, ""
		if len(s.preroll) > 0 {
			if err := s.rec.Process(s.preroll); err != nil {
				return nil, err
			}
			s.preroll = s.preroll[:0]
		}
	}
	if err := s.rec.Process(frame); err != nil {
		return nil, err
	}
	if speech {
		s.lastSpeech = s.pos
	}
	switch {
	case s.pos-s.lastSpeech >= s.samples(s.o.EndSilence), s.pos-s.uttStart >= s.samples(s.o.MaxUtterance):
		r, err := s.end()
		if err != nil {
			return out, err
		}
		if r.Text != "" {
			out = append(out, r)
		}
	case speech && s.pos-s.lastPartial >= s.samples(s.o.PartialEvery):
		s.lastPartial = s.pos
		if h := s.rec.Hypothesis(); h != "" && h != s.partial {
			s.partial = h
			out = append(out, Result{Text: h, Start: s.at(s.uttStart), End: s.at(s.pos)})
		}
	}
	return out, nil
}

func (s *Stream) keepPreroll(frame []int16) {
	limit := int(s.samples(s.o.PreRoll))
	s.preroll = append(s.preroll, frame...)
	if over := len(s.preroll) - limit; over > 0 {
		s.preroll = append(s.preroll[:0], s.preroll[over:]...)
	}
}

func (s *Stream) end() (Result, error) {
	s.inUtt = false
	text, err := s.rec.EndUtterance()
	end := s.lastSpeech
	if end <= s.uttStart {
		end = s.pos
	}
	return Result{Text: text, Final: true, Start: s.at(s.uttStart), End: s.at(end)}, err
}

// Flush ends an utterance in progress (the call ended) and returns its final result.
func (s *Stream) Flush() ([]Result, error) {
	if s.closed || !s.inUtt {
		return nil, nil
	}
	r, err := s.end()
	if err != nil || r.Text == "" {
		return nil, err
	}
	return []Result{r}, nil
}

// Close frees the recogniser.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.rec.Close()
}

// WordErrorRate is the word-level edit distance between a reference and a
// hypothesis over the reference's length (case and punctuation ignored).
func WordErrorRate(reference, hypothesis string) float64 {
	ref, hyp := words(reference), words(hypothesis)
	if len(ref) == 0 {
		if len(hyp) == 0 {
			return 0
		}
		return 1
	}
	prev := make([]int, len(hyp)+1)
	cur := make([]int, len(hyp)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = i
		for j := 1; j <= len(hyp); j++ {
			sub := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return float64(prev[len(hyp)]) / float64(len(ref))
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'')
	})
}
