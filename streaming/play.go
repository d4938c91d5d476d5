package streaming

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callcoach/callcoach/internal/wav"
)

// Audio is mono 16-bit little-endian PCM (L16) at 8000 or 16000 Hz.
type Audio struct {
	PCM        []byte
	SampleRate int
}

// maxPlayBytes bounds one playAudio message (60 s at 16 kHz); coaching lines
// are a few seconds.
const maxPlayBytes = 60 * 16000 * 2

func (a Audio) validate() error {
	if a.SampleRate != 8000 && a.SampleRate != 16000 {
		return fmt.Errorf("%w: sample rate %d (only 8000 or 16000 play back correctly)", ErrBadAudio, a.SampleRate)
	}
	if len(a.PCM) == 0 || len(a.PCM)%2 != 0 {
		return fmt.Errorf("%w: %d bytes is not 16-bit PCM", ErrBadAudio, len(a.PCM))
	}
	if len(a.PCM) > maxPlayBytes {
		return fmt.Errorf("%w: %d bytes is over the %d-byte limit", ErrBadAudio, len(a.PCM), maxPlayBytes)
	}
	return nil
}

// ParseWAV reads a RIFF/WAVE file of mono 16-bit PCM at 8000 or 16000 Hz.
func ParseWAV(b []byte) (Audio, error) {
	w, err := wav.Decode(b)
	if err != nil {
		return Audio{}, fmt.Errorf("%w: %w", ErrBadAudio, err)
	}
	if w.Channels != 1 {
		return Audio{}, fmt.Errorf("%w: %d channels (want mono)", ErrBadAudio, w.Channels)
	}
	a := Audio{PCM: make([]byte, 2*len(w.PCM)), SampleRate: w.Rate}
	for i, x := range w.PCM {
		binary.LittleEndian.PutUint16(a.PCM[2*i:], uint16(x))
	}
	return a, a.validate()
}

type playAudioMessage struct {
	Type string        `json:"type"`
	Data playAudioData `json:"data"`
}

type playAudioData struct {
	AudioContentType string `json:"audioContentType"`
	SampleRate       int    `json:"sampleRate"`
	AudioContent     string `json:"audioContent"`
	TextContent      string `json:"textContent,omitempty"`
}

// PlayAudio sends a playAudio message with the audio as raw L16 (base64) and
// text as textContent. FreeSWITCH then writes a temp file and fires
// mod_audio_fork::play_audio with its path; it does not play it.
//
// A write cut short by ctx leaves the websocket unusable for writing
// (gorilla/websocket's rule); the fork keeps streaming.
func (s *Session) PlayAudio(ctx context.Context, a Audio, text string) error {
	if err := a.validate(); err != nil {
		return err
	}
	msg, err := json.Marshal(playAudioMessage{
		Type: "playAudio",
		Data: playAudioData{
			AudioContentType: "raw",
			SampleRate:       a.SampleRate,
			AudioContent:     base64.StdEncoding.EncodeToString(a.PCM),
			TextContent:      text,
		},
	})
	if err != nil {
		return fmt.Errorf("streaming: playAudio: %w", err)
	}
	return s.writeText(ctx, msg)
}

func (s *Session) writeText(ctx context.Context, msg []byte) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("streaming: write to %s: %w", s.callID, ctx.Err())
	case <-s.done:
		return fmt.Errorf("streaming: write to %s: %w", s.callID, ErrClosed)
	}
	defer func() { <-s.sem }()

	s.mu.Lock()
	st, conn := s.st, s.conn
	s.mu.Unlock()
	switch st {
	case stExpected, stConnecting:
		return fmt.Errorf("streaming: write to %s: %w", s.callID, ErrNotConnected)
	case stEnded:
		return fmt.Errorf("streaming: write to %s: %w", s.callID, ErrClosed)
	}

	deadline := time.Now().Add(s.reg.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := conn.SetWriteDeadline(deadline); err != nil {
		return fmt.Errorf("streaming: write to %s: %w", s.callID, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Now()) })
	defer stop()
	if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("streaming: write to %s: %w (%w)", s.callID, ctx.Err(), err)
		}
		return fmt.Errorf("streaming: write to %s: %w", s.callID, err)
	}
	return nil
}
