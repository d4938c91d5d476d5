package streaming

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Frame sizes mod_audio_fork sends every 20 ms.
const (
	StereoFrameBytes16k = 1280
	MonoFrameBytes16k   = 640
	MonoFrameBytes8k    = 320
	FrameDuration       = 20 * time.Millisecond

	maxFrameBytes = StereoFrameBytes16k
	maxTextBytes  = 64 << 10
	readLimit     = 1 << 20
)

// Metadata is the fork's first text frame.
type Metadata struct {
	Raw string `json:"-"` // as received
	// Valid reports that Raw is a JSON object; the fields below come from it.
	Valid bool `json:"-"`
	// Missing reports that audio arrived before any text frame.
	Missing bool   `json:"-"`
	CallID  string `json:"callId"`
	// Mix ("mono", "mixed", "stereo") and SampleRate (8000, 16000) are
	// optional; when present they fix the expected frame size, which is
	// otherwise inferred from the first frame assuming 16k.
	Mix        string `json:"mix"`
	SampleRate int    `json:"sampleRate"`
}

// Frame is 20 ms of audio. PCM is interleaved when Channels is 2 (channel 0 =
// customer, channel 1 = agent side) and valid until Release.
type Frame struct {
	// Seq numbers audio frames on the connection from 0, dropped ones
	// included, so Seq*FrameDuration is the frame's media time and gaps show drops.
	Seq        uint64
	Arrived    time.Time
	Channels   int
	SampleRate int
	PCM        []int16
	buf        *frameBuf
}

// Release hands the frame's buffer back for reuse and records its lateness
// (release time minus arrival). Calling it more than once is harmless;
// forgetting it costs an allocation per frame.
func (f Frame) Release() {
	b := f.buf
	if b == nil || !b.inUse.CompareAndSwap(true, false) {
		return
	}
	b.s.recordLateness(time.Since(f.Arrived))
	select {
	case b.s.free <- b:
	default:
	}
}

type frameBuf struct {
	pcm   []int16
	s     *Session
	inUse atomic.Bool
}

// Stats are a session's counters.
type Stats struct {
	Connected      bool
	FramesReceived uint64 // well-formed audio frames
	FramesDropped  uint64 // well-formed but dropped because the queue was full
	BadFrames      uint64 // binary frames of an unexpected size
	TextFrames     uint64 // text frames after the metadata (send_text)
	Bytes          uint64
	// Lateness is measured from a frame's arrival to its Release.
	LatenessMax  time.Duration
	LatenessMean time.Duration
	LateFrames   uint64 // released more than 100 ms after arrival
	// BehindMax is the most the audio arrived behind its own clock (wall
	// time since the first frame minus the audio received before): how late
	// the sender or the network delivers, before any analysis.
	BehindMax time.Duration
	// BehindNow is the same, at the moment Stats is called (0 once ended).
	BehindNow time.Duration
}

type state int

const (
	stExpected state = iota
	stConnecting
	stConnected
	stEnded
)

// Session is one call's fork: expected, then connected, then over.
type Session struct {
	reg    *Registry
	callID string
	token  string
	log    *slog.Logger

	frames chan Frame
	free   chan *frameBuf
	sem    chan struct{} // one writer at a time (gorilla allows one)

	mu       sync.Mutex
	st       state
	conn     *websocket.Conn
	meta     Metadata
	metaDone chan struct{}
	metaSet  bool
	err      error
	done     chan struct{}

	closeOnce sync.Once

	received, dropped, bad, texts, bytes, late atomic.Uint64
	latCount, latSumNs, latMaxNs               atomic.Int64
	// Arrival pacing (readLoop only, but read by Stats): how far the audio
	// arrives behind its own clock, counted from the first frame.
	firstAtNs   atomic.Int64 // UnixNano of the first frame; 0 before
	audioNs     atomic.Int64 // audio received since, in ns of sound
	behindMaxNs atomic.Int64
}

func newSession(r *Registry, callID, token string) *Session {
	return &Session{
		reg:      r,
		callID:   callID,
		token:    token,
		log:      r.log.With("call", callID),
		frames:   make(chan Frame, r.opts.QueueFrames),
		free:     make(chan *frameBuf, r.opts.QueueFrames+2),
		sem:      make(chan struct{}, 1),
		metaDone: make(chan struct{}),
		done:     make(chan struct{}),
	}
}

// CallID is the call this session was expected for.
func (s *Session) CallID() string { return s.callID }

// Frames delivers the audio in order; it is closed when the session is over.
func (s *Session) Frames() <-chan Frame { return s.frames }

// Done is closed when the session is over (connection ended, or closed
// before the fork connected).
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended: nil for a normal close (code 1000/1001,
// or our own Close), otherwise the connection's error.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Connected reports whether the fork is connected now.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st == stConnected
}

// Metadata waits for the fork's first frame and returns its metadata.
func (s *Session) Metadata(ctx context.Context) (Metadata, error) {
	select {
	case <-s.metaDone:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.meta, nil
	case <-s.done:
		select {
		case <-s.metaDone:
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.meta, nil
		default:
		}
		return Metadata{}, fmt.Errorf("%w: no metadata before the session ended", ErrClosed)
	case <-ctx.Done():
		return Metadata{}, fmt.Errorf("streaming: waiting for metadata: %w", ctx.Err())
	}
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	st := Stats{
		Connected:      s.Connected(),
		FramesReceived: s.received.Load(),
		FramesDropped:  s.dropped.Load(),
		BadFrames:      s.bad.Load(),
		TextFrames:     s.texts.Load(),
		Bytes:          s.bytes.Load(),
		LatenessMax:    time.Duration(s.latMaxNs.Load()),
		LateFrames:     s.late.Load(),
		BehindMax:      time.Duration(s.behindMaxNs.Load()),
		BehindNow:      s.behindNow(),
	}
	if n := s.latCount.Load(); n > 0 {
		st.LatenessMean = time.Duration(s.latSumNs.Load() / n)
	}
	return st
}

func (s *Session) recordLateness(d time.Duration) {
	ns := int64(d)
	s.latCount.Add(1)
	s.latSumNs.Add(ns)
	if d > 100*time.Millisecond {
		s.late.Add(1)
	}
	for {
		cur := s.latMaxNs.Load()
		if ns <= cur || s.latMaxNs.CompareAndSwap(cur, ns) {
			return
		}
	}
}

func (s *Session) claim() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.st {
	case stExpected:
		s.st = stConnecting
		return nil
	case stEnded:
		return ErrClosed
	default:
		return errors.New("streaming: fork already connected for this call")
	}
}

// unclaim after a failed upgrade: the call may still be forked again.
func (s *Session) unclaim() {
	s.mu.Lock()
	ended := s.st == stEnded
	if !ended {
		s.st = stExpected
	}
	s.mu.Unlock()
	if ended {
		s.finish(nil)
	}
}

// Close ends the session: it sends a normal close to a connected fork,
// waits (CloseGrace at most) for the peer's answer, then drops the
// connection and waits for the reader to finish. Safe to call repeatedly.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		prev := s.st
		s.st = stEnded
		conn := s.conn
		s.mu.Unlock()
		switch prev {
		case stExpected:
			s.finish(nil)
			return
		case stConnecting:
			// serve sees stEnded after the upgrade and finishes.
		case stConnected:
			s.writeClose(conn)
			t := time.NewTimer(s.reg.opts.CloseGrace)
			select {
			case <-s.done:
			case <-t.C:
			}
			t.Stop()
			_ = conn.Close()
		}
	})
	<-s.done
	return nil
}

func (s *Session) writeClose(conn *websocket.Conn) {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	deadline := time.Now().Add(s.reg.opts.CloseGrace)
	// WriteControl may run concurrently with other writes.
	if err := conn.WriteControl(websocket.CloseMessage, msg, deadline); err != nil {
		s.log.Debug("close frame not sent", "err", err)
	}
}

// finish runs once, by whoever ends the session.
func (s *Session) finish(err error) {
	s.mu.Lock()
	s.st = stEnded
	if s.err == nil {
		s.err = err
	}
	if !s.metaSet {
		s.metaSet = true
		s.meta.Missing = true
		// metaDone stays open: Metadata reports the end instead.
	}
	s.mu.Unlock()
	s.reg.remove(s)
	close(s.frames)
	close(s.done)
}

func (s *Session) setMetadata(m Metadata) {
	s.mu.Lock()
	if s.metaSet {
		s.mu.Unlock()
		return
	}
	s.meta = m
	s.metaSet = true
	s.mu.Unlock()
	close(s.metaDone)
}

// format of the connection's audio, fixed by the metadata or the first frame.
type format struct {
	bytes, channels, rate int
}

func formatFromMetadata(m Metadata) (format, bool) {
	rate := m.SampleRate
	if rate != 8000 && rate != 16000 {
		return format{}, false
	}
	ch := 0
	switch m.Mix {
	case "stereo":
		ch = 2
	case "mono", "mixed":
		ch = 1
	default:
		return format{}, false
	}
	return format{bytes: rate / 50 * 2 * ch, channels: ch, rate: rate}, true
}

func formatFromSize(n int) (format, bool) {
	switch n {
	case StereoFrameBytes16k:
		return format{n, 2, 16000}, true
	case MonoFrameBytes16k:
		return format{n, 1, 16000}, true
	case MonoFrameBytes8k:
		return format{n, 1, 8000}, true
	}
	return format{}, false
}

func (s *Session) serve(conn *websocket.Conn, log *slog.Logger) {
	s.mu.Lock()
	if s.st == stEnded { // closed during the upgrade
		s.mu.Unlock()
		_ = conn.Close()
		s.finish(nil)
		return
	}
	s.st = stConnected
	s.conn = conn
	s.mu.Unlock()
	log.Info("fork connected")

	err := s.readLoop(conn, log)
	_ = conn.Close()
	var ce *websocket.CloseError
	switch {
	case err == nil:
	case errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseGoingAway):
		err = nil
	default:
		s.mu.Lock()
		local := s.st == stEnded // our Close dropped the connection
		s.mu.Unlock()
		if local {
			err = nil
		}
	}
	st := s.Stats()
	log.Info("fork ended", "err", err, "frames", st.FramesReceived, "dropped", st.FramesDropped,
		"bad", st.BadFrames, "lateness_max", st.LatenessMax)
	if err != nil {
		err = fmt.Errorf("streaming: fork %s: %w", s.callID, err)
	}
	s.finish(err)
}

func (s *Session) readLoop(conn *websocket.Conn, log *slog.Logger) error {
	conn.SetReadLimit(readLimit)
	scratch := make([]byte, maxFrameBytes+1)
	var (
		fmtKnown  bool
		fm        format
		first     = true
		seq       uint64
		loggedBad bool
	)
	for {
		mt, rd, err := conn.NextReader()
		if err != nil {
			return err
		}
		switch mt {
		case websocket.TextMessage:
			b, err := io.ReadAll(io.LimitReader(rd, maxTextBytes))
			if err != nil {
				return err
			}
			s.bytes.Add(uint64(len(b)))
			if first {
				first = false
				m := parseMetadata(b, log)
				if f, ok := formatFromMetadata(m); ok {
					fm, fmtKnown = f, true
				}
				s.setMetadata(m)
				continue
			}
			s.texts.Add(1)
			log.Debug("fork text frame", "len", len(b))
		case websocket.BinaryMessage:
			if first {
				first = false
				log.Warn("fork sent audio before any metadata text frame")
				s.setMetadata(Metadata{Missing: true})
			}
			n, err := io.ReadFull(rd, scratch)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return err
			}
			size := n
			if n > maxFrameBytes {
				m, err := io.Copy(io.Discard, rd)
				if err != nil {
					return err
				}
				size += int(m)
			}
			s.bytes.Add(uint64(size))
			if !fmtKnown {
				if f, ok := formatFromSize(size); ok {
					fm, fmtKnown = f, true
					log.Info("fork audio format", "channels", f.channels, "rate", f.rate, "frame_bytes", f.bytes)
				}
			}
			if !fmtKnown || size != fm.bytes {
				s.bad.Add(1)
				if !loggedBad {
					loggedBad = true
					log.Warn("fork sent a binary frame of unexpected size; ignoring such frames (logged once)",
						"size", size, "want", fm.bytes)
				}
				continue
			}
			s.received.Add(1)
			s.deliver(seq, fm, scratch[:size])
			seq++
		}
	}
}

func (s *Session) deliver(seq uint64, fm format, raw []byte) {
	f := s.newFrame(seq, fm, raw)
	select {
	case s.frames <- f:
	default:
		s.dropped.Add(1)
		f.buf.inUse.Store(false)
		select {
		case s.free <- f.buf:
		default:
		}
	}
}

// newFrame decodes raw into a recycled buffer.
func (s *Session) newFrame(seq uint64, fm format, raw []byte) Frame {
	var b *frameBuf
	select {
	case b = <-s.free:
	default:
		b = &frameBuf{pcm: make([]int16, maxFrameBytes/2), s: s}
	}
	n := len(raw) / 2
	pcm := b.pcm[:n]
	for i := range pcm {
		pcm[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
	}
	b.inUse.Store(true)
	now := time.Now()
	s.trackPacing(now, time.Duration(n/fm.channels)*time.Second/time.Duration(fm.rate))
	return Frame{Seq: seq, Arrived: now, Channels: fm.channels, SampleRate: fm.rate, PCM: pcm, buf: b}
}

// behindNow is how far behind its own clock the audio is now: wall time
// since the first frame minus the sound received (up to one frame while
// everything is on time).
func (s *Session) behindNow() time.Duration {
	first := s.firstAtNs.Load()
	if first == 0 || !s.Connected() {
		return 0
	}
	return time.Duration(time.Now().UnixNano() - first - s.audioNs.Load())
}

// trackPacing records how far behind real time the audio arrives: mod_audio_fork
// (or the network) falling behind shows here, before the analyzer sees it.
func (s *Session) trackPacing(now time.Time, d time.Duration) {
	if s.firstAtNs.Load() == 0 {
		s.firstAtNs.Store(now.UnixNano())
	}
	behind := now.UnixNano() - s.firstAtNs.Load() - s.audioNs.Load()
	s.audioNs.Add(int64(d))
	if behind > s.behindMaxNs.Load() {
		s.behindMaxNs.Store(behind)
	}
}

func parseMetadata(b []byte, log *slog.Logger) Metadata {
	m := Metadata{Raw: string(b)}
	err := json.Unmarshal(b, &m)
	if err == nil && !bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		err = errors.New("not an object")
	}
	if err != nil {
		// A metadata argument with a space reaches us cut at the space.
		log.Warn("fork metadata is not a JSON object (FreeSWITCH cuts metadata at its first space: send compact JSON)",
			"metadata", truncate(m.Raw, 200), "err", err)
		m = Metadata{Raw: string(b)}
		return m
	}
	m.Valid = true
	m.Raw = string(b)
	return m
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
