package fakefs

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frame is one frame the fake sent, as a raw test client sees it.
type frame struct {
	raw     string
	headers headers // outer headers
	body    string
	event   headers // decoded inner headers for text/event-plain
	evBody  string
}

func (fr *frame) contentType() string { return fr.headers.get("Content-Type") }

// rawClient is a minimal ESL client over a real TCP connection: it never
// shares code with the fake's parser, so the tests check the wire bytes.
type rawClient struct {
	t      testing.TB
	nc     net.Conn
	frames chan *frame
	errc   chan error
}

func newRawClient(t testing.TB, nc net.Conn) *rawClient {
	c := &rawClient{t: t, nc: nc, frames: make(chan *frame, 1024), errc: make(chan error, 1)}
	go c.readLoop()
	t.Cleanup(func() { nc.Close() })
	return c
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return newRawClient(t, nc)
}

func (c *rawClient) readLoop() {
	defer close(c.frames)
	r := bufio.NewReader(c.nc)
	for {
		fr, err := readRawFrame(r)
		if err != nil {
			c.errc <- err
			return
		}
		c.frames <- fr
	}
}

func readRawFrame(r *bufio.Reader) (*frame, error) {
	var raw strings.Builder
	fr := &frame{}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		raw.WriteString(line)
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		fr.headers.add(k, v)
	}
	if cl := fr.headers.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		raw.Write(buf)
		fr.body = string(buf)
	}
	fr.raw = raw.String()
	if fr.contentType() == "text/event-plain" {
		fr.event, fr.evBody = parsePlainEvent(fr.body)
	}
	if fr.headers.get("Event-Name") != "" { // CHANNEL_DATA reply: headers are URL-encoded
		for _, h := range fr.headers {
			v, _ := url.PathUnescape(h.value)
			fr.event.add(h.name, v)
		}
	}
	return fr, nil
}

func parsePlainEvent(s string) (headers, string) {
	var h headers
	head, rest, _ := strings.Cut(s, "\n\n")
	for _, line := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(line, ": ")
		dv, err := url.PathUnescape(v)
		if err != nil {
			dv = v
		}
		h.add(k, dv)
	}
	if h.get("Content-Length") != "" {
		return h, rest
	}
	return h, ""
}

func (c *rawClient) write(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next waits for the next frame.
func (c *rawClient) next(ctx context.Context) (*frame, error) {
	select {
	case fr, ok := <-c.frames:
		if !ok {
			return nil, fmt.Errorf("connection closed: %w", <-c.errc)
		}
		return fr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *rawClient) mustNext(ctx context.Context) *frame {
	c.t.Helper()
	fr, err := c.next(ctx)
	if err != nil {
		c.t.Fatalf("waiting for a frame: %v", err)
	}
	return fr
}

// cmd sends a command and returns the first non-event frame (its reply),
// collecting events seen meanwhile.
func (c *rawClient) cmd(ctx context.Context, s string) (*frame, []*frame) {
	c.t.Helper()
	c.write(s + "\n\n")
	var evs []*frame
	for {
		fr := c.mustNext(ctx)
		if fr.contentType() == "text/event-plain" {
			evs = append(evs, fr)
			continue
		}
		return fr, evs
	}
}

// waitEvent returns the first event matching pred.
func (c *rawClient) waitEvent(ctx context.Context, pred func(*frame) bool) *frame {
	c.t.Helper()
	for {
		fr := c.mustNext(ctx)
		if fr.contentType() == "text/event-plain" && pred(fr) {
			return fr
		}
	}
}

func named(name string) func(*frame) bool {
	return func(fr *frame) bool {
		n := fr.event.get("Event-Name")
		if n == "CUSTOM" {
			n = fr.event.get("Event-Subclass") + "/" + fr.event.get("Action")
		}
		return n == name || fr.event.get("Event-Name") == name
	}
}

func startFS(t testing.TB, opts Options) *FS {
	t.Helper()
	f, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return f
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// authed dials the fake and authenticates.
func authed(t testing.TB, f *FS) *rawClient {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	c := dialRaw(t, f.ESLAddr())
	if fr := c.mustNext(ctx); fr.contentType() != "auth/request" {
		t.Fatalf("greeting = %q", fr.raw)
	}
	if fr, _ := c.cmd(ctx, "auth ClueCon"); fr.headers.get("Reply-Text") != "+OK accepted" {
		t.Fatalf("auth reply = %q", fr.raw)
	}
	return c
}
