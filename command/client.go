package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/registry"
)

// Client sends commands; the CLI uses one.
type Client struct {
	Redis redis.UniversalClient
	// Timeout bounds one command end to end when ctx has no earlier
	// deadline (default 5 s; joining a supervisor's phone needs it to ring).
	Timeout time.Duration
}

// Do finds the call's owner in the registry, sends it the request and waits
// for its reply. req.Call may be a unique prefix of the call id. Errors wrap
// the package's sentinels (ErrUnknownCall, ErrCallClosed,
// ErrOwnerUnreachable, ErrNotPermitted, …).
func (c Client) Do(ctx context.Context, req Request) (Reply, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	// The controller must be done by the deadline; the client waits a
	// little longer for the reply to travel, so it never reports a failure
	// for an action that then happens.
	deadline := time.Now().Add(timeout)
	lctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	rec, err := c.Resolve(lctx, req.Call)
	if err != nil {
		return Reply{}, err
	}
	if rec.Orphaned {
		return Reply{}, fmt.Errorf("%w: call %s: controller %s %s; the call is orphaned", ErrOwnerUnreachable, rec.ID, rec.Owner, lastSeen(rec.OwnerLastSeen))
	}
	req.V, req.Call, req.TimeoutMS = Version, rec.ID, time.Until(deadline).Milliseconds()
	if req.ID == "" {
		req.ID = uuid.NewString()
	}
	b, err := json.Marshal(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	n, err := c.Redis.Publish(lctx, Channel(rec.Owner), b).Result()
	if err != nil {
		return Reply{}, fmt.Errorf("%w: send to controller %s: %w", ErrRedis, rec.Owner, err)
	}
	if n == 0 {
		return Reply{}, fmt.Errorf("%w: controller %s does not take commands (down or cut off from Redis)", ErrOwnerUnreachable, rec.Owner)
	}
	// BLPOP counts whole seconds: round the wait up, past the deadline.
	wait := (time.Until(deadline) + time.Second - 1) / time.Second * time.Second
	wctx, wcancel := context.WithTimeout(ctx, wait+time.Second)
	defer wcancel()
	res, err := c.Redis.BLPop(wctx, max(wait, time.Second), ReplyKey(req.ID)).Result()
	if err != nil && ctx.Err() != nil {
		return Reply{}, fmt.Errorf("interrupted while controller %s carries out the command (it may still happen): %w", rec.Owner, ctx.Err())
	}
	if errors.Is(err, redis.Nil) || (err != nil && wctx.Err() != nil) {
		return Reply{}, fmt.Errorf("%w: controller %s did not answer within %s", ErrOwnerUnreachable, rec.Owner, timeout)
	}
	if err != nil {
		return Reply{}, fmt.Errorf("%w: waiting for controller %s: %w", ErrRedis, rec.Owner, err)
	}
	var rep Reply
	if err := json.Unmarshal([]byte(res[1]), &rep); err != nil {
		return Reply{}, fmt.Errorf("%w: controller %s answered garbage: %w", ErrFailed, rec.Owner, err)
	}
	if rep.Code != OK {
		e := &Error{Code: rep.Code, Message: rep.Error, Controller: rep.Controller}
		if rep.Code == CodeUnknownCall {
			// The owner no longer has it: ended in the meantime?
			if closed := c.closed(ctx, rec.ID); closed != nil {
				return rep, closed
			}
		}
		return rep, e
	}
	return rep, nil
}

// Resolve finds a call by id or unique prefix. A call that is not live but
// ended recently gives ErrCallClosed.
func (c Client) Resolve(ctx context.Context, idOrPrefix string) (registry.Record, error) {
	rec, err := registry.Reader{Client: c.Redis}.Get(ctx, idOrPrefix)
	switch {
	case errors.Is(err, registry.ErrUnknownCall):
		if closed := c.closed(ctx, idOrPrefix); closed != nil {
			return rec, closed
		}
		return rec, fmt.Errorf("%w: no live call %s", ErrUnknownCall, idOrPrefix)
	case errors.Is(err, registry.ErrAmbiguous):
		return rec, fmt.Errorf("%w: %w", ErrBadRequest, err)
	case err != nil:
		return rec, fmt.Errorf("%w: %w", ErrRedis, err)
	}
	return rec, nil
}

// closed says whether a call ended recently (its summary is kept a while).
func (c Client) closed(ctx context.Context, id string) error {
	s, err := c.Redis.Get(ctx, bus.SummaryKey(id)).Result()
	if err != nil {
		return nil
	}
	var sum bus.Summary
	if json.Unmarshal([]byte(s), &sum) != nil {
		return nil
	}
	return fmt.Errorf("%w: %s at %s (%s)", ErrCallClosed, id, sum.ClosedAt.Local().Format(time.TimeOnly), sum.Reason)
}

func lastSeen(t time.Time) string {
	if t.IsZero() {
		return "is not running"
	}
	return fmt.Sprintf("last seen %s ago", time.Since(t).Round(time.Second))
}
