// Package pace waits out time that a program means to spend — a demo's
// pauses between lines, a load run's warm-up, the interval of a poll — and
// gives up when its context ends.
package pace

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends (then it returns ctx's error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
