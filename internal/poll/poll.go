// Package poll waits, in tests, for a condition that has no event to wait
// on (a fake's channel table, a registry in Redis, a terminal's screen).
package poll

import (
	"context"
	"testing"
	"time"
)

// Until checks cond until it holds, first every 5 ms, backing off to every
// 100 ms (some conditions start a process), and fails the test if ctx ends
// first.
func Until(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	every := 5 * time.Millisecond
	timer := time.NewTimer(every)
	defer timer.Stop()
	for !cond() {
		select {
		case <-timer.C:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		}
		every = min(2*every, 100*time.Millisecond)
		timer.Reset(every)
	}
}
