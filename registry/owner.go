package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Options configure an Owner.
type Options struct {
	Client     redis.UniversalClient
	Controller string // this controller's id
	// Heartbeat is how often the controller says it is alive (default 2 s);
	// it counts as dead after three missed beats.
	Heartbeat time.Duration
	// RecordTTL is how long a call's record outlives its owner's last
	// refresh (default 15 min): how long an orphan stays listed. The owner
	// refreshes its records every RecordTTL/3.
	RecordTTL time.Duration
	Logger    *slog.Logger
}

// Owner writes one controller's calls to the registry. Put and Remove
// never block on Redis: a writer goroutine sends what changed in batches,
// and keeps retrying while Redis is away (a call must not wait for it).
type Owner struct {
	opts     Options
	log      *slog.Logger
	instance string
	started  time.Time
	host     string

	mu      sync.Mutex
	live    map[string]Record // the calls, as last Put
	once    map[string]Record // released calls: written once, then left to expire
	pending map[string]bool   // id → true: write, false: delete
	wake    chan struct{}
	beaten  bool // a heartbeat was written (only the run goroutine touches it)

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

// NewOwner starts the owner's writer; Close stops it.
func NewOwner(opts Options) (*Owner, error) {
	if opts.Client == nil || opts.Controller == "" {
		return nil, errors.New("registry: Client and Controller are required")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = 2 * time.Second
	}
	if opts.RecordTTL <= 0 {
		opts.RecordTTL = 15 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	o := &Owner{
		opts: opts, log: opts.Logger, instance: uuid.NewString(), started: time.Now().UTC(), host: host,
		live: make(map[string]Record), once: make(map[string]Record), pending: make(map[string]bool), wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	go o.run()
	return o, nil
}

// Instance identifies this run of the controller.
func (o *Owner) Instance() string { return o.instance }

// Put records (or updates) a live call; the owner fields are filled in.
// r is kept as it is: its slices and maps must not change afterwards.
func (o *Owner) Put(r Record) {
	r.V, r.Owner, r.Instance = RecordVersion, o.opts.Controller, o.instance
	o.mu.Lock()
	o.live[r.ID] = r
	o.pending[r.ID] = true
	o.mu.Unlock()
	o.poke()
}

// Release records a call this controller let go (it goes on in FreeSWITCH,
// unmonitored): written once and never refreshed, so it stays listed —
// orphaned once this controller is gone — until its record expires. r is
// kept as Put keeps it.
func (o *Owner) Release(r Record) {
	r.V, r.Owner, r.Instance = RecordVersion, o.opts.Controller, o.instance
	o.mu.Lock()
	delete(o.live, r.ID)
	o.once[r.ID] = r
	o.pending[r.ID] = true
	o.mu.Unlock()
	o.poke()
}

// Remove forgets a call that ended.
func (o *Owner) Remove(id string) {
	o.mu.Lock()
	delete(o.live, id)
	delete(o.once, id)
	o.pending[id] = false
	o.mu.Unlock()
	o.poke()
}

func (o *Owner) poke() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close writes what is pending, withdraws the heartbeat (a controller that
// stops cleanly is not dead) and stops, bounded by ctx.
func (o *Owner) Close(ctx context.Context) error {
	o.cancel()
	<-o.done
	err := o.flush(ctx, false)
	hb := HeartbeatKey(o.opts.Controller)
	// Only our own heartbeat: a successor with the same id may run already.
	if cerr := delIfInstance.Run(ctx, o.opts.Client, []string{hb}, o.instance).Err(); cerr != nil && !errors.Is(cerr, redis.Nil) {
		err = errors.Join(err, fmt.Errorf("registry: withdraw heartbeat: %w", cerr))
	}
	return err
}

var delIfInstance = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and cjson.decode(v).instance == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func (o *Owner) run() {
	defer close(o.done)
	beat := time.NewTicker(o.opts.Heartbeat)
	defer beat.Stop()
	refreshEvery := o.opts.RecordTTL / 3
	lastRefresh := time.Now()
	down := false
	report := func(err error) {
		switch {
		case err != nil && !down:
			down = true
			o.log.Warn("call registry: Redis unreachable; retrying", "err", err)
		case err == nil && down:
			down = false
			o.log.Info("call registry: Redis back; registry up to date")
		}
	}
	_, err := o.heartbeat(o.ctx)
	report(err)
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-o.wake:
			report(o.flush(o.ctx, false))
		case <-beat.C:
			lost, err := o.heartbeat(o.ctx)
			if err == nil {
				// After an outage, or when Redis lost our keys (restarted
				// without persistence, flushed), write every call again.
				all := down || lost || time.Since(lastRefresh) >= refreshEvery
				if lost {
					o.log.Warn("call registry: our keys were gone from Redis (restarted or flushed?); writing every call again")
				}
				if err = o.flush(o.ctx, all); err == nil && all {
					lastRefresh = time.Now()
				}
			}
			report(err)
		}
	}
}

// heartbeat says we are alive; lost reports that our previous heartbeat
// was not there (so neither, probably, are our calls).
func (o *Owner) heartbeat(ctx context.Context) (lost bool, err error) {
	o.mu.Lock()
	n := len(o.live)
	o.mu.Unlock()
	now := time.Now().UTC()
	b, _ := json.Marshal(Controller{ID: o.opts.Controller, Instance: o.instance, Host: o.host, PID: os.Getpid(), Started: o.started, Seen: now, Calls: n})
	pipe := o.opts.Client.Pipeline()
	prev := pipe.SetArgs(ctx, HeartbeatKey(o.opts.Controller), b, redis.SetArgs{TTL: 3 * o.opts.Heartbeat, Get: true})
	pipe.HSet(ctx, ControllersKey, o.opts.Controller, b)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, err
	}
	first := !o.beaten
	o.beaten = true
	return !first && errors.Is(prev.Err(), redis.Nil), nil
}

// flush writes the pending changes (all live records when all is set).
// What fails stays pending.
func (o *Owner) flush(ctx context.Context, all bool) error {
	o.mu.Lock()
	todo := o.pending
	o.pending = make(map[string]bool, len(todo))
	if all {
		for id := range o.live {
			todo[id] = true
		}
	}
	now := time.Now().UTC()
	recs := make(map[string]Record, len(todo))
	for id, put := range todo {
		if !put {
			continue
		}
		r, ok := o.live[id]
		if !ok {
			if r, ok = o.once[id]; !ok {
				continue
			}
			delete(o.once, id) // put back below if the write fails
		}
		r.Refreshed = now
		recs[id] = r
	}
	o.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	// Encoded outside the lock: a full refresh of many calls must not hold
	// up the calls' own Puts.
	expiry := float64(now.Add(o.opts.RecordTTL).UnixMilli())
	pipe := o.opts.Client.Pipeline()
	for id, put := range todo {
		if put {
			r, ok := recs[id]
			if !ok {
				continue
			}
			b, _ := json.Marshal(r)
			pipe.Set(ctx, CallKey(id), b, o.opts.RecordTTL)
			pipe.ZAdd(ctx, IndexKey, redis.Z{Score: expiry, Member: id})
		} else {
			pipe.Del(ctx, CallKey(id))
			pipe.ZRem(ctx, IndexKey, id)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		o.mu.Lock()
		for id, put := range todo {
			if _, newer := o.pending[id]; !newer {
				o.pending[id] = put
				if r, ok := recs[id]; ok {
					if _, live := o.live[id]; !live {
						o.once[id] = r
					}
				}
			}
		}
		o.mu.Unlock()
		return fmt.Errorf("registry: write %d calls: %w", len(todo), err)
	}
	return nil
}
