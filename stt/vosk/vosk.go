// Package vosk is an stt.Engine that streams to a speech server speaking
// Vosk's websocket protocol (vosk-server, and servers compatible with it),
// for users who run their own recogniser: a configuration message, binary
// 16-bit PCM, {"eof" : 1}; the server answers {"partial": …} while audio
// flows and {"text": …} at the end of the utterance.
package vosk

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callcoach/callcoach/stt"
)

// Engine connects a recogniser per utterance to URL.
type Engine struct {
	URL  string        // ws://host:2700
	Rate int           // sample rate sent; default 16000
	Wait time.Duration // how long EndUtterance waits for the final text (default 5 s)
	// Dialer is the websocket dialer (default websocket.DefaultDialer).
	Dialer *websocket.Dialer
}

// ErrServer: the speech server failed or broke the protocol.
var ErrServer = errors.New("vosk: speech server")

func (e *Engine) Name() string { return "vosk" }

func (e *Engine) SampleRate() int {
	if e.Rate == 0 {
		return 16000
	}
	return e.Rate
}

// NewRecognizer makes a recogniser; it connects when an utterance starts.
func (e *Engine) NewRecognizer() (stt.Recognizer, error) {
	if e.URL == "" {
		return nil, fmt.Errorf("%w: no URL", ErrServer)
	}
	return &recognizer{e: e}, nil
}

type recognizer struct {
	e    *Engine
	conn *websocket.Conn
	buf  []byte

	mu      sync.Mutex
	partial string
	final   chan result
	closed  bool
}

type result struct {
	text string
	err  error
}

type message struct {
	Partial *string `json:"partial"`
	Text    *string `json:"text"`
}

func (r *recognizer) StartUtterance() error {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return stt.ErrClosed
	}
	d := r.e.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := d.DialContext(ctx, r.e.URL, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrServer, err)
	}
	cfg := fmt.Sprintf(`{"config": {"sample_rate": %d}}`, r.e.SampleRate())
	if err := conn.WriteMessage(websocket.TextMessage, []byte(cfg)); err != nil {
		conn.Close()
		return fmt.Errorf("%w: %w", ErrServer, err)
	}
	r.mu.Lock()
	r.conn, r.partial, r.final = conn, "", make(chan result, 1)
	final := r.final
	r.mu.Unlock()
	go r.read(conn, final)
	return nil
}

// read takes the server's messages until the final text or an error.
func (r *recognizer) read(conn *websocket.Conn, final chan<- result) {
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			final <- result{err: fmt.Errorf("%w: %w", ErrServer, err)}
			return
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			final <- result{err: fmt.Errorf("%w: not JSON: %.80q", ErrServer, b)}
			return
		}
		switch {
		case m.Text != nil:
			final <- result{text: *m.Text}
			return
		case m.Partial != nil:
			r.mu.Lock()
			r.partial = *m.Partial
			r.mu.Unlock()
		}
	}
}

func (r *recognizer) Process(pcm []int16) error {
	if r.conn == nil {
		return fmt.Errorf("%w: no utterance started", ErrServer)
	}
	r.buf = r.buf[:0]
	for _, s := range pcm {
		r.buf = binary.LittleEndian.AppendUint16(r.buf, uint16(s))
	}
	_ = r.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if err := r.conn.WriteMessage(websocket.BinaryMessage, r.buf); err != nil {
		return fmt.Errorf("%w: %w", ErrServer, err)
	}
	return nil
}

func (r *recognizer) Hypothesis() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.partial
}

func (r *recognizer) EndUtterance() (string, error) {
	if r.conn == nil {
		return "", fmt.Errorf("%w: no utterance started", ErrServer)
	}
	conn := r.conn
	r.conn = nil
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"eof" : 1}`)); err != nil {
		return "", fmt.Errorf("%w: %w", ErrServer, err)
	}
	wait := r.e.Wait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	r.mu.Lock()
	final := r.final
	r.mu.Unlock()
	select {
	case res := <-final:
		return res.text, res.err
	case <-t.C:
		return "", fmt.Errorf("%w: no final text within %v", ErrServer, wait)
	}
}

func (r *recognizer) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if r.conn != nil {
		r.conn.Close()
		r.conn = nil
	}
	return nil
}
