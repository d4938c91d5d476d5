package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// pipePeer is the FreeSWITCH end of a loopback TCP connection, driven by the
// test.
type pipePeer struct {
	net.Conn
	br *bufio.Reader
}

func connPair(t *testing.T, o connOptions) (*Conn, *pipePeer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pc := <-accepted
	if pc == nil {
		t.Fatal("accept failed")
	}
	c := newConn(nc, o)
	p := &pipePeer{Conn: pc, br: bufio.NewReader(pc)}
	t.Cleanup(func() { c.Close(); pc.Close() })
	return c, p
}

func (p *pipePeer) command(t *testing.T) string {
	t.Helper()
	raw, err := readCommand(p.br)
	if err != nil {
		t.Errorf("peer: %v", err)
		return ""
	}
	return strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0])
}

func (p *pipePeer) api(t *testing.T, body string) {
	t.Helper()
	fmt.Fprintf(p, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
}

func (p *pipePeer) event(t *testing.T, headers string) {
	t.Helper()
	fmt.Fprintf(p, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s\n", len(headers)+1, headers)
}

// A command that gives up keeps its slot: its late reply is not handed to the
// next command (eslgo's defect).
func TestTimedOutCommandDoesNotStealNextReply(t *testing.T) {
	c, p := connPair(t, connOptions{})
	ctx := testContext(t)

	short, cancel := context.WithCancel(ctx)
	first := make(chan error, 1)
	go func() {
		_, err := c.API(short, "first")
		first <- err
	}()
	if got := p.command(t); got != "api first" {
		t.Fatalf("peer got %q", got)
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first: %v", err)
	}
	second := make(chan string, 1)
	go func() {
		s, err := c.API(ctx, "second")
		if err != nil {
			t.Error(err)
		}
		second <- s
	}()
	if got := p.command(t); got != "api second" {
		t.Fatalf("peer got %q", got)
	}
	p.api(t, "reply to first")
	p.api(t, "reply to second")
	if got := <-second; got != "reply to second" {
		t.Errorf("second got %q", got)
	}
}

func TestConcurrentCommandsGetTheirOwnReplies(t *testing.T) {
	c, p := connPair(t, connOptions{})
	ctx := testContext(t)
	const n = 200
	go func() {
		for range n {
			cmd := p.command(t)
			p.api(t, "answer to "+strings.TrimPrefix(cmd, "api "))
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := fmt.Sprintf("q%d", i)
			got, err := c.API(ctx, q)
			if err != nil || got != "answer to "+q {
				t.Errorf("%s: %q %v", q, got, err)
			}
		}()
	}
	wg.Wait()
}

func TestCommandInjectionRefused(t *testing.T) {
	c, _ := connPair(t, connOptions{})
	ctx := testContext(t)
	for _, cmd := range []string{"status\n\nexit", "status\rexit", "uuid_kill x\nhangup-cause: x"} {
		if _, err := c.API(ctx, cmd); !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("API(%q) = %v, want ErrInvalidCommand", cmd, err)
		}
	}
}

func TestMalformedFrameEndsOnlyThatConnection(t *testing.T) {
	tests := []struct {
		name string
		junk string
	}{
		{"bad content-length", "Content-Type: api/response\nContent-Length: nope\n\n"},
		{"binary junk", "\x00\x01\x02\x03\n\n"},
		{"no content-type", "Reply-Text: +OK\n\n"},
		{"oversized header", "Content-Type: api/response\nX: " + strings.Repeat("x", 2048) + "\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			bad, badPeer := connPair(t, connOptions{limits: Limits{MaxHeaderBytes: 1024}})
			good, goodPeer := connPair(t, connOptions{limits: Limits{MaxHeaderBytes: 1024}})
			sub := bad.Subscribe(nil)
			waiting := make(chan error, 1)
			go func() {
				_, err := bad.API(ctx, "status")
				waiting <- err
			}()
			badPeer.command(t)
			fmt.Fprint(badPeer, tt.junk)
			if err := <-waiting; !errors.Is(err, ErrClosed) || !errors.Is(err, ErrProtocol) {
				t.Errorf("waiting command got %v, want ErrClosed wrapping ErrProtocol", err)
			}
			<-bad.Done()
			if !errors.Is(bad.Err(), ErrProtocol) {
				t.Errorf("Err() = %v", bad.Err())
			}
			for range sub.C() {
			}
			if _, err := bad.API(ctx, "status"); !errors.Is(err, ErrClosed) {
				t.Errorf("after failure: %v", err)
			}
			go func() {
				goodPeer.command(t)
				goodPeer.api(t, "+OK fine\n")
			}()
			if got, err := good.API(ctx, "status"); err != nil || got != "+OK fine\n" {
				t.Errorf("other connection: %q %v", got, err)
			}
		})
	}
}

func TestPeerStallingMidFrameIsCutOff(t *testing.T) {
	c, p := connPair(t, connOptions{limits: Limits{StallTimeout: 100 * time.Millisecond}})
	ctx := testContext(t)
	errc := make(chan error, 1)
	go func() {
		_, err := c.API(ctx, "status")
		errc <- err
	}()
	p.command(t)
	fmt.Fprint(p, "Content-Type: api/response\nContent-Length: 100\n\nonly a part")
	if err := <-errc; !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v, want a stall error", err)
	}
	if !strings.Contains(c.Err().Error(), "stalled") {
		t.Errorf("Err() = %v", c.Err())
	}
}

func TestIdleConnectionIsNotCutOff(t *testing.T) {
	c, p := connPair(t, connOptions{limits: Limits{StallTimeout: 50 * time.Millisecond}})
	ctx := testContext(t)
	// Idle far longer than the stall timeout, without sleeping: the peer
	// waits until a timer well past it fires.
	<-time.After(200 * time.Millisecond)
	go func() {
		p.command(t)
		p.api(t, "+OK\n")
	}()
	if _, err := c.API(ctx, "status"); err != nil {
		t.Fatal(err)
	}
}

func TestEventsInOrderAndSlowSubscriberBlocksNobody(t *testing.T) {
	c, p := connPair(t, connOptions{})
	ctx := testContext(t)
	slow := c.Subscribe(nil) // never read until the end
	fast := c.Subscribe(func(ev *Event) bool { return ev.Name() == "HEARTBEAT" })
	const n = 2000
	go func() {
		for i := 1; i <= n; i++ {
			p.event(t, fmt.Sprintf("Event-Name: HEARTBEAT\nEvent-Sequence: %d", i))
		}
		p.command(t)
		p.api(t, "+OK\n")
	}()
	for i := 1; i <= n; i++ {
		ev := <-fast.C()
		if ev.Sequence() != uint64(i) {
			t.Fatalf("event %d has sequence %d", i, ev.Sequence())
		}
	}
	// The reader is not held up by the slow subscriber either.
	if _, err := c.API(ctx, "status"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if ev := <-slow.C(); ev.Sequence() != uint64(i) {
			t.Fatalf("slow subscriber: event %d has sequence %d", i, ev.Sequence())
		}
	}
	slow.Close()
	fast.Close()
}

func TestBgAPIJobsCompleteOutOfOrder(t *testing.T) {
	c, p := connPair(t, connOptions{})
	ctx := testContext(t)
	type res struct {
		s   string
		err error
	}
	a, b := make(chan res, 1), make(chan res, 1)
	jobs := make(chan string, 2)
	go func() {
		for range 2 {
			raw, err := readCommand(p.br)
			if err != nil {
				t.Error(err)
				return
			}
			m := jobUUIDPattern.FindSubmatch(raw)
			fmt.Fprintf(p, "Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", m[1], m[1])
			jobs <- string(m[1])
		}
	}()
	go func() { s, err := c.BgAPI(ctx, "originate a"); a <- res{s, err} }()
	jobA := <-jobs
	go func() { s, err := c.BgAPI(ctx, "originate b"); b <- res{s, err} }()
	jobB := <-jobs
	job := func(id, body string) {
		h := fmt.Sprintf("Event-Name: BACKGROUND_JOB\nJob-UUID: %s\nContent-Length: %d\n\n%s", id, len(body), body)
		fmt.Fprintf(p, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(h), h)
	}
	job(jobB, "-ERR USER_BUSY\n")
	job(jobA, "+OK 1234\n")
	if r := <-a; r.err != nil || r.s != "+OK 1234\n" {
		t.Errorf("job a: %q %v", r.s, r.err)
	}
	if r := <-b; !errors.Is(r.err, ErrUserBusy) {
		t.Errorf("job b: %q %v", r.s, r.err)
	}
}
