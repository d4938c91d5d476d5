package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/internal/poll"
)

// dialServer connects like FreeSWITCH's socket app and answers `connect`
// with minimal channel data.
func dialAsFreeSWITCH(t *testing.T, addr string, id string) *pipePeer {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &pipePeer{Conn: nc, br: bufio.NewReader(nc)}
	t.Cleanup(func() { nc.Close() })
	if got := p.command(t); got != "connect" {
		t.Fatalf("first command %q, want connect", got)
	}
	fmt.Fprintf(p, "Event-Name: CHANNEL_DATA\nUnique-ID: %s\nChannel-Destination-Number: 5001\nChannel-Caller-ID-Number: 5551000\nvariable_sip_h_X-Odd(Name)@x: a%%20b\nContent-Type: command/reply\nReply-Text: %%2BOK%%0A\nSocket-Mode: async\nControl: full\n\n", id)
	return p
}

func startServer(t *testing.T, srv *Server) (addr string, served <-chan error) {
	t.Helper()
	a, err := srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(context.Background()) }()
	return a.String(), errc
}

func TestServerHandsOverCallsAndIsolatesPanics(t *testing.T) {
	calls := make(chan *Call, 2)
	srv := &Server{Handler: func(ctx context.Context, c *Call) {
		if c.UUID() == "boom" {
			panic("handler bug")
		}
		calls <- c
		<-c.Done()
	}}
	addr, served := startServer(t, srv)
	dialAsFreeSWITCH(t, addr, "boom")
	p := dialAsFreeSWITCH(t, addr, "u1")
	c := <-calls
	if c.DestinationNumber() != "5001" || c.CallerIDNumber() != "5551000" || c.Variable("sip_h_X-Odd(Name)@x") != "a b" {
		t.Errorf("channel data: %q %q %q", c.DestinationNumber(), c.CallerIDNumber(), c.Variable("sip_h_X-Odd(Name)@x"))
	}
	p.Close() // FreeSWITCH goes away: the handler's call ends
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestServerRefusesPeersNotAllowed(t *testing.T) {
	handled := make(chan struct{}, 1)
	srv := &Server{
		Allow:   []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Handler: func(context.Context, *Call) { handled <- struct{}{} },
	}
	addr, _ := startServer(t, srv)
	defer srv.Close()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	// The server closes without saying anything, not even `connect`.
	buf := make([]byte, 1)
	if n, err := nc.Read(buf); n != 0 || err == nil {
		t.Fatalf("read %d bytes, err %v; want the connection closed", n, err)
	}
	select {
	case <-handled:
		t.Fatal("handler ran for a refused peer")
	default:
	}
}

func TestServerShutdownWaitsForCallsThenForcesThem(t *testing.T) {
	started := make(chan *Call, 1)
	ended := make(chan error, 1)
	srv := &Server{Handler: func(ctx context.Context, c *Call) {
		started <- c
		select {
		case <-c.Done():
			ended <- errors.New("socket closed first")
		case <-ctx.Done():
			ended <- ctx.Err()
		}
	}}
	addr, served := startServer(t, srv)
	dialAsFreeSWITCH(t, addr, "u1")
	<-started

	// A grace period that runs out: handlers are told to stop.
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	// New calls are refused while shutting down.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	poll.Until(t, wctx, "new calls to be refused", func() bool {
		nc, err := net.Dial("tcp", addr)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	cancel()
	if err := <-shut; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("handler saw %v, want its context cancelled", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}

func TestConnectTimeout(t *testing.T) {
	srv := &Server{ConnectTimeout: 100 * time.Millisecond, Handler: func(context.Context, *Call) { t.Error("handler ran") }}
	addr, _ := startServer(t, srv)
	defer srv.Close()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	if line, _ := br.ReadString('\n'); strings.TrimSpace(line) != "connect" {
		t.Fatalf("got %q", line)
	}
	// Never answer: the server gives up and closes.
	if _, err := br.ReadString('\n'); err == nil {
		// the blank line of "connect\n\n"
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("server still open")
		}
	}
}
