// Package sentiment scores what each side of a call says and follows it as
// a trend. Words come first (VADER's lexicon, with a few contact-centre
// words added); the voice adjusts them, because a transcript misses sarcasm
// and a recogniser garbles words: a raised voice or cutting the other side
// off pulls a score down.
package sentiment

import (
	"math"
	"sync"
	"time"

	"github.com/jonreiter/govader"
)

// contactCentre are lexicon entries VADER lacks or weighs for other kinds of
// text (VADER's scale: -4 … +4).
var contactCentre = map[string]float64{
	"cancel":      -1.2,
	"cancelled":   -1.2,
	"complaint":   -1.8,
	"escalate":    -1.2,
	"unresolved":  -1.5,
	"outage":      -1.5,
	"overcharged": -2.0,
	"resolved":    1.5,
	"fixed":       1.2,
	"sorted":      1.0,
	"appreciate":  1.8,
}

// Analyzer scores text. It is safe for concurrent use; make one per process
// (the lexicon takes a while to load).
type Analyzer struct {
	once sync.Once
	sia  *govader.SentimentIntensityAnalyzer
}

func (a *Analyzer) load() {
	a.once.Do(func() {
		a.sia = govader.NewSentimentIntensityAnalyzer()
		for w, v := range contactCentre {
			a.sia.Lexicon[w] = v
		}
	})
}

// Text is VADER's compound score of text, from -1 (negative) to +1.
func (a *Analyzer) Text(text string) float64 {
	a.load()
	return a.sia.PolarityScores(text).Compound
}

// Cues are what the voice said about an utterance.
type Cues struct {
	// LoudnessDB is how much louder than the side's usual level it was.
	LoudnessDB float64
	// Interrupting: it started while the other side was talking.
	Interrupting bool
}

// Utterance combines an utterance's words with its acoustic cues, in -1 … +1.
func (a *Analyzer) Utterance(text string, c Cues) float64 {
	s := a.Text(text)
	if c.LoudnessDB > 6 { // a raised voice: up to -0.3 at +12 dB
		s -= math.Min(0.3, 0.05*(c.LoudnessDB-6))
	}
	if c.Interrupting {
		s -= 0.1
	}
	return math.Max(-1, math.Min(1, s))
}

// Direction of a trend.
type Direction string

const (
	Rising  Direction = "rising"
	Falling Direction = "falling"
	Steady  Direction = "steady"
)

// Trend smooths one side's utterance scores over the call.
type Trend struct {
	// HalfLife: an utterance's weight halves every HalfLife of call time
	// (default 20 s).
	HalfLife time.Duration
	// Window is how far back Direction compares (default 30 s).
	Window time.Duration

	value  float64
	seen   bool
	last   time.Duration
	points []point
}

type point struct {
	at    time.Duration
	value float64
}

// Add records an utterance's score at a time in the call.
func (t *Trend) Add(at time.Duration, score float64) {
	if t.HalfLife <= 0 {
		t.HalfLife = 20 * time.Second
	}
	if t.Window <= 0 {
		t.Window = 30 * time.Second
	}
	if !t.seen {
		t.value, t.seen = score, true
	} else {
		keep := math.Exp2(-float64(at-t.last) / float64(t.HalfLife))
		// Each utterance moves the trend at least a little, however close.
		keep = math.Min(keep, 0.7)
		t.value = keep*t.value + (1-keep)*score
	}
	t.last = at
	t.points = append(t.points, point{at, t.value})
	for len(t.points) > 1 && t.points[0].at < at-t.Window {
		t.points = t.points[1:]
	}
}

// Known reports whether anything was added yet.
func (t *Trend) Known() bool { return t.seen }

// Value is the smoothed sentiment (0 before anything was said).
func (t *Trend) Value() float64 { return t.value }

// Direction compares the smoothed value with where it was a Window ago.
func (t *Trend) Direction() Direction {
	if len(t.points) < 2 {
		return Steady
	}
	switch d := t.value - t.points[0].value; {
	case d > 0.15:
		return Rising
	case d < -0.15:
		return Falling
	}
	return Steady
}
