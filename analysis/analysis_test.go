package analysis

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

const rate = 16000
const samplesPerFrame = rate / 50

// amplitude of a sine whose level is dbfs.
func amp(dbfs float64) float64 { return 32767 * math.Pow(10, dbfs/20) * math.Sqrt2 }

const loud = 5000.0 // ≈ -19 dBFS: speech

// seg is a stretch of the call: how long, and each side's sine amplitude.
type seg struct {
	d           time.Duration
	cust, agent float64
}

// feed plays segments into a as interleaved stereo (440 Hz customer, 880 Hz agent).
func feed(a *Analyzer, pos *int, segs ...seg) {
	buf := make([]int16, 2*samplesPerFrame)
	for _, s := range segs {
		for f := 0; f < int(s.d/FrameDuration); f++ {
			for i := 0; i < samplesPerFrame; i++ {
				t := float64(*pos) / rate
				buf[2*i] = int16(s.cust * math.Sin(2*math.Pi*440*t))
				buf[2*i+1] = int16(s.agent * math.Sin(2*math.Pi*880*t))
				*pos++
			}
			a.Stereo(buf)
		}
	}
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

type want struct {
	talk           [2]time.Duration
	turns          [2]int
	interruptions  [2]int
	overtalkBy     [2]time.Duration
	overtalkTotal  time.Duration
	currentSilence time.Duration
	totalSilence   time.Duration
	longestSilence time.Duration
	longestMono    [2]time.Duration
	bothSpoke      bool
	agentShare     float64
	overtalk       Overtalk
	monologue      Monologue
	talking        [2]bool
}

func got(s Snapshot) want {
	w := want{
		overtalkTotal:  s.OvertalkTotal,
		currentSilence: s.CurrentSilence,
		totalSilence:   s.TotalSilence,
		longestSilence: s.LongestSilence,
		bothSpoke:      s.BothSpoke,
		agentShare:     math.Round(s.AgentShare*1000) / 1000,
		overtalk:       s.Overtalk,
		monologue:      s.Monologue,
	}
	for i, st := range s.Sides {
		w.talk[i] = st.TalkTime
		w.turns[i] = st.Turns
		w.interruptions[i] = st.Interruptions
		w.overtalkBy[i] = st.OvertalkTime
		w.longestMono[i] = st.LongestMonologue
		w.talking[i] = st.Talking
	}
	return w
}

var (
	noOvertalk = Overtalk{By: NoSide}
	noFloor    = Monologue{Side: NoSide}
)

func TestAnalyzer(t *testing.T) {
	hang := ms(300) // default hangover: a turn ends 300 ms after its last voiced frame
	tests := []struct {
		name string
		segs []seg
		want want
	}{
		{
			name: "silence only",
			segs: []seg{{ms(1000), 0, 0}},
			want: want{currentSilence: ms(1000), overtalk: noOvertalk, monologue: noFloor},
		},
		{
			name: "one frame click is not speech",
			segs: []seg{{ms(500), 0, 0}, {ms(20), loud, 0}, {ms(500), 0, 0}},
			want: want{currentSilence: ms(1020), overtalk: noOvertalk, monologue: noFloor},
		},
		{
			name: "noise below the off level",
			segs: []seg{{ms(2000), amp(-50), amp(-47)}},
			want: want{currentSilence: ms(2000), overtalk: noOvertalk, monologue: noFloor},
		},
		{
			name: "level between off and on does not start a turn",
			segs: []seg{{ms(2000), amp(-41), 0}},
			want: want{currentSilence: ms(2000), overtalk: noOvertalk, monologue: noFloor},
		},
		{
			name: "hysteresis keeps a turn going between off and on",
			segs: []seg{{ms(500), loud, 0}, {ms(1000), amp(-41), 0}, {ms(1000), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(1500), 0}, turns: [2]int{1, 0},
				currentSilence: ms(1000), totalSilence: ms(1000), longestSilence: ms(1000),
				longestMono: [2]time.Duration{ms(1500), 0}, overtalk: noOvertalk,
				monologue: Monologue{Customer, ms(1500)},
			},
		},
		{
			name: "turns with dead air between",
			segs: []seg{{ms(400), 0, 0}, {ms(1000), loud, 0}, {ms(2000), 0, 0}, {ms(1000), 0, loud}, {ms(500), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(1000), ms(1000)}, turns: [2]int{1, 1},
				currentSilence: ms(500), totalSilence: ms(2500), longestSilence: ms(2000),
				longestMono: [2]time.Duration{ms(1000), ms(1000)}, bothSpoke: true, agentShare: 0.5,
				overtalk: noOvertalk, monologue: Monologue{Agent, ms(1000)},
			},
		},
		{
			name: "live: agent still talking",
			segs: []seg{{ms(1000), loud, 0}, {ms(600), 0, 0}, {ms(3000), 0, loud}},
			want: want{
				talk: [2]time.Duration{ms(1000), ms(3000)}, turns: [2]int{1, 1},
				totalSilence: ms(600), longestSilence: ms(600),
				longestMono: [2]time.Duration{ms(1000), ms(3000)}, bothSpoke: true, agentShare: 0.75,
				overtalk: noOvertalk, monologue: Monologue{Agent, ms(3000)}, talking: [2]bool{false, true},
			},
		},
		{
			name: "pause shorter than the hangover stays one turn",
			segs: []seg{{ms(1000), loud, 0}, {ms(200), 0, 0}, {ms(1000), loud, 0}, {ms(1000), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(2200), 0}, turns: [2]int{1, 0},
				currentSilence: ms(1000), totalSilence: ms(1000), longestSilence: ms(1000),
				longestMono: [2]time.Duration{ms(2200), 0}, overtalk: noOvertalk, monologue: Monologue{Customer, ms(2200)},
			},
		},
		{
			name: "longer pause: two turns, one monologue",
			segs: []seg{{ms(1000), loud, 0}, {ms(400), 0, 0}, {ms(1000), loud, 0}, {ms(1000), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(2000), 0}, turns: [2]int{2, 0},
				currentSilence: ms(1000), totalSilence: ms(1400), longestSilence: ms(1000),
				longestMono: [2]time.Duration{ms(2400), 0}, overtalk: noOvertalk, monologue: Monologue{Customer, ms(2400)},
			},
		},
		{
			name: "customer talks over the agent",
			segs: []seg{{ms(1000), 0, loud}, {ms(1000), loud, loud}, {ms(1000), loud, 0}, {ms(1000), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(2000), ms(2000)}, turns: [2]int{1, 1}, interruptions: [2]int{1, 0},
				overtalkBy: [2]time.Duration{ms(1000), 0}, overtalkTotal: ms(1000),
				currentSilence: ms(1000), totalSilence: ms(1000), longestSilence: ms(1000),
				longestMono: [2]time.Duration{ms(2000), ms(1000)}, bothSpoke: true, agentShare: 0.5,
				overtalk: noOvertalk, monologue: Monologue{Customer, ms(2000)},
			},
		},
		{
			name: "live: customer has been talking over the agent for 1.5 s",
			segs: []seg{{ms(1000), 0, loud}, {ms(1500), loud, loud}},
			want: want{
				talk: [2]time.Duration{ms(1500), ms(2500)}, turns: [2]int{1, 1}, interruptions: [2]int{1, 0},
				overtalkBy: [2]time.Duration{ms(1500), 0}, overtalkTotal: ms(1500),
				longestMono: [2]time.Duration{ms(1500), ms(1000)}, bothSpoke: true, agentShare: 0.625,
				overtalk:  Overtalk{Active: true, By: Customer, Duration: ms(1500)},
				monologue: Monologue{Customer, ms(1500)}, talking: [2]bool{true, true},
			},
		},
		{
			name: "agent talks over the customer",
			segs: []seg{{ms(2000), loud, 0}, {ms(500), loud, loud}, {ms(1000), 0, loud}, {hang, 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(2500), ms(1500)}, turns: [2]int{1, 1}, interruptions: [2]int{0, 1},
				overtalkBy: [2]time.Duration{0, ms(500)}, overtalkTotal: ms(500),
				currentSilence: hang, totalSilence: hang, longestSilence: hang,
				longestMono: [2]time.Duration{ms(2000), ms(1500)}, bothSpoke: true, agentShare: 0.375,
				overtalk: noOvertalk, monologue: Monologue{Agent, ms(1500)},
			},
		},
		{
			name: "a reply inside the hangover is not overtalk",
			segs: []seg{{ms(1000), loud, 0}, {ms(100), 0, 0}, {ms(1000), 0, loud}, {ms(500), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(1000), ms(1000)}, turns: [2]int{1, 1},
				currentSilence: ms(500), totalSilence: ms(600), longestSilence: ms(500),
				longestMono: [2]time.Duration{ms(1000), ms(1000)}, bothSpoke: true, agentShare: 0.5,
				overtalk: noOvertalk, monologue: Monologue{Agent, ms(1000)},
			},
		},
		{
			name: "both start at once",
			segs: []seg{{ms(500), 0, 0}, {ms(800), loud, loud}, {ms(400), 0, 0}},
			want: want{
				talk: [2]time.Duration{ms(800), ms(800)}, turns: [2]int{1, 1},
				overtalkTotal:  ms(800),
				currentSilence: ms(400), totalSilence: ms(400), longestSilence: ms(400),
				bothSpoke: true, agentShare: 0.5, overtalk: noOvertalk, monologue: noFloor,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := New(Config{})
			pos := 0
			feed(a, &pos, tc.segs...)
			if g := got(a.Snapshot()); g != tc.want {
				t.Fatalf("\n got %+v\nwant %+v", g, tc.want)
			}
		})
	}
}

func TestSnapshotLevelAndElapsed(t *testing.T) {
	a := New(Config{})
	pos := 0
	feed(a, &pos, seg{ms(100), loud, 0})
	s := a.Snapshot()
	if s.Frames != 5 || s.Elapsed != ms(100) {
		t.Fatalf("frames %d elapsed %v", s.Frames, s.Elapsed)
	}
	if l := s.Sides[Customer].LevelDBFS; math.Abs(l-(-19.3)) > 0.5 {
		t.Fatalf("customer level %.1f dBFS", l)
	}
	if s.Sides[Agent].LevelDBFS != SilenceDBFS {
		t.Fatalf("agent level %v, want %v", s.Sides[Agent].LevelDBFS, SilenceDBFS)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatalf("snapshot does not encode: %v", err)
	}
}

func TestMonoFeedsCustomerOnly(t *testing.T) {
	a := New(Config{})
	frame := make([]int16, samplesPerFrame)
	for i := range frame {
		frame[i] = int16(loud * math.Sin(2*math.Pi*440*float64(i)/rate))
	}
	for range 50 {
		a.Mono(frame, nil)
	}
	s := a.Snapshot()
	if s.Sides[Customer].TalkTime != time.Second || s.Sides[Agent].Turns != 0 {
		t.Fatalf("%+v", s.Sides)
	}
}

func TestFeedingDoesNotAllocate(t *testing.T) {
	a := New(Config{})
	buf := make([]int16, 2*samplesPerFrame)
	for i := range buf {
		buf[i] = int16(i * 37)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		a.Stereo(buf)
		_ = a.Snapshot()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

func BenchmarkAnalyzerFrame(b *testing.B) {
	a := New(Config{})
	frames := make([][]int16, 100)
	pos := 0
	for f := range frames {
		frames[f] = make([]int16, 2*samplesPerFrame)
		// Alternate talk, overtalk and silence every 10 frames.
		c, g := 0.0, 0.0
		switch f / 10 % 4 {
		case 0:
			c = loud
		case 1:
			c, g = loud, loud
		case 2:
			g = loud
		}
		for i := 0; i < samplesPerFrame; i++ {
			t := float64(pos) / rate
			frames[f][2*i] = int16(c * math.Sin(2*math.Pi*440*t))
			frames[f][2*i+1] = int16(g * math.Sin(2*math.Pi*880*t))
			pos++
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Stereo(frames[i%len(frames)])
		_ = a.Snapshot()
	}
}

// Random calls: the measures must stay consistent with each other.
func TestAnalyzerInvariants(t *testing.T) {
	levels := []float64{0, amp(-50), amp(-41), loud}
	for seed := uint64(1); seed <= 30; seed++ {
		rnd := seed
		next := func(n int) int { // xorshift: deterministic, no shared state
			rnd ^= rnd << 13
			rnd ^= rnd >> 7
			rnd ^= rnd << 17
			return int(rnd % uint64(n))
		}
		a := New(Config{})
		pos := 0
		for range 40 {
			feed(a, &pos, seg{ms(20 * (1 + next(60))), levels[next(4)], levels[next(4)]})
			s := a.Snapshot()
			union := s.Sides[0].TalkTime + s.Sides[1].TalkTime - s.OvertalkTotal
			if union < 0 || union+s.TotalSilence > s.Elapsed {
				t.Fatalf("seed %d: talk %v + silence %v > elapsed %v (%+v)", seed, union, s.TotalSilence, s.Elapsed, s)
			}
			for i, st := range s.Sides {
				if st.LongestTurn > st.TalkTime || st.OvertalkTime > s.OvertalkTotal || st.TalkTime > s.Elapsed {
					t.Fatalf("seed %d side %d: %+v total overtalk %v", seed, i, st, s.OvertalkTotal)
				}
			}
			if s.LongestSilence > s.TotalSilence || s.CurrentSilence > s.Elapsed || s.LongestOvertalk > s.OvertalkTotal {
				t.Fatalf("seed %d: %+v", seed, s)
			}
			if s.Overtalk.Active != (s.Sides[0].Talking && s.Sides[1].Talking) {
				t.Fatalf("seed %d: overtalk %+v with talking %v/%v", seed, s.Overtalk, s.Sides[0].Talking, s.Sides[1].Talking)
			}
			if s.AgentShare < 0 || s.AgentShare > 1 {
				t.Fatalf("seed %d: share %v", seed, s.AgentShare)
			}
		}
	}
}

// A side whose voice rises well above its usual level for a while has a
// raised voice for that while; its first seconds only set what usual is.
func TestRaisedVoice(t *testing.T) {
	tests := []struct {
		name        string
		segs        []seg
		raisedNow   time.Duration // at least
		raisedTotal [2]time.Duration
	}{
		{"steady voice", []seg{{20 * time.Second, loud, loud / 2}}, 0, [2]time.Duration{0, 0}},
		{"shouting from the first word is the usual voice", []seg{{4 * time.Second, 4 * loud, 0}}, 0, [2]time.Duration{0, 0}},
		{"the customer gets louder (+12 dB) and is still shouting", []seg{{8 * time.Second, loud, 0}, {3 * time.Second, 4 * loud, 0}},
			2500 * time.Millisecond, [2]time.Duration{2500 * time.Millisecond, 0}},
		// The half-second average takes a moment to rise and to fall back.
		{"and calms down", []seg{{8 * time.Second, loud, 0}, {3 * time.Second, 4 * loud, 0}, {3 * time.Second, loud, 0}},
			0, [2]time.Duration{3 * time.Second, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := New(Config{})
			pos := 0
			feed(a, &pos, tt.segs...)
			s := a.Snapshot()
			c := s.Sides[Customer]
			if c.RaisedVoice < tt.raisedNow || (tt.raisedNow == 0 && c.RaisedVoice != 0) {
				t.Errorf("raised now %v, want %v", c.RaisedVoice, tt.raisedNow)
			}
			for side, want := range tt.raisedTotal {
				got := s.Sides[side].RaisedTotal
				if got < want-300*time.Millisecond || got > want+300*time.Millisecond {
					t.Errorf("%s raised in all %v, want about %v", Side(side), got, want)
				}
			}
		})
	}
}
