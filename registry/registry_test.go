package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/internal/redistest"
)

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	poll.Until(t, ctx, what, cond)
}

func newOwner(t testing.TB, c redis.UniversalClient, id string, hb, ttl time.Duration) *Owner {
	t.Helper()
	o, err := NewOwner(Options{Client: c, Controller: id, Heartbeat: hb, RecordTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// crash stops an owner the way a killed process does: no flush, no
// withdrawn heartbeat.
func (o *Owner) crash() {
	o.cancel()
	<-o.done
}

func TestOwnersCallsAreListedAndFound(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", time.Second, time.Minute)
	defer a.Close(ctx)
	b := newOwner(t, rs.Client(), "ctl-b", time.Second, time.Minute)
	defer b.Close(ctx)

	t0 := time.Now().UTC()
	a.Put(Record{ID: "aaaa1111-0000-0000-0000-000000000000", Caller: "555", Callee: "1001", State: "CONNECTED", Started: t0})
	a.Put(Record{ID: "aaaa2222-0000-0000-0000-000000000000", Caller: "556", Callee: "1002", State: "PENDING", Started: t0.Add(time.Second)})
	b.Put(Record{ID: "bbbb1111-0000-0000-0000-000000000000", Caller: "557", Callee: "1003", State: "CONNECTED", Started: t0.Add(2 * time.Second),
		Monitors: []Monitor{{Name: "alice", MemberID: 4, Mode: "whisper", Since: t0}}})
	var calls []Record
	eventually(t, "three calls listed", func() bool {
		calls, _ = r.List(ctx)
		return len(calls) == 3
	})
	for i, want := range []string{"ctl-a 555", "ctl-a 556", "ctl-b 557"} {
		if got := calls[i].Owner + " " + calls[i].Caller; got != want || calls[i].Orphaned || calls[i].Instance == "" {
			t.Fatalf("call %d: %+v, want %s (oldest first, alive)", i, calls[i], want)
		}
	}
	if m := calls[2].Monitors; len(m) != 1 || m[0].Name != "alice" || m[0].Mode != "whisper" {
		t.Fatalf("monitors %+v", m)
	}

	tests := []struct {
		prefix string
		want   string
		err    error
	}{
		{"bbbb", "bbbb1111-0000-0000-0000-000000000000", nil},
		{"aaaa2222-0000-0000-0000-000000000000", "aaaa2222-0000-0000-0000-000000000000", nil},
		{"aaaa", "", ErrAmbiguous},
		{"cccc", "", ErrUnknownCall},
		{"", "", ErrUnknownCall},
		{"a*", "", ErrUnknownCall},
	}
	for _, tc := range tests {
		rec, err := r.Get(ctx, tc.prefix)
		if !errors.Is(err, tc.err) || rec.ID != tc.want {
			t.Errorf("Get(%q) = %q, %v; want %q, %v", tc.prefix, rec.ID, err, tc.want, tc.err)
		}
	}

	// An update replaces the record; an end removes it.
	a.Put(Record{ID: "aaaa2222-0000-0000-0000-000000000000", Caller: "556", Callee: "1002", State: "CONNECTED", Started: t0.Add(time.Second)})
	a.Remove("aaaa1111-0000-0000-0000-000000000000")
	eventually(t, "the update and the removal", func() bool {
		calls, _ = r.List(ctx)
		return len(calls) == 2 && calls[0].State == "CONNECTED"
	})
	if n, _ := rs.Client().ZCard(ctx, IndexKey).Result(); n != 2 {
		t.Fatalf("index has %d members, want 2", n)
	}
}

func TestDeadAndRestartedOwnersCallsAreOrphaned(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", 50*time.Millisecond, time.Minute)
	b := newOwner(t, rs.Client(), "ctl-b", 50*time.Millisecond, time.Minute)
	defer b.Close(ctx)
	a.Put(Record{ID: "call-a", State: "CONNECTED", Started: time.Now()})
	b.Put(Record{ID: "call-b", State: "CONNECTED", Started: time.Now()})
	eventually(t, "both calls", func() bool { c, _ := r.List(ctx); return len(c) == 2 })

	a.crash()
	var calls []Record
	eventually(t, "ctl-a's call orphaned", func() bool {
		calls, _ = r.List(ctx)
		return len(calls) == 2 && calls[0].Orphaned != calls[1].Orphaned
	})
	for _, c := range calls {
		if c.Orphaned != (c.Owner == "ctl-a") {
			t.Fatalf("%+v", c)
		}
		if c.Orphaned && (c.OwnerLastSeen.IsZero() || time.Since(c.OwnerLastSeen) > 10*time.Second) {
			t.Fatalf("orphan without its owner's last heartbeat: %+v", c)
		}
	}
	ctls, alive, err := r.Controllers(ctx)
	if err != nil || len(ctls) != 2 || alive["ctl-a"] || !alive["ctl-b"] {
		t.Fatalf("controllers %+v alive %v err %v", ctls, alive, err)
	}

	// ctl-a comes back under the same name: the new run does not hold the
	// old run's call, which stays orphaned.
	a2 := newOwner(t, rs.Client(), "ctl-a", 50*time.Millisecond, time.Minute)
	defer a2.Close(ctx)
	eventually(t, "ctl-a alive again", func() bool { _, alive, _ := r.Controllers(ctx); return alive["ctl-a"] })
	rec, err := r.Get(ctx, "call-a")
	if err != nil || !rec.Orphaned {
		t.Fatalf("the previous run's call after a restart: %+v %v", rec, err)
	}
}

func TestOrphansExpire(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", 50*time.Millisecond, 300*time.Millisecond)
	a.Put(Record{ID: "call-a", Started: time.Now()})
	eventually(t, "the call", func() bool { c, _ := r.List(ctx); return len(c) == 1 })
	a.crash()
	eventually(t, "the orphan to expire and leave the index", func() bool {
		c, _ := r.List(ctx)
		n, _ := rs.Client().ZCard(ctx, IndexKey).Result()
		return len(c) == 0 && n == 0
	})
}

// A Put never waits for Redis; what was put while Redis was away is
// written when it is back.
func TestOwnerRidesOutARedisOutage(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", 50*time.Millisecond, time.Minute)
	defer a.Close(ctx)
	rs.Stop()
	for i := range 100 {
		a.Put(Record{ID: fmt.Sprintf("call-%03d", i), Started: time.Now()})
	}
	a.Remove("call-000")
	rs.Restart()
	eventually(t, "the calls put during the outage", func() bool { c, _ := r.List(ctx); return len(c) == 99 })
}

// What listing costs with 10 000 live calls on 10 controllers.
func BenchmarkList10000Calls(b *testing.B) {
	ctx := context.Background()
	rs := redistest.Start(b)
	r := Reader{Client: rs.Client()}
	for c := range 10 {
		o := newOwner(b, rs.Client(), fmt.Sprintf("ctl-%d", c), time.Second, time.Hour)
		defer o.Close(ctx)
		for i := range 1000 {
			o.Put(Record{ID: fmt.Sprintf("%08x-0000-4000-8000-%012d", c*1000+i, i), Caller: "5550100", Callee: "1001", Group: "sales",
				State: "CONNECTED", Conference: "cc-x", CoachMode: "whisper", Started: time.Now(),
				Monitors: []Monitor{{Name: "alice", MemberID: 4, Mode: "spy", Since: time.Now()}},
				Live:     &Live{AgentTalkShare: 0.61, Overtalk: 3.2, Sentiment: map[string]Mood{"customer": {Value: -0.2, Direction: "falling"}}}})
		}
	}
	eventually(b, "10 000 calls", func() bool { n, _ := rs.Client().ZCard(ctx, IndexKey).Result(); return n == 10000 })
	b.ResetTimer()
	for b.Loop() {
		calls, err := r.List(ctx)
		if err != nil || len(calls) != 10000 {
			b.Fatalf("%d calls, %v", len(calls), err)
		}
	}
}

// What an owner's refresh of 10 000 records costs (every RecordTTL/3).
func BenchmarkRefresh10000Calls(b *testing.B) {
	ctx := context.Background()
	rs := redistest.Start(b)
	o := newOwner(b, rs.Client(), "ctl", time.Hour, time.Hour)
	defer o.Close(ctx)
	for i := range 10000 {
		o.Put(Record{ID: fmt.Sprintf("call-%05d", i), Caller: "5550100", Callee: "1001", State: "CONNECTED", Started: time.Now()})
	}
	eventually(b, "10 000 calls", func() bool { n, _ := rs.Client().ZCard(ctx, IndexKey).Result(); return n == 10000 })
	b.ResetTimer()
	for b.Loop() {
		if err := o.flush(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
}

// Redis restarted empty (no persistence): the owner notices its heartbeat
// is gone and writes every call again, without waiting for the refresh.
func TestOwnerRewritesAfterRedisLosesEverything(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", 50*time.Millisecond, time.Hour)
	defer a.Close(ctx)
	a.Put(Record{ID: "call-a", Started: time.Now()})
	eventually(t, "the call", func() bool { c, _ := r.List(ctx); return len(c) == 1 })
	if err := rs.Client().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call written again", func() bool { c, _ := r.List(ctx); return len(c) == 1 && !c[0].Orphaned })
}

// A released call is written once and left to expire: the owner does not
// keep it alive.
func TestReleasedCallsExpire(t *testing.T) {
	ctx := context.Background()
	rs := redistest.Start(t)
	r := Reader{Client: rs.Client()}
	a := newOwner(t, rs.Client(), "ctl-a", 30*time.Millisecond, 300*time.Millisecond)
	defer a.Close(ctx)
	a.Put(Record{ID: "call-a", State: "CONNECTED", Started: time.Now()})
	a.Release(Record{ID: "call-a", State: "RELEASED", Started: time.Now()})
	eventually(t, "the released call listed", func() bool { c, _ := r.List(ctx); return len(c) == 1 && c[0].State == "RELEASED" })
	// Refreshes (every 100 ms here) must not keep it: it expires.
	eventually(t, "the released call expired", func() bool { c, _ := r.List(ctx); return len(c) == 0 })
}
