package tts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
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
	data := s.PCM()
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], uint32(s.Rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(2*s.Rate))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("tts: writing wav header: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("tts: writing wav data: %w", err)
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
	if len(b) < 12 || !bytes.Equal(b[0:4], []byte("RIFF")) || !bytes.Equal(b[8:12], []byte("WAVE")) {
		return nil, 0, fmt.Errorf("%w: no RIFF/WAVE header", ErrBadWAV)
	}
	haveFmt := false
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		switch id {
		case "fmt ":
			if size < 16 || len(body) < 16 {
				return nil, 0, fmt.Errorf("%w: short fmt chunk", ErrBadWAV)
			}
			format := binary.LittleEndian.Uint16(body[0:])
			channels := binary.LittleEndian.Uint16(body[2:])
			rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits := binary.LittleEndian.Uint16(body[14:])
			if format != 1 || channels != 1 || bits != 16 || rate <= 0 {
				return nil, 0, fmt.Errorf("%w: format %d, %d channels, %d bits, %d Hz", ErrBadWAV, format, channels, bits, rate)
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, 0, fmt.Errorf("%w: data before fmt", ErrBadWAV)
			}
			if size > len(body) {
				size = len(body)
			}
			samples = make([]int16, size/2)
			for i := range samples {
				samples[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return samples, rate, nil
		}
		if size > len(body) {
			break
		}
		p += 8 + size + size%2
	}
	return nil, 0, fmt.Errorf("%w: no data chunk", ErrBadWAV)
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
