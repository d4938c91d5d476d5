package command

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/internal/redistest"
	"github.com/callcoach/callcoach/registry"
)

const callID = "c0ffee00-0000-4000-8000-000000000001"

// registered puts one call of controller "ctl" in the registry.
func registered(t *testing.T, c redis.UniversalClient) *registry.Owner {
	t.Helper()
	o, err := registry.NewOwner(registry.Options{Client: c, Controller: "ctl", Heartbeat: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	o.Put(registry.Record{ID: callID, State: "CONNECTED", Started: time.Now()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		if _, err := (registry.Reader{Client: c}).Get(ctx, callID); err == nil {
			return o
		}
		select {
		case <-ctx.Done():
			t.Fatal("the call never reached the registry")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func listen(t *testing.T, c redis.UniversalClient, h Handler) *Server {
	t.Helper()
	s, err := Listen(context.Background(), ServerOptions{Redis: c, Controller: "ctl", Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestCommandOutcomes(t *testing.T) {
	rs := redistest.Start(t)
	c := rs.Client()
	registered(t, c)
	release := make(chan struct{})
	listen(t, c, HandlerFunc(func(ctx context.Context, req Request) Reply {
		switch req.Supervisor {
		case "stuck":
			<-release // a controller that hangs: never answers in time
			return Reply{Code: OK}
		case "eve":
			return Reply{Code: CodeNotPermitted, Error: "eve may monitor billing"}
		case "slow":
			<-ctx.Done() // past the request's deadline
			return Reply{Code: CodeFailed, Error: ctx.Err().Error()}
		case "gone":
			return Reply{Code: CodeUnknownCall, Error: "unknown call"}
		}
		return Reply{Code: OK, Mode: string(req.Op), MemberID: 4}
	}))
	t.Cleanup(func() { close(release) }) // before the server's Close
	tests := []struct {
		name       string
		req        Request
		timeout    time.Duration
		err        error
		wantMember int
	}{
		{"ok, by prefix", Request{Call: "c0ffee", Op: Whisper, Supervisor: "alice"}, 0, nil, 4},
		{"refused", Request{Call: callID, Op: Barge, Supervisor: "eve"}, 0, ErrNotPermitted, 0},
		{"no such call", Request{Call: "deadbeef", Op: Spy, Supervisor: "alice"}, 0, ErrUnknownCall, 0},
		{"owner does not answer in time", Request{Call: callID, Op: Spy, Supervisor: "stuck"}, time.Second, ErrOwnerUnreachable, 0},
		{"FreeSWITCH does not confirm in time", Request{Call: callID, Op: Spy, Supervisor: "slow"}, time.Second, ErrFailed, 0},
		{"the owner no longer has it", Request{Call: callID, Op: Spy, Supervisor: "gone"}, 0, ErrUnknownCall, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Client{Redis: c, Timeout: tc.timeout}.Do(context.Background(), tc.req)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if rep.MemberID != tc.wantMember {
				t.Fatalf("reply %+v", rep)
			}
		})
	}
}

func TestNobodyListening(t *testing.T) {
	rs := redistest.Start(t)
	registered(t, rs.Client())
	_, err := Client{Redis: rs.Client()}.Do(context.Background(), Request{Call: callID, Op: Spy, Supervisor: "alice"})
	if !errors.Is(err, ErrOwnerUnreachable) {
		t.Fatalf("err %v, want ErrOwnerUnreachable", err)
	}
}

func TestClosedCall(t *testing.T) {
	rs := redistest.Start(t)
	c := rs.Client()
	sum, _ := json.Marshal(bus.Summary{CallID: callID, ClosedAt: time.Now(), Reason: "caller hung up"})
	if err := c.Set(context.Background(), bus.SummaryKey(callID), sum, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := Client{Redis: c}.Do(context.Background(), Request{Call: callID, Op: Spy, Supervisor: "alice"})
	if !errors.Is(err, ErrCallClosed) {
		t.Fatalf("err %v, want ErrCallClosed", err)
	}
}

// Garbage on the command channel is logged and skipped; a request whose
// client waits less than the reply margin is never carried out.
func TestServerSkipsGarbageAndStaleRequests(t *testing.T) {
	rs := redistest.Start(t)
	c := rs.Client()
	registered(t, c)
	var handled atomic.Int32
	listen(t, c, HandlerFunc(func(ctx context.Context, req Request) Reply {
		handled.Add(1)
		return Reply{Code: OK}
	}))
	ctx := context.Background()
	stale, _ := json.Marshal(Request{V: Version, ID: "stale", Call: callID, Op: Barge, TimeoutMS: 100})
	for _, p := range []string{"not json", "{}", `{"v":1,"id":`, string(stale)} {
		if err := c.Publish(ctx, Channel("ctl"), p).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := (Client{Redis: c}).Do(ctx, Request{Call: callID, Op: Spy, Supervisor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if n := handled.Load(); n != 1 {
		t.Fatalf("%d requests handled, want only the good one", n)
	}
	if n, _ := c.Exists(ctx, ReplyKey("stale")).Result(); n != 0 {
		t.Fatal("the stale request was answered")
	}
}

// Redis goes away and comes back (empty): the owner's registry and command
// subscription recover by themselves and commands work again.
func TestCommandsWorkAgainAfterARedisRestart(t *testing.T) {
	rs := redistest.Start(t)
	c := rs.Client()
	o, err := registry.NewOwner(registry.Options{Client: c, Controller: "ctl", Heartbeat: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close(context.Background())
	o.Put(registry.Record{ID: callID, State: "CONNECTED", Started: time.Now()})
	listen(t, c, HandlerFunc(func(ctx context.Context, req Request) Reply { return Reply{Code: OK} }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	do := func() error {
		_, err := Client{Redis: c, Timeout: 2 * time.Second}.Do(ctx, Request{Call: callID, Op: Spy, Supervisor: "alice"})
		return err
	}
	until := func(what string) {
		t.Helper()
		for err := do(); err != nil; err = do() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	until("before the restart")
	rs.Stop()
	if err := do(); !errors.Is(err, ErrRedis) {
		t.Fatalf("with Redis down: %v, want ErrRedis", err)
	}
	rs.Restart()
	until("after the restart")
}
