package mixer

import "sync"

// Relation between an ordered pair of members (mod_conference `relate`).
type Relation int

const (
	Clear   Relation = iota
	NoSpeak          // relate A B nospeak: B stops hearing A
	NoHear           // relate A B nohear: A stops hearing B
)

type member struct {
	id       int
	leg      *Leg
	canHear  bool
	canSpeak bool
	play     *playback // member-targeted play
	talking  bool
	energy   int // frames above threshold, for hysteresis
}

type pair struct{ a, b int }

// Conference mixes its members as mod_conference does.
type Conference struct {
	e    *Engine
	name string

	mu        sync.Mutex
	members   map[int]*member
	rel       map[pair]Relation
	plays     []*playback // whole-conference
	onTalking func(id int, talking bool)
	mixbuf    []int32
	closed    bool
}

// NewConference makes a conference.
func (e *Engine) NewConference(name string) *Conference {
	c := &Conference{e: e, name: name, members: map[int]*member{}, rel: map[pair]Relation{}, mixbuf: make([]int32, FrameSamples)}
	e.mu.Lock()
	e.confs[c] = struct{}{}
	e.mu.Unlock()
	return c
}

// Add puts a leg in the conference as member id.
func (c *Conference) Add(l *Leg, id int, canHear, canSpeak bool) {
	c.mu.Lock()
	c.members[id] = &member{id: id, leg: l, canHear: canHear, canSpeak: canSpeak}
	c.mu.Unlock()
	l.mu.Lock()
	l.conf = c
	l.confMix = make([]int16, FrameSamples)
	l.mu.Unlock()
}

// Remove takes a member out (kick, hangup); its relationships go with it.
func (c *Conference) Remove(id int) {
	c.mu.Lock()
	m, ok := c.members[id]
	delete(c.members, id)
	for p := range c.rel {
		if p.a == id || p.b == id {
			delete(c.rel, p)
		}
	}
	var done func()
	if ok && m.play != nil {
		done = m.play.done
	}
	c.mu.Unlock()
	if ok {
		m.leg.mu.Lock()
		if m.leg.conf == c {
			m.leg.conf, m.leg.confMix = nil, nil
		}
		m.leg.mu.Unlock()
	}
	if done != nil {
		done()
	}
}

func (c *Conference) removeLeg(l *Leg) {
	c.mu.Lock()
	id := -1
	for mid, m := range c.members {
		if m.leg == l {
			id = mid
		}
	}
	c.mu.Unlock()
	if id >= 0 {
		c.Remove(id)
	}
}

func (c *Conference) set(id int, f func(*member)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.members[id]; ok {
		f(m)
	}
}

// SetCanSpeak is mute (false) / unmute (true).
func (c *Conference) SetCanSpeak(id int, v bool) { c.set(id, func(m *member) { m.canSpeak = v }) }

// SetCanHear is deaf (false) / undeaf (true).
func (c *Conference) SetCanHear(id int, v bool) { c.set(id, func(m *member) { m.canHear = v }) }

// Relate sets the relationship of the ordered pair (a, b), replacing any.
func (c *Conference) Relate(a, b int, r Relation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r == Clear {
		delete(c.rel, pair{a, b})
		return
	}
	c.rel[pair{a, b}] = r
}

// Play plays s to the whole conference (id 0) or mixed into what member id
// alone hears; done is called when it ends.
func (c *Conference) Play(s Source, id int, done func()) {
	c.mu.Lock()
	var old func()
	if id == 0 {
		c.plays = append(c.plays, &playback{src: s, done: done})
	} else if m, ok := c.members[id]; ok {
		if m.play != nil {
			old = m.play.done
		}
		m.play = &playback{src: s, done: done}
	} else {
		old = done
	}
	c.mu.Unlock()
	if old != nil {
		old()
	}
}

// OnTalking is called (outside the mixer's locks) when a member starts or
// stops talking.
func (c *Conference) OnTalking(fn func(id int, talking bool)) {
	c.mu.Lock()
	c.onTalking = fn
	c.mu.Unlock()
}

// Close removes every member and stops the conference.
func (c *Conference) Close() {
	c.mu.Lock()
	ids := make([]int, 0, len(c.members))
	for id := range c.members {
		ids = append(ids, id)
	}
	plays := c.plays
	c.plays = nil
	c.closed = true
	c.mu.Unlock()
	for _, id := range ids {
		c.Remove(id)
	}
	for _, p := range plays {
		if p.done != nil {
			p.done()
		}
	}
	c.e.mu.Lock()
	delete(c.e.confs, c)
	c.e.mu.Unlock()
}

// Talking detection: FreeSWITCH's energy-level default 100 on a 0..32767
// scale of mean absolute sample, with a little hysteresis.
const (
	talkEnergy   = 300
	talkHangover = 10 // frames below before stop-talking
	talkAttack   = 2  // frames above before start-talking
)

// mix computes what every member hears this frame (legs have read their
// sources already) and returns talking callbacks.
func (c *Conference) mix() []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var after []func()
	// Inputs, snapshotted under each leg's lock.
	inputs := make(map[int][]int16, len(c.members))
	for id, m := range c.members {
		m.leg.mu.Lock()
		inputs[id] = append([]int16(nil), m.leg.sent...)
		m.leg.mu.Unlock()
		if c.onTalking != nil {
			if ev, talking := m.detect(inputs[id]); ev {
				fn, id := c.onTalking, id
				after = append(after, func() { fn(id, talking) })
			}
		}
	}
	// Whole-conference plays.
	confPlay := make([]int32, FrameSamples)
	tmp := make([]int16, FrameSamples)
	live := c.plays[:0]
	for _, p := range c.plays {
		if p.src.Read(tmp) {
			for i, v := range tmp {
				confPlay[i] += int32(v)
			}
			live = append(live, p)
		} else if p.done != nil {
			after = append(after, p.done)
		}
	}
	c.plays = live

	for id, m := range c.members {
		out := c.mixbuf
		clear(out)
		if m.canHear {
			for sid, s := range c.members {
				if sid == id || !s.canSpeak {
					continue
				}
				if c.rel[pair{sid, id}] == NoSpeak || c.rel[pair{id, sid}] == NoHear {
					continue
				}
				for i, v := range inputs[sid] {
					out[i] += int32(v)
				}
			}
			for i, v := range confPlay {
				out[i] += v
			}
		}
		if m.play != nil {
			if m.play.src.Read(tmp) {
				for i, v := range tmp {
					out[i] += int32(v)
				}
			} else {
				if m.play.done != nil {
					after = append(after, m.play.done)
				}
				m.play = nil
			}
		}
		m.leg.mu.Lock()
		if m.leg.confMix != nil {
			for i, v := range out {
				m.leg.confMix[i] = clip(v)
			}
		}
		m.leg.mu.Unlock()
	}
	return after
}

func (m *member) detect(in []int16) (changed, talking bool) {
	var sum int
	for _, v := range in {
		if v < 0 {
			sum -= int(v)
		} else {
			sum += int(v)
		}
	}
	loud := sum/len(in) > talkEnergy && m.canSpeak
	switch {
	case loud && !m.talking:
		m.energy++
		if m.energy >= talkAttack {
			m.talking, m.energy = true, 0
			return true, true
		}
	case !loud && m.talking:
		m.energy++
		if m.energy >= talkHangover {
			m.talking, m.energy = false, 0
			return true, false
		}
	default:
		m.energy = 0
	}
	return false, m.talking
}

func clip(v int32) int16 {
	switch {
	case v > 32767:
		return 32767
	case v < -32768:
		return -32768
	}
	return int16(v)
}
