// Package wav reads and writes 16-bit PCM WAV files, mono or interleaved
// stereo, for recordings the analyzer replays.
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrFormat: not a 16-bit PCM RIFF/WAVE file.
var ErrFormat = errors.New("wav: not a 16-bit PCM WAVE file")

// Audio is PCM samples, interleaved when Channels is 2.
type Audio struct {
	PCM      []int16
	Channels int
	Rate     int
}

// Decode parses a WAV file. A data chunk whose size is a placeholder (as
// written by a streaming encoder) runs to the end of the file.
func Decode(b []byte) (Audio, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Audio{}, fmt.Errorf("%w: no RIFF/WAVE header", ErrFormat)
	}
	var a Audio
	bits := 0
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > len(body) || size < 0 {
			size = len(body)
		}
		switch id {
		case "fmt ":
			if size < 16 || binary.LittleEndian.Uint16(body) != 1 {
				return Audio{}, fmt.Errorf("%w: compressed", ErrFormat)
			}
			a.Channels = int(binary.LittleEndian.Uint16(body[2:]))
			a.Rate = int(binary.LittleEndian.Uint32(body[4:]))
			bits = int(binary.LittleEndian.Uint16(body[14:]))
		case "data":
			if bits != 16 || a.Channels < 1 || a.Channels > 2 || a.Rate <= 0 {
				return Audio{}, fmt.Errorf("%w: %d-bit, %d channels, %d Hz", ErrFormat, bits, a.Channels, a.Rate)
			}
			a.PCM = make([]int16, size/2)
			for i := range a.PCM {
				a.PCM[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return a, nil
		}
		p += 8 + size + size%2
	}
	return Audio{}, fmt.Errorf("%w: no data chunk", ErrFormat)
}

// Encode writes a as a WAV file.
func Encode(w io.Writer, a Audio) error {
	data := 2 * len(a.PCM)
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+data))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], uint16(a.Channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(a.Rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(a.Rate*a.Channels*2))
	binary.LittleEndian.PutUint16(h[32:], uint16(a.Channels*2))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(data))
	body := make([]byte, data)
	for i, s := range a.PCM {
		binary.LittleEndian.PutUint16(body[2*i:], uint16(s))
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}
