package esl

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/callcoach/callcoach/internal/capture"
	"github.com/percipia/eslgo"
	"github.com/percipia/eslgo/command"
)

// capturedEventFrame is a real CHANNEL_EXECUTE frame (≈2.4 KiB, 80 headers)
// from esl-outbound1.
func capturedEventFrame(b *testing.B) []byte {
	blocks, err := capture.Load("esl-outbound1.txt")
	if err != nil {
		b.Fatal(err)
	}
	for _, bl := range blocks {
		if bl.Dir == capture.FSToApp && bytes.Contains(bl.Data, []byte("Event-Name: CHANNEL_EXECUTE\n")) {
			return bl.Data
		}
	}
	b.Fatal("no CHANNEL_EXECUTE in the capture")
	return nil
}

// streamingPeer is an inbound event socket that authenticates anyone, then,
// on `api stream`, answers and sends n copies of frame.
func streamingPeer(b *testing.B, frame []byte, n int) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		w := bufio.NewWriterSize(c, 256<<10)
		fmt.Fprint(c, "Content-Type: auth/request\n\n")
		for {
			raw, err := readCommand(br)
			if err != nil {
				return
			}
			cmd := strings.TrimSpace(strings.SplitN(string(raw), "\n", 2)[0])
			switch {
			case strings.HasPrefix(cmd, "api stream"):
				fmt.Fprintf(w, "Content-Type: api/response\nContent-Length: 4\n\n+OK\n")
				for range n {
					w.Write(frame)
				}
				w.Flush()
			case strings.HasPrefix(cmd, "exit"):
				fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK bye\n\n")
				return
			default:
				fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
			}
		}
	}()
	return ln.Addr().String()
}

// BenchmarkEventDispatch measures receive + parse + deliver of a real event
// to one consumer, this package against eslgo on the same stream.
func BenchmarkEventDispatch(b *testing.B) {
	frame := capturedEventFrame(b)
	b.Run("esl", func(b *testing.B) {
		addr := streamingPeer(b, frame, b.N)
		ctx := context.Background()
		c, err := Dial(ctx, ClientOptions{Addr: addr, Password: "x", Events: []string{"ALL"}})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		sub := c.Subscribe(nil)
		defer sub.Close()
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		if _, err := c.API(ctx, "stream"); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if ev := <-sub.C(); ev.Name() != "CHANNEL_EXECUTE" {
				b.Fatalf("got %q", ev.Name())
			}
		}
	})
	b.Run("eslgo", func(b *testing.B) {
		addr := streamingPeer(b, frame, b.N)
		opts := eslgo.DefaultInboundOptions
		opts.Password = "x"
		opts.Logger = eslgo.NilLogger{}
		c, err := opts.Dial(addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		var got atomic.Int64
		done := make(chan struct{})
		n := int64(b.N)
		c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
			if ev.GetName() != "CHANNEL_EXECUTE" {
				b.Errorf("got %q", ev.GetName())
			}
			if got.Add(1) == n {
				close(done)
			}
		})
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		b.ResetTimer()
		if _, err := c.SendCommand(context.Background(), command.API{Command: "stream"}); err != nil {
			b.Fatal(err)
		}
		<-done
	})
}

// BenchmarkBgAPIRoundTrip: sequential bgapi round trips (command, reply,
// BACKGROUND_JOB) against a loopback peer answering like FreeSWITCH.
func BenchmarkBgAPIRoundTrip(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		fmt.Fprint(c, "Content-Type: auth/request\n\n")
		for {
			raw, err := readCommand(br)
			if err != nil {
				return
			}
			m := jobUUIDPattern.FindSubmatch(raw)
			if m == nil {
				fmt.Fprint(c, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
				continue
			}
			body := "+OK 0e1cc8df-4e0b-4031-ba0f-8a1c6dcb7ae4\n"
			h := fmt.Sprintf("Event-Name: BACKGROUND_JOB\nJob-UUID: %s\nJob-Command: status\nContent-Length: %d\n\n%s", m[1], len(body), body)
			fmt.Fprintf(c, "Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\nContent-Length: %d\nContent-Type: text/event-plain\n\n%s", m[1], m[1], len(h), h)
		}
	}()
	ctx := context.Background()
	c, err := Dial(ctx, ClientOptions{Addr: ln.Addr().String(), Password: "x"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.BgAPI(ctx, "status"); err != nil {
			b.Fatal(err)
		}
	}
}
