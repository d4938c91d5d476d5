// Package analysis measures a two-party call from its audio, 20 ms at a time:
// voice activity per side (energy with hysteresis, an attack and a hangover),
// talk time and talk ratio, overtalk (who started talking over whom, and for
// how long), silence (dead air) and monologues.
//
// An Analyzer is fed frames in order by one goroutine; feeding is
// allocation-free and Snapshot returns a value. Times are media time: the
// number of frames fed times 20 ms.
//
// Definitions:
//   - A side starts talking after Attack consecutive frames at or above
//     OnDBFS; the turn is dated from the first of them. It goes on while
//     frames stay above OffDBFS and ends Hangover frames after the last such
//     frame, dated just after that frame. When the other side starts while
//     this one is only in its hangover, this turn ends at once (a reply is
//     not overtalk).
//   - Overtalk: both sides in a turn. It is attributed to the side whose turn
//     started while the other was speaking (By); NoSide when both started in
//     the same frame. It ends when either turn ends.
//   - Silence: neither side in a turn. CurrentSilence counts from the end of
//     the last turn (or from the start of the call); TotalSilence and
//     LongestSilence count only silence after the first speech.
//   - Monologue: one side holding the floor, from its turn start until the
//     other side starts a turn, pauses included.
package analysis

import (
	"math"
	"time"
)

// FrameDuration is the length of the audio fed per call.
const FrameDuration = 20 * time.Millisecond

// Side of the call. On a stereo fork of the caller's leg, channel 0 is the
// customer and channel 1 the agent side.
type Side int

// Sides.
const (
	NoSide   Side = -1
	Customer Side = 0
	Agent    Side = 1
)

func (s Side) String() string {
	switch s {
	case Customer:
		return "customer"
	case Agent:
		return "agent"
	}
	return "none"
}

// Config tunes voice activity. Zero values give the defaults.
type Config struct {
	// OnDBFS starts speech (default -38 dBFS); OffDBFS keeps it going
	// (default -44 dBFS). dBFS is relative to a full-scale square wave.
	OnDBFS, OffDBFS float64
	// Attack is how many consecutive frames at OnDBFS start a turn (default 2).
	Attack int
	// Hangover is how many quiet frames end a turn (default 15 = 300 ms).
	Hangover int
}

func (c Config) withDefaults() Config {
	if c.OnDBFS == 0 {
		c.OnDBFS = -38
	}
	if c.OffDBFS == 0 {
		c.OffDBFS = -44
	}
	if c.OffDBFS > c.OnDBFS {
		c.OffDBFS = c.OnDBFS
	}
	if c.Attack <= 0 {
		c.Attack = 2
	}
	if c.Hangover <= 0 {
		c.Hangover = 15
	}
	return c
}

// meanSquare of a level in dBFS.
func meanSquare(dbfs float64) float64 {
	r := 32767 * math.Pow(10, dbfs/20)
	return r * r
}

type sideState struct {
	talking     bool
	attackRun   int
	attackStart int64
	turnStart   int64
	lastVoiced  int64
	lastEnd     int64 // end of the last completed turn
	talkFrames  int64 // completed turns
	turns       int
	longestTurn int64
	longestMono int64
	interrupts  int
	overFrames  int64 // overtalk this side started (completed episodes)
	level       float64

	// Raised voice: a fast and a slow average of the side's level in dB
	// over its voiced frames; the slow one is the side's usual voice.
	voiced      int64
	fastDB      float64
	baseDB      float64
	raisedRun   int64 // frames of the current raised episode
	raisedTotal int64
}

// Raised-voice tuning: a side's voice is raised when its last half second is
// RaisedDB above its usual level, known after warmUpFrames of its speech.
const (
	RaisedDB     = 6.0
	warmUpFrames = 250 // 5 s of voiced speech
	fastFrames   = 25  // 0.5 s
	slowFrames   = 1500
)

// trackVoice follows the side's loudness on a voiced frame of a turn.
func (s *sideState) trackVoice(ms float64) {
	db := 10 * math.Log10(max(ms, 1))
	s.voiced++
	if s.voiced == 1 {
		s.fastDB, s.baseDB = db, db
		return
	}
	s.fastDB += (db - s.fastDB) / fastFrames
	if s.voiced <= warmUpFrames {
		s.baseDB += (db - s.baseDB) / float64(s.voiced) // the mean so far
	} else if s.raisedRun == 0 {
		s.baseDB += (db - s.baseDB) / slowFrames // shouting does not become the norm
	}
	switch {
	case s.voiced > warmUpFrames && s.fastDB-s.baseDB >= RaisedDB:
		s.raisedRun++
		s.raisedTotal++
	case s.fastDB-s.baseDB < RaisedDB-1: // a little hysteresis
		s.raisedRun = 0
	}
}

// Analyzer holds one call's measures. The zero value is not usable; use New.
type Analyzer struct {
	cfg       Config
	onMS      float64
	offMS     float64
	n         int64 // frames fed
	sides     [2]sideState
	anySpoke  bool
	silTotal  int64
	silLong   int64
	overOn    bool
	overBy    Side
	overStart int64
	overLong  int64
	overTotal int64
	holder    Side
	holdStart int64
}

// New returns an Analyzer for one call.
func New(cfg Config) *Analyzer {
	cfg = cfg.withDefaults()
	return &Analyzer{
		cfg:    cfg,
		onMS:   meanSquare(cfg.OnDBFS),
		offMS:  meanSquare(cfg.OffDBFS),
		holder: NoSide,
	}
}

// Config returns the configuration in use, defaults filled in.
func (a *Analyzer) Config() Config { return a.cfg }

// Stereo feeds one 20 ms frame of interleaved PCM: channel 0 the customer,
// channel 1 the agent side.
func (a *Analyzer) Stereo(pcm []int16) {
	var s0, s1 int64
	n := len(pcm) / 2
	for i := 0; i < n; i++ {
		x, y := int64(pcm[2*i]), int64(pcm[2*i+1])
		s0 += x * x
		s1 += y * y
	}
	if n == 0 {
		a.Levels(0, 0)
		return
	}
	a.Levels(float64(s0)/float64(n), float64(s1)/float64(n))
}

// Mono feeds one 20 ms frame per side; a nil side is silent (a mono fork
// carries only the customer).
func (a *Analyzer) Mono(customer, agent []int16) {
	a.Levels(meanSquareOf(customer), meanSquareOf(agent))
}

func meanSquareOf(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var s int64
	for _, x := range pcm {
		s += int64(x) * int64(x)
	}
	return float64(s) / float64(len(pcm))
}

// Levels feeds one 20 ms frame given each side's mean square sample value.
func (a *Analyzer) Levels(customerMS, agentMS float64) {
	n := a.n
	var started, ended [2]bool
	levels := [2]float64{customerMS, agentMS}
	for i := range a.sides {
		s := &a.sides[i]
		s.level = levels[i]
		if !s.talking {
			if levels[i] >= a.onMS {
				if s.attackRun == 0 {
					s.attackStart = n
				}
				s.attackRun++
				if s.attackRun >= a.cfg.Attack {
					s.talking = true
					s.attackRun = 0
					s.turnStart = s.attackStart
					s.lastVoiced = n
					started[i] = true
				}
			} else {
				s.attackRun = 0
			}
			continue
		}
		if levels[i] >= a.offMS {
			s.lastVoiced = n
			s.trackVoice(levels[i])
		} else if n-s.lastVoiced >= int64(a.cfg.Hangover) {
			ended[i] = true
		}
	}
	// A side starting while the other is only in its hangover ends that turn.
	for i := range a.sides {
		o := 1 - i
		if started[i] && a.sides[o].talking && !ended[o] && a.sides[o].lastVoiced < a.sides[i].turnStart {
			ended[o] = true
		}
	}
	for i := range a.sides {
		if ended[i] {
			a.endTurn(Side(i))
		}
	}
	switch {
	case started[0] && started[1]:
		a.startBoth()
	case started[0]:
		a.startTurn(Customer)
	case started[1]:
		a.startTurn(Agent)
	}
	a.n++
}

func (a *Analyzer) endTurn(side Side) {
	s := &a.sides[side]
	end := s.lastVoiced + 1
	turn := end - s.turnStart
	s.talkFrames += turn
	s.longestTurn = max(s.longestTurn, turn)
	s.talking = false
	s.raisedRun = 0
	s.lastEnd = end
	if a.overOn {
		d := max(0, end-a.overStart)
		if a.overBy != NoSide {
			a.sides[a.overBy].overFrames += d
		}
		a.overLong = max(a.overLong, d)
		a.overTotal += d
		a.overOn = false
	}
	if a.holder == side {
		s.longestMono = max(s.longestMono, end-a.holdStart)
	}
}

// closeSilence ends the silence that a turn starting at start breaks.
func (a *Analyzer) closeSilence(start int64) {
	if a.anySpoke {
		run := max(0, start-max(a.sides[0].lastEnd, a.sides[1].lastEnd))
		a.silTotal += run
		a.silLong = max(a.silLong, run)
	}
	a.anySpoke = true
}

func (a *Analyzer) closeMonologue(at int64) {
	if a.holder == NoSide {
		return
	}
	h := &a.sides[a.holder]
	end := min(at, h.lastVoiced+1)
	h.longestMono = max(h.longestMono, end-a.holdStart)
}

func (a *Analyzer) startTurn(side Side) {
	s := &a.sides[side]
	start := s.turnStart
	s.turns++
	if a.sides[1-side].talking {
		a.overOn = true
		a.overBy = side
		a.overStart = start
		s.interrupts++
	} else {
		a.closeSilence(start)
	}
	if a.holder != side {
		a.closeMonologue(start)
		a.holder = side
		a.holdStart = start
	}
}

// startBoth: both sides started in the same frame, out of silence.
func (a *Analyzer) startBoth() {
	start := min(a.sides[0].turnStart, a.sides[1].turnStart)
	a.sides[0].turns++
	a.sides[1].turns++
	a.closeSilence(start)
	a.overOn = true
	a.overBy = NoSide
	a.overStart = max(a.sides[0].turnStart, a.sides[1].turnStart)
	// Nobody holds the floor until one side speaks alone.
	a.closeMonologue(start)
	a.holder = NoSide
}

// SideStats are one side's measures.
type SideStats struct {
	Talking     bool
	TalkTime    time.Duration
	Turns       int
	LongestTurn time.Duration
	// LongestMonologue includes the current one.
	LongestMonologue time.Duration
	// Interruptions: turns this side started while the other was speaking.
	Interruptions int
	// OvertalkTime: overtalk this side started, the current episode included.
	OvertalkTime time.Duration
	// LevelDBFS of the last frame, floored at SilenceDBFS (JSON has no -Inf).
	LevelDBFS float64
	// RaisedVoice: how long the side has been RaisedDB louder than its usual
	// voice (0 when it is not now); RaisedTotal: over the call.
	RaisedVoice, RaisedTotal time.Duration
}

// Overtalk is the current overtalk, if any.
type Overtalk struct {
	Active   bool
	By       Side // who started talking over the other; NoSide if both at once
	Duration time.Duration
}

// Monologue is the side holding the floor now and for how long.
type Monologue struct {
	Side     Side
	Duration time.Duration
}

// Snapshot is the call's measures after the frames fed so far.
type Snapshot struct {
	Elapsed time.Duration
	Frames  int64
	Sides   [2]SideStats // indexed by Side
	// BothSpoke: each side has had at least one turn.
	BothSpoke bool
	// AgentShare is the agent's share of all talk time (0 when nobody talked).
	AgentShare      float64
	Overtalk        Overtalk
	OvertalkTotal   time.Duration
	LongestOvertalk time.Duration
	// CurrentSilence: nobody talking since then (0 while someone talks).
	CurrentSilence time.Duration
	TotalSilence   time.Duration
	LongestSilence time.Duration
	Monologue      Monologue
}

func frames(n int64) time.Duration { return time.Duration(n) * FrameDuration }

// Snapshot returns the measures so far.
func (a *Analyzer) Snapshot() Snapshot {
	now := a.n
	snap := Snapshot{
		Elapsed: frames(now),
		Frames:  now,
	}
	var talk [2]int64
	for i := range a.sides {
		s := &a.sides[i]
		st := SideStats{
			Talking:       s.talking,
			Turns:         s.turns,
			Interruptions: s.interrupts,
			LevelDBFS:     dbfs(s.level),
		}
		talk[i] = s.talkFrames
		longest := s.longestTurn
		if s.talking {
			cur := s.lastVoiced + 1 - s.turnStart
			talk[i] += cur
			longest = max(longest, cur)
		}
		st.TalkTime = frames(talk[i])
		st.LongestTurn = frames(longest)
		mono := s.longestMono
		if a.holder == Side(i) {
			cur := max(0, s.lastVoiced+1-a.holdStart)
			mono = max(mono, cur)
			snap.Monologue = Monologue{Side: Side(i), Duration: frames(cur)}
		}
		st.LongestMonologue = frames(mono)
		st.OvertalkTime = frames(s.overFrames)
		st.RaisedVoice, st.RaisedTotal = frames(s.raisedRun), frames(s.raisedTotal)
		snap.Sides[i] = st
	}
	if a.holder == NoSide {
		snap.Monologue.Side = NoSide
	}
	snap.BothSpoke = a.sides[0].turns > 0 && a.sides[1].turns > 0
	if t := talk[0] + talk[1]; t > 0 {
		snap.AgentShare = float64(talk[1]) / float64(t)
	}
	overTotal := a.overTotal
	overLong := a.overLong
	if a.overOn {
		// Until the last frame both were heard, the hangover left out.
		cur := max(0, min(a.sides[0].lastVoiced, a.sides[1].lastVoiced)+1-a.overStart)
		snap.Overtalk = Overtalk{Active: true, By: a.overBy, Duration: frames(cur)}
		if a.overBy != NoSide {
			snap.Sides[a.overBy].OvertalkTime += frames(cur)
		}
		overTotal += cur
		overLong = max(overLong, cur)
	} else {
		snap.Overtalk.By = NoSide
	}
	snap.OvertalkTotal = frames(overTotal)
	snap.LongestOvertalk = frames(overLong)
	silTotal, silLong := a.silTotal, a.silLong
	if !a.sides[0].talking && !a.sides[1].talking {
		cur := now
		if a.anySpoke {
			cur = max(0, now-max(a.sides[0].lastEnd, a.sides[1].lastEnd))
		}
		snap.CurrentSilence = frames(cur)
		if a.anySpoke {
			silTotal += cur
			silLong = max(silLong, cur)
		}
	}
	snap.TotalSilence = frames(silTotal)
	snap.LongestSilence = frames(silLong)
	return snap
}

// SilenceDBFS is the level reported for digital silence and anything quieter.
const SilenceDBFS = -120.0

func dbfs(meanSq float64) float64 {
	if meanSq <= 0 {
		return SilenceDBFS
	}
	return max(SilenceDBFS, 10*math.Log10(meanSq/(32767.0*32767.0)))
}

// Repeat feeds one more frame at the levels of the last one: it stands in
// for a frame lost on the way, keeping media time right without inventing
// silence or speech.
func (a *Analyzer) Repeat() {
	a.Levels(a.sides[0].level, a.sides[1].level)
}
