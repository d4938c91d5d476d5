package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reader looks calls up; any controller and the CLI use one.
type Reader struct {
	Client redis.UniversalClient
}

// List returns every registered call, orphans marked, oldest first. It
// costs three round trips whatever the number of calls.
func (r Reader) List(ctx context.Context) ([]Record, error) {
	ids, err := r.liveIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("registry: list calls: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = CallKey(id)
	}
	vals, err := r.Client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("registry: read %d calls: %w", len(ids), err)
	}
	out := make([]Record, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // expired between the two reads
		}
		var rec Record
		if err := json.Unmarshal([]byte(s), &rec); err != nil || rec.ID == "" {
			continue // not ours to judge; a newer writer's or damaged
		}
		out = append(out, rec)
	}
	if err := r.markOrphans(ctx, out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Started.Equal(out[j].Started) {
			return out[i].Started.Before(out[j].Started)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// liveIDs are the ids in the index whose records have not expired; the
// expired ones are pruned on the way (owners that stopped refreshing them
// long ago).
func (r Reader) liveIDs(ctx context.Context) ([]string, error) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	ids, err := r.Client.ZRangeByScore(ctx, IndexKey, &redis.ZRangeBy{Min: now, Max: "+inf"}).Result()
	if err != nil {
		return nil, err
	}
	_ = r.Client.ZRemRangeByScore(ctx, IndexKey, "-inf", "("+now).Err()
	return ids, nil
}

// markOrphans checks each owner's heartbeat once.
func (r Reader) markOrphans(ctx context.Context, recs []Record) error {
	owners := map[string]*Controller{}
	for _, rec := range recs {
		owners[rec.Owner] = nil
	}
	if len(owners) == 0 {
		return nil
	}
	names := make([]string, 0, len(owners))
	keys := make([]string, 0, len(owners))
	for o := range owners {
		names = append(names, o)
		keys = append(keys, HeartbeatKey(o))
	}
	beats, err := r.Client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("registry: read controllers' heartbeats: %w", err)
	}
	var dead []string
	for i, b := range beats {
		var c Controller
		if s, ok := b.(string); ok && json.Unmarshal([]byte(s), &c) == nil {
			owners[names[i]] = &c
		} else {
			dead = append(dead, names[i])
		}
	}
	lastSeen := map[string]time.Time{}
	if len(dead) > 0 {
		seen, err := r.Client.HMGet(ctx, ControllersKey, dead...).Result()
		if err != nil {
			return fmt.Errorf("registry: read controllers: %w", err)
		}
		for i, s := range seen {
			var c Controller
			if str, ok := s.(string); ok && json.Unmarshal([]byte(str), &c) == nil {
				lastSeen[dead[i]] = c.Seen
			}
		}
	}
	for i := range recs {
		c := owners[recs[i].Owner]
		switch {
		case c == nil:
			recs[i].Orphaned, recs[i].OwnerLastSeen = true, lastSeen[recs[i].Owner]
		case c.Instance != recs[i].Instance:
			// The owner restarted: the new run does not hold this call.
			recs[i].Orphaned, recs[i].OwnerLastSeen = true, c.Started
		}
	}
	return nil
}

// Get looks a call up by its id or by a prefix of it that matches one call
// (as the CLI shows them shortened). It wraps ErrUnknownCall or ErrAmbiguous.
func (r Reader) Get(ctx context.Context, idOrPrefix string) (Record, error) {
	if err := validID(idOrPrefix); err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrUnknownCall, err)
	}
	id := idOrPrefix
	if len(id) < 36 {
		ids, err := r.liveIDs(ctx)
		if err != nil {
			return Record{}, fmt.Errorf("registry: find call %s: %w", idOrPrefix, err)
		}
		var match []string
		for _, c := range ids {
			if strings.HasPrefix(c, idOrPrefix) {
				match = append(match, c)
			}
		}
		switch len(match) {
		case 0:
			return Record{}, fmt.Errorf("%w: %s", ErrUnknownCall, idOrPrefix)
		case 1:
			id = match[0]
		default:
			return Record{}, fmt.Errorf("%w: %s matches %s", ErrAmbiguous, idOrPrefix, strings.Join(match, ", "))
		}
	}
	s, err := r.Client.Get(ctx, CallKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return Record{}, fmt.Errorf("%w: %s", ErrUnknownCall, id)
	}
	if err != nil {
		return Record{}, fmt.Errorf("registry: read call %s: %w", id, err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(s), &rec); err != nil {
		return Record{}, fmt.Errorf("registry: call %s: damaged record: %w", id, err)
	}
	recs := []Record{rec}
	if err := r.markOrphans(ctx, recs); err != nil {
		return Record{}, err
	}
	return recs[0], nil
}

// Controllers lists every controller ever seen, and whether it is alive.
func (r Reader) Controllers(ctx context.Context) ([]Controller, map[string]bool, error) {
	all, err := r.Client.HGetAll(ctx, ControllersKey).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("registry: read controllers: %w", err)
	}
	out := make([]Controller, 0, len(all))
	keys := make([]string, 0, len(all))
	for _, s := range all {
		var c Controller
		if json.Unmarshal([]byte(s), &c) == nil {
			out = append(out, c)
			keys = append(keys, HeartbeatKey(c.ID))
		}
	}
	alive := make(map[string]bool, len(out))
	if len(keys) > 0 {
		beats, err := r.Client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, nil, fmt.Errorf("registry: read heartbeats: %w", err)
		}
		for i, b := range beats {
			var c Controller
			if s, ok := b.(string); ok && json.Unmarshal([]byte(s), &c) == nil && c.Instance == out[i].Instance {
				alive[out[i].ID] = true
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, alive, nil
}

// Forget removes a call's record: for an orphan a supervisor has dealt with.
func (r Reader) Forget(ctx context.Context, id string) error {
	pipe := r.Client.TxPipeline()
	pipe.Del(ctx, CallKey(id))
	pipe.ZRem(ctx, IndexKey, id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("registry: forget %s: %w", id, err)
	}
	return nil
}
