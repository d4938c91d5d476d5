package tts

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/callcoach/callcoach/internal/wav"
)

// Rate is the sample rate of every Speech an Engine returns.
const Rate = 8000

// Speech is synthesised audio: 16-bit signed mono PCM at Rate.
type Speech struct {
	Samples []int16
	Rate    int
}

// Duration is how long the speech plays.
func (s *Speech) Duration() time.Duration {
	if s.Rate <= 0 {
		return 0
	}
	return time.Duration(len(s.Samples)) * time.Second / time.Duration(s.Rate)
}

// PCM returns the samples as little-endian bytes (L16 as FreeSWITCH's raw
// files and mod_audio_fork's playAudio expect).
func (s *Speech) PCM() []byte {
	b := make([]byte, 2*len(s.Samples))
	for i, v := range s.Samples {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	return b
}

// WriteWAV writes the speech as a canonical 44-byte-header PCM WAV file.
func (s *Speech) WriteWAV(w io.Writer) error {
	if err := wav.Encode(w, wav.Audio{PCM: s.Samples, Channels: 1, Rate: s.Rate}); err != nil {
		return fmt.Errorf("tts: writing wav: %w", err)
	}
	return nil
}

// WriteWAVFile writes the speech to path atomically (a temporary file in the
// same directory, then rename), so FreeSWITCH never plays a half-written file.
func (s *Speech) WriteWAVFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tts-*.wav")
	if err != nil {
		return fmt.Errorf("tts: %w", err)
	}
	tmp := f.Name()
	err = s.WriteWAV(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("tts: closing %s: %w", tmp, cerr)
	}
	if err == nil {
		// CreateTemp makes 0600 files; FreeSWITCH may run as another user.
		err = os.Chmod(tmp, 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("tts: writing %s: %w", path, err)
	}
	return nil
}

// ErrBadWAV is returned for engine output that is not 16-bit mono PCM WAV.
var ErrBadWAV = errors.New("tts: not a 16-bit mono PCM WAV")

// parseWAV reads 16-bit mono PCM WAV. Sizes in the header are not trusted:
// espeak-ng writes a placeholder size when its output is a pipe.
func parseWAV(b []byte) (samples []int16, rate int, err error) {
	a, err := wav.Decode(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrBadWAV, err)
	}
	if a.Channels != 1 {
		return nil, 0, fmt.Errorf("%w: %d channels", ErrBadWAV, a.Channels)
	}
	return a.PCM, a.Rate, nil
}

// trimSilence drops leading and trailing stretches quieter than about -46 dBFS,
// keeping margin samples of lead-in and tail so onsets and decays survive.
func trimSilence(s []int16, margin int) []int16 {
	const threshold = 160
	first, last := -1, -1
	for i, v := range s {
		if v > threshold || v < -threshold {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return s[:0]
	}
	start := max(0, first-margin)
	end := min(len(s), last+1+margin)
	return s[start:end]
}
