package redistest

import (
	"context"
	"testing"
	"time"
)

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
	// Persistence must be off: a restart starts empty.
	if got, err := c.ConfigGet(ctx, "save").Result(); err != nil || got["save"] != "" {
		t.Fatalf("CONFIG GET save = %v, %v; want empty", got, err)
	}

	for _, halt := range []struct {
		name string
		do   func()
	}{{"kill", s.Kill}, {"stop", s.Stop}} {
		t.Run(halt.name, func(t *testing.T) {
			halt.do()
			if err := c.Ping(ctx).Err(); err == nil {
				t.Fatal("PING succeeded with the server down")
			}
			s.Restart()
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatalf("PING after restart: %v", err)
			}
			if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
				t.Fatalf("EXISTS k after restart = %d, %v; want 0 (no persistence)", n, err)
			}
		})
	}
}

func TestServersAreIndependent(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Client().Set(ctx, "only-a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Client().Exists(ctx, "only-a").Result(); err != nil || n != 0 {
		t.Fatalf("key leaked to the other server: %d, %v", n, err)
	}
}
