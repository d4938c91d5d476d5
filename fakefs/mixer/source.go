package mixer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/callcoach/callcoach/internal/wav"
)

// Audio format of the engine.
const (
	Rate         = 16000
	FrameSamples = Rate / 50 // 20 ms
	FrameTime    = 20 * time.Millisecond
)

// Source is audio, read a frame at a time. Read fills frame (FrameSamples)
// and says whether the source had audio for it; a finished source fills
// silence and returns false.
type Source interface {
	Read(frame []int16) bool
}

type tone struct {
	mu          sync.Mutex
	step, phase float64
	amp         float64
}

// Tone is an endless sine.
func Tone(freqHz, amplitude float64) Source {
	return &tone{step: 2 * math.Pi * freqHz / Rate, amp: amplitude}
}

func (t *tone) Read(frame []int16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range frame {
		frame[i] = int16(t.amp * math.Sin(t.phase))
		t.phase += t.step
	}
	t.phase = math.Mod(t.phase, 2*math.Pi)
	return true
}

type silence struct{}

// Silence is endless silence.
func Silence() Source { return silence{} }

func (silence) Read(frame []int16) bool { clear(frame); return true }

// samples plays PCM once.
type samples struct {
	mu  sync.Mutex
	pcm []int16
	pos int
}

// Samples plays pcm (16 kHz) once.
func Samples(pcm []int16) Source { return &samples{pcm: pcm} }

func (s *samples) Read(frame []int16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos >= len(s.pcm) {
		clear(frame)
		return false
	}
	n := copy(frame, s.pcm[s.pos:])
	clear(frame[n:])
	s.pos += n
	return true
}

type limited struct {
	mu     sync.Mutex
	src    Source
	frames int
}

// For plays src for d, then ends.
func For(src Source, d time.Duration) Source {
	return &limited{src: src, frames: int(d / FrameTime)}
}

func (l *limited) Read(frame []int16) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.frames <= 0 {
		clear(frame)
		return false
	}
	l.frames--
	return l.src.Read(frame)
}

// Switchable is a Source that can be changed while it plays: a scripted
// party who starts and stops talking.
type Switchable struct {
	mu  sync.Mutex
	src Source
}

// NewSwitchable starts with src (nil: silence).
func NewSwitchable(src Source) *Switchable { return &Switchable{src: src} }

// Set changes what is said from the next frame on.
func (s *Switchable) Set(src Source) {
	s.mu.Lock()
	s.src = src
	s.mu.Unlock()
}

func (s *Switchable) Read(frame []int16) bool {
	s.mu.Lock()
	src := s.src
	s.mu.Unlock()
	if src == nil {
		clear(frame)
		return true
	}
	src.Read(frame)
	return true
}

// ErrUnsupported is returned by OpenFile for what it cannot play.
var ErrUnsupported = errors.New("mixer: unsupported file")

// OpenFile opens what FreeSWITCH's playback would: tone_stream://%(on,off,f1[,f2])
// with optional ;loops=N (teletone syntax; loops=-1 forever), .wav (PCM16
// mono or stereo, any rate), raw L16 .r8/.r16/.raw as mod_audio_fork writes.
func OpenFile(path string) (Source, error) {
	if rest, ok := strings.CutPrefix(path, "tone_stream://"); ok {
		return parseToneStream(rest)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mixer: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".wav":
		pcm, rate, err := ParseWAV(data)
		if err != nil {
			return nil, err
		}
		return Samples(Resample(pcm, rate, Rate)), nil
	case ".r8":
		return Samples(Resample(decodeL16(data), 8000, Rate)), nil
	case ".r16", ".raw":
		return Samples(decodeL16(data)), nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupported, path)
}

func decodeL16(b []byte) []int16 {
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return out
}

// ParseWAV returns a WAV file's samples (stereo mixed down) and rate.
func ParseWAV(b []byte) ([]int16, int, error) {
	a, err := wav.Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	pcm := a.PCM
	if a.Channels == 2 {
		mono := make([]int16, len(pcm)/2)
		for i := range mono {
			mono[i] = int16((int(pcm[2*i]) + int(pcm[2*i+1])) / 2)
		}
		pcm = mono
	}
	return pcm, a.Rate, nil
}

// Resample converts by linear interpolation (enough for test tones and
// speech prompts).
func Resample(in []int16, from, to int) []int16 {
	if from == to || len(in) == 0 {
		return in
	}
	n := int(int64(len(in)) * int64(to) / int64(from))
	out := make([]int16, n)
	for i := range out {
		pos := float64(i) * float64(from) / float64(to)
		j := int(pos)
		frac := pos - float64(j)
		a := float64(in[min(j, len(in)-1)])
		b := float64(in[min(j+1, len(in)-1)])
		out[i] = int16(a + (b-a)*frac)
	}
	return out
}

// teletone: %(on_ms,off_ms,freq[,freq…]) segments, ;loops=N.
type toneStream struct {
	mu     sync.Mutex
	segs   []toneSeg
	loops  int // -1: forever
	seg    int
	pos    int // sample within segment
	phases []float64
}

type toneSeg struct {
	on, off int // samples
	freqs   []float64
}

func parseToneStream(spec string) (Source, error) {
	ts := &toneStream{loops: 1}
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "loops="); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%w: tone_stream loops %q", ErrUnsupported, v)
			}
			ts.loops = n
			continue
		}
		for part != "" {
			if !strings.HasPrefix(part, "%(") {
				return nil, fmt.Errorf("%w: tone_stream segment %q", ErrUnsupported, part)
			}
			end := strings.IndexByte(part, ')')
			if end < 0 {
				return nil, fmt.Errorf("%w: tone_stream segment %q", ErrUnsupported, part)
			}
			fields := strings.Split(part[2:end], ",")
			part = part[end+1:]
			if len(fields) < 3 {
				return nil, fmt.Errorf("%w: tone_stream needs on,off,freq", ErrUnsupported)
			}
			var vals []float64
			for _, f := range fields {
				v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return nil, fmt.Errorf("%w: tone_stream number %q", ErrUnsupported, f)
				}
				vals = append(vals, v)
			}
			ts.segs = append(ts.segs, toneSeg{on: int(vals[0] * Rate / 1000), off: int(vals[1] * Rate / 1000), freqs: vals[2:]})
		}
	}
	if len(ts.segs) == 0 {
		return nil, fmt.Errorf("%w: empty tone_stream", ErrUnsupported)
	}
	ts.phases = make([]float64, 8)
	return ts, nil
}

// toneAmplitude matches FreeSWITCH's teletone default level closely enough
// that tone levels compare with tonematrix.txt (≈5087 RMS).
const toneAmplitude = 7194

func (t *toneStream) Read(frame []int16) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loops == 0 {
		clear(frame)
		return false
	}
	for i := range frame {
		if t.loops == 0 {
			clear(frame[i:])
			return true
		}
		s := t.segs[t.seg]
		var v float64
		if t.pos < s.on {
			for k, f := range s.freqs {
				v += math.Sin(t.phases[k])
				t.phases[k] += 2 * math.Pi * f / Rate
			}
			if len(s.freqs) > 0 {
				v = v / float64(len(s.freqs)) * toneAmplitude
			}
		}
		frame[i] = int16(v)
		t.pos++
		if t.pos >= s.on+s.off {
			t.pos = 0
			clear(t.phases)
			t.seg++
			if t.seg == len(t.segs) {
				t.seg = 0
				if t.loops > 0 {
					t.loops--
				}
			}
		}
	}
	return true
}

// Level is the RMS amplitude of freqHz in samples (Goertzel): a full sine of
// amplitude A gives A/√2 (7194 → 5087, as in tonematrix.txt), its absence ≈ 0.
func Level(pcm []int16, rate int, freqHz float64) float64 {
	if len(pcm) == 0 {
		return 0
	}
	w := 2 * math.Pi * freqHz / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	n := float64(len(pcm))
	// |X| = N·A/2 for a sine of amplitude A; RMS = A/√2.
	return math.Sqrt(math.Max(power, 0)) * 2 / n / math.Sqrt2
}

// RMS is the overall level of pcm.
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var sum float64
	for _, v := range pcm {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(pcm)))
}
