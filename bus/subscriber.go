package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Subscription reads events from the pub/sub channels. go-redis reconnects and
// resubscribes after an outage; events published meanwhile are not seen here
// (the analytics stream keeps those).
type Subscription struct {
	ps *redis.PubSub
	ch <-chan *redis.Message
}

// Subscribe listens to one call's events, or to every call's when callID is
// empty. It returns once Redis has confirmed the subscription, so no event
// published after it returns is missed.
func Subscribe(ctx context.Context, client redis.UniversalClient, callID string) (*Subscription, error) {
	channel := AllEventsChannel
	if callID != "" {
		if err := validCallID(callID); err != nil {
			return nil, err
		}
		channel = CallChannel(callID)
	}
	ps := client.Subscribe(ctx, channel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("bus: subscribe %s: %w", channel, err)
	}
	return &Subscription{ps: ps, ch: ps.Channel()}, nil
}

// Next returns the next event. A message that is not a valid event gives an
// error wrapping ErrMalformed; the subscription stays usable. Messages of a
// newer schema version are returned as they are: check V.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	select {
	case <-ctx.Done():
		return Event{}, fmt.Errorf("bus: waiting for an event: %w", ctx.Err())
	case m, ok := <-s.ch:
		if !ok {
			return Event{}, ErrClosed
		}
		return decode(m.Payload, m.Channel)
	}
}

// Close ends the subscription.
func (s *Subscription) Close() error {
	if err := s.ps.Close(); err != nil {
		return fmt.Errorf("bus: unsubscribe: %w", err)
	}
	return nil
}

func decode(payload, where string) (Event, error) {
	var ev Event
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return Event{}, fmt.Errorf("%w on %s: %w", ErrMalformed, where, err)
	}
	if ev.V < 1 || ev.Type == "" || ev.CallID == "" {
		return Event{}, fmt.Errorf("%w on %s: missing v, type or call_id", ErrMalformed, where)
	}
	return ev, nil
}

// StreamEntry is one analytics event with its stream ID.
type StreamEntry struct {
	ID    string
	Event Event
}

// ReadAnalytics returns up to count analytics events of a call with stream IDs
// after the given one ("" or "0" = from the start), oldest first.
func ReadAnalytics(ctx context.Context, client redis.UniversalClient, callID, after string, count int64) ([]StreamEntry, error) {
	if err := validCallID(callID); err != nil {
		return nil, err
	}
	start := "-"
	if after != "" && after != "0" {
		start = "(" + after
	}
	msgs, err := client.XRangeN(ctx, AnalyticsStream(callID), start, "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("bus: reading analytics of %s: %w", callID, err)
	}
	out := make([]StreamEntry, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["event"].(string)
		ev, err := decode(raw, AnalyticsStream(callID)+" "+m.ID)
		if err != nil {
			return out, err
		}
		out = append(out, StreamEntry{ID: m.ID, Event: ev})
	}
	return out, nil
}

// ReadSummary returns a closed call's summary; ErrNotFound if there is none
// (the call is open, unknown, or its summary expired).
func ReadSummary(ctx context.Context, client redis.UniversalClient, callID string) (Summary, error) {
	if err := validCallID(callID); err != nil {
		return Summary{}, err
	}
	raw, err := client.Get(ctx, SummaryKey(callID)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Summary{}, fmt.Errorf("%w: no summary for call %s", ErrNotFound, callID)
	}
	if err != nil {
		return Summary{}, fmt.Errorf("bus: reading summary of %s: %w", callID, err)
	}
	var s Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		return Summary{}, fmt.Errorf("%w: summary of %s: %w", ErrMalformed, callID, err)
	}
	return s, nil
}

// LatestAnalytics returns a call's newest analytics event; ErrNotFound when
// it has none.
func LatestAnalytics(ctx context.Context, client redis.UniversalClient, callID string) (StreamEntry, error) {
	if err := validCallID(callID); err != nil {
		return StreamEntry{}, err
	}
	msgs, err := client.XRevRangeN(ctx, AnalyticsStream(callID), "+", "-", 1).Result()
	if err != nil {
		return StreamEntry{}, fmt.Errorf("bus: reading analytics of %s: %w", callID, err)
	}
	if len(msgs) == 0 {
		return StreamEntry{}, fmt.Errorf("%w: no analytics for call %s", ErrNotFound, callID)
	}
	raw, _ := msgs[0].Values["event"].(string)
	ev, err := decode(raw, AnalyticsStream(callID)+" "+msgs[0].ID)
	if err != nil {
		return StreamEntry{}, err
	}
	return StreamEntry{ID: msgs[0].ID, Event: ev}, nil
}
