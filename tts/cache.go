package tts

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
)

// Cached is an Engine that remembers recent results by text in an LRU bounded
// by total sample bytes. Concurrent requests for the same text share one
// synthesis. Returned Speech values are copies: callers may modify them.
type Cached struct {
	engine   Engine
	maxBytes int

	mu       sync.Mutex
	order    *list.List // front = most recently used; values are *entry
	entries  map[string]*list.Element
	bytes    int
	inflight map[string]*flight
	hits     uint64
	misses   uint64
}

type entry struct {
	key    string
	speech *Speech
}

// flight is one synthesis others may wait for.
type flight struct {
	done   chan struct{}
	speech *Speech
	err    error
}

// CacheStats are counters for metrics and tests.
type CacheStats struct {
	Hits, Misses uint64
	Entries      int
	Bytes        int
}

// NewCached wraps engine with a cache of at most maxBytes of audio (2 bytes a
// sample; one minute at 8 kHz is 960 kB).
func NewCached(engine Engine, maxBytes int) *Cached {
	return &Cached{
		engine:   engine,
		maxBytes: maxBytes,
		order:    list.New(),
		entries:  make(map[string]*list.Element),
		inflight: make(map[string]*flight),
	}
}

// Synthesize returns the cached speech for text or synthesises it once.
func (c *Cached) Synthesize(ctx context.Context, text string) (*Speech, error) {
	key, err := cleanText(text) // lines differing only in spacing are the same line
	if err != nil {
		return nil, err
	}
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			c.order.MoveToFront(el)
			c.hits++
			s := copySpeech(el.Value.(*entry).speech)
			c.mu.Unlock()
			return s, nil
		}
		if f, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, fmt.Errorf("tts: waiting for synthesis: %w", ctx.Err())
			}
			if f.err == nil {
				c.mu.Lock()
				c.hits++ // served without a synthesis of its own
				c.mu.Unlock()
				return copySpeech(f.speech), nil
			}
			// The leader's own context may have ended; ours has not, so try again.
			if errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded) {
				continue
			}
			return nil, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.inflight[key] = f
		c.misses++
		c.mu.Unlock()

		f.speech, f.err = c.engine.Synthesize(ctx, key)
		c.mu.Lock()
		delete(c.inflight, key)
		if f.err == nil {
			c.add(key, f.speech)
		}
		c.mu.Unlock()
		close(f.done)
		if f.err != nil {
			return nil, f.err
		}
		return copySpeech(f.speech), nil
	}
}

// add stores speech and evicts the least recently used entries. Caller holds c.mu.
func (c *Cached) add(key string, s *Speech) {
	size := 2 * len(s.Samples)
	if size > c.maxBytes {
		return
	}
	c.entries[key] = c.order.PushFront(&entry{key: key, speech: s})
	c.bytes += size
	for c.bytes > c.maxBytes {
		el := c.order.Back()
		e := el.Value.(*entry)
		c.order.Remove(el)
		delete(c.entries, e.key)
		c.bytes -= 2 * len(e.speech.Samples)
	}
}

// Stats returns the cache's counters.
func (c *Cached) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Hits: c.hits, Misses: c.misses, Entries: len(c.entries), Bytes: c.bytes}
}

func copySpeech(s *Speech) *Speech {
	return &Speech{Samples: append([]int16(nil), s.Samples...), Rate: s.Rate}
}
