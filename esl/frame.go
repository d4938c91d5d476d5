package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Limits bound what one frame may cost. A peer exceeding them gets its
// connection closed with a *FrameError; other connections are unaffected.
type Limits struct {
	// MaxHeaderBytes bounds a frame's header block. The outbound `connect`
	// reply carries all channel variables as headers (≈4 KiB on a plain call,
	// more with long SDP), hence the generous default.
	MaxHeaderBytes int
	// MaxBodyBytes bounds Content-Length.
	MaxBodyBytes int
	// StallTimeout is how long a peer may pause in the middle of a frame.
	// Between frames a connection may be idle for ever.
	StallTimeout time.Duration
}

// Defaults for zero Limits fields.
const (
	DefaultMaxHeaderBytes = 1 << 20
	DefaultMaxBodyBytes   = 32 << 20
	DefaultStallTimeout   = 30 * time.Second
)

func (l Limits) withDefaults() Limits {
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.StallTimeout <= 0 {
		l.StallTimeout = DefaultStallTimeout
	}
	return l
}

// FrameError reports a frame that breaks the protocol. The connection it came
// from is closed; errors.Is(err, ErrProtocol) is true.
type FrameError struct {
	Reason string
	Line   string
}

func (e *FrameError) Error() string {
	if e.Line != "" {
		return fmt.Sprintf("esl: malformed frame: %s: %q", e.Reason, e.Line)
	}
	return "esl: malformed frame: " + e.Reason
}

func (e *FrameError) Is(target error) bool { return target == ErrProtocol }

// frame is one unit on the wire: outer headers and an optional body.
type frame struct {
	header Header
	body   []byte
}

func (f *frame) contentType() string { return f.header.Get("Content-Type") }

// frameReader reads frames from a stream.
type frameReader struct {
	br     *bufio.Reader
	limits Limits
	stall  *stallReader
	line   []byte
}

// stallReader arms a read deadline only while a frame is incomplete, so an idle
// connection is fine but a peer that stops mid-frame is cut off. The deadline
// is touched only when bufio needs more bytes, so its cost is per read, not
// per frame.
type stallReader struct {
	conn     net.Conn
	timeout  time.Duration
	midFrame bool
	armed    bool
}

func (s *stallReader) Read(p []byte) (int, error) {
	switch {
	case s.midFrame:
		_ = s.conn.SetReadDeadline(time.Now().Add(s.timeout))
		s.armed = true
	case s.armed:
		_ = s.conn.SetReadDeadline(time.Time{})
		s.armed = false
	}
	n, err := s.conn.Read(p)
	var ne net.Error
	if err != nil && s.midFrame && errors.As(err, &ne) && ne.Timeout() {
		return n, &FrameError{Reason: fmt.Sprintf("peer stalled for %s in the middle of a frame", s.timeout)}
	}
	return n, err
}

func newFrameReader(r io.Reader, limits Limits) *frameReader {
	fr := &frameReader{limits: limits.withDefaults()}
	if c, ok := r.(net.Conn); ok {
		fr.stall = &stallReader{conn: c, timeout: fr.limits.StallTimeout}
		r = fr.stall
	}
	// 4 KiB holds a typical event (≈2.5 KiB); longer header lines are
	// assembled across reads (ErrBufferFull below), so this only bounds
	// memory per connection, which matters at thousands of calls.
	fr.br = bufio.NewReaderSize(r, 4<<10)
	return fr
}

func (fr *frameReader) setMidFrame(v bool) {
	if fr.stall != nil {
		fr.stall.midFrame = v
	}
}

// read returns the next frame. io.EOF means the peer closed cleanly between
// frames; a close inside a frame is io.ErrUnexpectedEOF.
func (fr *frameReader) read() (*frame, error) {
	fr.setMidFrame(false)
	block, err := fr.readHeaderBlock()
	if err != nil {
		return nil, err
	}
	h, err := parseHeaderBlock(block, false)
	if err != nil {
		return nil, err
	}
	f := &frame{header: h}
	if cl, ok := h.Lookup("Content-Length"); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, &FrameError{Reason: "bad Content-Length", Line: truncate(cl)}
		}
		if n > fr.limits.MaxBodyBytes {
			return nil, &FrameError{Reason: fmt.Sprintf("Content-Length %d exceeds the limit of %d bytes", n, fr.limits.MaxBodyBytes)}
		}
		if n > 0 {
			fr.setMidFrame(true)
			f.body = make([]byte, n)
			if _, err := io.ReadFull(fr.br, f.body); err != nil {
				return nil, unexpected(err)
			}
		}
	}
	fr.setMidFrame(false)
	return f, nil
}

// readHeaderBlock reads lines up to the first empty line. Empty lines before
// a frame starts are skipped: FreeSWITCH never sends them, but a frame with a
// body FreeSWITCH under-counted would otherwise desynchronise everything after.
func (fr *frameReader) readHeaderBlock() (string, error) {
	fr.line = fr.line[:0]
	started := false
	for {
		chunk, err := fr.br.ReadSlice('\n')
		if len(chunk) > 0 && !started {
			started = true
			fr.setMidFrame(true)
		}
		if len(fr.line)+len(chunk) > fr.limits.MaxHeaderBytes {
			return "", &FrameError{Reason: fmt.Sprintf("header block exceeds %d bytes", fr.limits.MaxHeaderBytes)}
		}
		fr.line = append(fr.line, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			if len(fr.line) == 0 && err == io.EOF {
				return "", io.EOF
			}
			return "", unexpected(err)
		}
		// A complete line ends at len(fr.line)-1. Is it empty?
		end := len(fr.line) - 1
		lineStart := bytes.LastIndexByte(fr.line[:end], '\n') + 1
		line := fr.line[lineStart:end]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			if lineStart == 0 {
				// Blank line before any header: skip it.
				fr.line = fr.line[:0]
				continue
			}
			block := string(fr.line[:lineStart])
			if cap(fr.line) > 4<<10 {
				// One big block (the channel data at connect) must not stay
				// allocated for the connection's life.
				fr.line = nil
			}
			return block, nil
		}
		if bytes.IndexByte(line, 0) >= 0 {
			return "", &FrameError{Reason: "NUL byte in a header line", Line: truncate(string(line))}
		}
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
