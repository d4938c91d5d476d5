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
)

// fakeInbound accepts inbound connections: auth, event subscription, and an
// api "whoami" answered with the connection's number. kill drops the current
// connection.
type fakeInbound struct {
	ln       net.Listener
	password string
	mu       sync.Mutex
	conns    []net.Conn
	events   chan string // every `event …` command received
}

func newFakeInbound(t *testing.T, password string) *fakeInbound {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeInbound{ln: ln, password: password, events: make(chan string, 16)}
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go f.serve()
	return f
}

func (f *fakeInbound) serve() {
	for n := 1; ; n++ {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		go f.session(c, n)
	}
}

func (f *fakeInbound) session(c net.Conn, n int) {
	defer c.Close()
	br := bufio.NewReader(c)
	fmt.Fprint(c, "Content-Type: auth/request\n\n")
	for {
		raw, err := readCommand(br)
		if err != nil {
			return
		}
		cmd := strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0])
		switch {
		case strings.HasPrefix(cmd, "auth "):
			if cmd != "auth "+f.password {
				fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
				return
			}
			fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
		case strings.HasPrefix(cmd, "event "):
			f.events <- cmd
			fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
			h := fmt.Sprintf("Event-Name: HEARTBEAT\nEvent-Sequence: %d\n", n)
			fmt.Fprintf(c, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s\n", len(h)+1, h)
		case cmd == "api whoami":
			body := fmt.Sprintf("+OK connection %d\n", n)
			fmt.Fprintf(c, "Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
		case cmd == "exit":
			fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK bye\n\n")
			return
		}
	}
}

func (f *fakeInbound) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func TestClientWrongPassword(t *testing.T) {
	f := newFakeInbound(t, "ClueCon")
	_, err := Dial(testContext(t), ClientOptions{Addr: f.ln.Addr().String(), Password: "wrong"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Dial(testContext(t), ClientOptions{Addr: addr, Password: "x"}); err == nil || !strings.Contains(err.Error(), addr) {
		t.Fatalf("got %v, want a dial error naming %s", err, addr)
	}
}

func TestClientReconnectsAndResubscribes(t *testing.T) {
	f := newFakeInbound(t, "ClueCon")
	ctx := testContext(t)
	reconnects := make(chan struct{}, 4)
	c, err := Dial(ctx, ClientOptions{
		Addr: f.ln.Addr().String(), Password: "ClueCon",
		Events:     []string{"CHANNEL_ANSWER", "conference::maintenance"},
		MinBackoff: 1, MaxBackoff: 20e6,
		OnConnect: func(context.Context, *Conn) { reconnects <- struct{}{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sub := c.Subscribe(nil)
	<-reconnects
	if got := <-f.events; got != "event plain BACKGROUND_JOB CHANNEL_ANSWER CUSTOM conference::maintenance" {
		t.Errorf("subscription %q", got)
	}
	if got, err := c.API(ctx, "whoami"); err != nil || got != "+OK connection 1\n" {
		t.Fatalf("%q %v", got, err)
	}
	f.dropAll()
	<-reconnects
	if got := <-f.events; !strings.Contains(got, "CUSTOM conference::maintenance") {
		t.Errorf("after reconnect, subscription %q", got)
	}
	if got, err := c.API(ctx, "whoami"); err != nil || got != "+OK connection 2\n" {
		t.Fatalf("after reconnect: %q %v", got, err)
	}
	// The subscription made after Dial carries on across the reconnection
	// (connection 1's event may or may not have come after it was made).
	ev := <-sub.C()
	if ev.Sequence() == 1 {
		ev = <-sub.C()
	}
	if ev.Sequence() != 2 {
		t.Errorf("event from connection %d, want 2", ev.Sequence())
	}
}
