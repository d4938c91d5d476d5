package esl

import "sync"

// Subscription delivers the events that pass its filter, in the order
// FreeSWITCH sent them. Its queue is unbounded so that a slow consumer never
// blocks the connection's reader or another subscriber; C is closed when the
// connection ends (after everything queued has been delivered) or on Close.
//
// A goroutine hands the queue to C only while there is something queued: a
// call's subscriptions sit idle most of the time, and at thousands of calls
// idle goroutines are most of the memory.
type Subscription struct {
	filter func(*Event) bool
	c      chan *Event

	mu       sync.Mutex
	q        []*Event
	running  bool // a pump goroutine is delivering
	ending   bool // the connection has ended: drain, then close c
	closing  bool // the consumer's Close: abandon the queue
	finished bool // c and done are closed
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	hub *hub
	// keyName/keyValue: an indexed subscription (SubscribeHeader).
	keyName, keyValue string
}

func newSubscription(h *hub, filter func(*Event) bool) *Subscription {
	return &Subscription{
		filter: filter,
		c:      make(chan *Event),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		hub:    h,
	}
}

// C returns the channel events arrive on.
func (s *Subscription) C() <-chan *Event { return s.c }

// Close unsubscribes and waits until delivery has stopped. Events still
// queued are discarded.
func (s *Subscription) Close() {
	s.hub.remove(s)
	s.mu.Lock()
	s.closing = true
	if !s.running {
		s.finishLocked()
	}
	s.mu.Unlock()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

// Len is the number of events queued and not yet taken.
func (s *Subscription) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.q)
}

func (s *Subscription) push(ev *Event) {
	s.mu.Lock()
	if s.finished || s.closing || s.ending {
		s.mu.Unlock()
		return
	}
	s.q = append(s.q, ev)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.pump()
	}
}

func (s *Subscription) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ending = true
	if !s.running {
		s.finishLocked()
	}
}

func (s *Subscription) finishLocked() {
	if !s.finished {
		s.finished = true
		close(s.c)
		close(s.done)
	}
}

// pump delivers the queue, then exits.
func (s *Subscription) pump() {
	for {
		s.mu.Lock()
		if len(s.q) == 0 || s.closing {
			s.running = false
			s.q = nil // let a burst's backing array go
			if s.ending || s.closing {
				s.finishLocked()
			}
			s.mu.Unlock()
			return
		}
		ev := s.q[0]
		s.q[0] = nil
		s.q = s.q[1:]
		s.mu.Unlock()
		select {
		case s.c <- ev:
		case <-s.stop:
			s.mu.Lock()
			s.running = false
			s.finishLocked()
			s.mu.Unlock()
			return
		}
	}
}

// hub fans events out to subscriptions and one-shot waiters. It may outlive a
// connection: the inbound client keeps one hub across reconnects.
type hub struct {
	mu      sync.Mutex
	subs    []*Subscription
	waiters []*waiter
	ended   bool
	// keyed indexes subscriptions by header name, then value: a call's
	// conference events cost one map lookup per event, not one filter per call.
	keyed map[string]map[string][]*Subscription
}

// waiter is a one-shot match used by commands that wait for an event
// (an application's CHANNEL_EXECUTE_COMPLETE), cheaper than a Subscription.
type waiter struct {
	match func(*Event) bool
	// fire is called once under the hub's lock: with the event, or with nil
	// when the connection ends. It must not block.
	fire func(*Event)
}

func (h *hub) subscribe(filter func(*Event) bool) *Subscription {
	s := newSubscription(h, filter)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		s.end()
		return s
	}
	h.subs = append(h.subs, s)
	return s
}

// subscribeHeader subscribes to the events whose header name is value.
func (h *hub) subscribeHeader(name, value string) *Subscription {
	s := newSubscription(h, nil)
	s.keyName, s.keyValue = name, value
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		s.end()
		return s
	}
	if h.keyed == nil {
		h.keyed = make(map[string]map[string][]*Subscription)
	}
	if h.keyed[name] == nil {
		h.keyed[name] = make(map[string][]*Subscription)
	}
	h.keyed[name][value] = append(h.keyed[name][value], s)
	return s
}

func (h *hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.keyName != "" {
		byValue := h.keyed[s.keyName]
		subs := byValue[s.keyValue]
		for i, x := range subs {
			if x == s {
				subs = append(subs[:i], subs[i+1:]...)
				break
			}
		}
		if len(subs) == 0 {
			delete(byValue, s.keyValue)
		} else {
			byValue[s.keyValue] = subs
		}
		return
	}
	for i, x := range h.subs {
		if x == s {
			h.subs = append(h.subs[:i], h.subs[i+1:]...)
			return
		}
	}
}

// awaitFunc registers a waiter whose match is handed to fire (nil: the
// connection ended first), so that nothing waits in a goroutine meanwhile.
func (h *hub) awaitFunc(match func(*Event) bool, fire func(*Event)) *waiter {
	w := &waiter{match: match, fire: fire}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended {
		fire(nil)
		return w
	}
	h.waiters = append(h.waiters, w)
	return w
}

func (h *hub) cancel(w *waiter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.waiters {
		if x == w {
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			return
		}
	}
}

func (h *hub) dispatch(ev *Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < len(h.waiters); {
		w := h.waiters[i]
		if w.match(ev) {
			w.fire(ev)
			h.waiters = append(h.waiters[:i], h.waiters[i+1:]...)
			continue
		}
		i++
	}
	for _, s := range h.subs {
		if s.filter == nil || s.filter(ev) {
			s.push(ev)
		}
	}
	for name, byValue := range h.keyed {
		if v, ok := ev.Header.Lookup(name); ok {
			for _, s := range byValue[v] {
				s.push(ev)
			}
		}
	}
}

// end closes every subscription once its queue is drained.
func (h *hub) end() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = true
	for _, s := range h.subs {
		s.end()
	}
	h.subs = nil
	for _, w := range h.waiters {
		w.fire(nil)
	}
	h.waiters = nil
	for _, byValue := range h.keyed {
		for _, subs := range byValue {
			for _, s := range subs {
				s.end()
			}
		}
	}
	h.keyed = nil
}
