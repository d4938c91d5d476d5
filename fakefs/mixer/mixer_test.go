package mixer

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/callcoach/callcoach/internal/capture"
)

// measured is one line of tonematrix.txt: what a party heard in a scenario.
type measured struct {
	scenario, party string
	levels          map[int]float64
}

func loadToneMatrix(t *testing.T) []measured {
	raw, err := capture.Raw("tonematrix.txt")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^(\w+)-(\w+)\s+hears:(.*)$`)
	level := regexp.MustCompile(`(\d+)Hz=([\d.]+)`)
	var out []measured
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ms := measured{scenario: m[1], party: m[2], levels: map[int]float64{}}
		for _, l := range level.FindAllStringSubmatch(m[3], -1) {
			f, _ := strconv.Atoi(l[1])
			v, _ := strconv.ParseFloat(l[2], 64)
			ms.levels[f] = v
		}
		out = append(out, ms)
	}
	if len(out) != 12 {
		t.Fatalf("tonematrix.txt: %d lines, want 12", len(out))
	}
	return out
}

const (
	callerID, agentID, supervisorID = 23, 24, 25
	amplitude                       = 7194
)

// scenario sets the conference up the way the capture did.
var scenarios = map[string]func(c *Conference){
	// The supervisor joined with flags{mute}.
	"spy": func(c *Conference) {},
	// unmute S + relate S C nospeak.
	"whisper": func(c *Conference) {
		c.SetCanSpeak(supervisorID, true)
		c.Relate(supervisorID, callerID, NoSpeak)
	},
	// relate S C clear with S unmuted.
	"barge": func(c *Conference) {
		c.SetCanSpeak(supervisorID, true)
	},
	// conference play <file> <agent>, supervisor back in spy.
	"coach": func(c *Conference) {
		c.Play(Tone(1000, amplitude), agentID, nil)
	},
}

func TestToneMatrixReproduced(t *testing.T) {
	want := loadToneMatrix(t)
	heard := map[string]map[string][]int16{}
	for name, setup := range scenarios {
		e := NewEngine(Options{Manual: true})
		legs := map[string]*Leg{"caller": e.NewLeg("caller"), "agent": e.NewLeg("agent"), "supervisor": e.NewLeg("supervisor")}
		legs["caller"].SetSource(Tone(440, amplitude))
		legs["agent"].SetSource(Tone(880, amplitude))
		legs["supervisor"].SetSource(Tone(1300, amplitude))
		c := e.NewConference("lab1")
		c.Add(legs["caller"], callerID, true, true)
		c.Add(legs["agent"], agentID, true, true)
		c.Add(legs["supervisor"], supervisorID, true, false)
		setup(c)
		recs := map[string]*Recording{}
		for p, l := range legs {
			recs[p] = l.Record()
		}
		for range 50 {
			e.Step()
		}
		heard[name] = map[string][]int16{}
		for p, r := range recs {
			heard[name][p] = r.Heard()
		}
		e.Close()
	}
	for _, m := range want {
		t.Run(m.scenario+"-"+m.party, func(t *testing.T) {
			pcm := heard[m.scenario][m.party]
			if len(pcm) != 50*FrameSamples {
				t.Fatalf("%d samples recorded", len(pcm))
			}
			for f, real := range m.levels {
				got := Level(pcm, Rate, float64(f))
				present := real > 1000
				switch {
				case present && (got < real*0.95 || got > real*1.05):
					t.Errorf("%d Hz: %.1f, FreeSWITCH measured %.1f", f, got, real)
				case !present && got > 50:
					t.Errorf("%d Hz: %.1f heard, FreeSWITCH measured %.1f (absent)", f, got, real)
				}
			}
		})
	}
}

func TestLevel(t *testing.T) {
	frame := make([]int16, Rate)
	Tone(440, amplitude).Read(frame)
	tests := []struct {
		freq float64
		min  float64
		max  float64
	}{{440, 5080, 5095}, {880, 0, 5}, {1000, 0, 5}}
	for _, tt := range tests {
		if got := Level(frame, Rate, tt.freq); got < tt.min || got > tt.max {
			t.Errorf("Level(%v) = %.1f, want %v..%v", tt.freq, got, tt.min, tt.max)
		}
	}
}

func TestPlaybackReplacesConferenceAudioAndCompletes(t *testing.T) {
	e := NewEngine(Options{Manual: true})
	defer e.Close()
	a, b := e.NewLeg("a"), e.NewLeg("b")
	b.SetSource(Tone(880, amplitude))
	c := e.NewConference("x")
	c.Add(a, 1, true, true)
	c.Add(b, 2, true, true)
	src, err := OpenFile("tone_stream://%(100,0,1000)")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	a.Play(src, func() { close(done) })
	rec := a.Record()
	for range 10 {
		e.Step()
	}
	select {
	case <-done:
	default:
		t.Fatal("100 ms playback not done after 200 ms")
	}
	h := rec.Heard()
	first, after := h[:5*FrameSamples], h[6*FrameSamples:]
	if Level(first, Rate, 1000) < 4000 || Level(first, Rate, 880) > 50 {
		t.Errorf("during playback: 1000 Hz %.0f, 880 Hz %.0f", Level(first, Rate, 1000), Level(first, Rate, 880))
	}
	if Level(after, Rate, 880) < 4000 {
		t.Errorf("after playback the conference is not heard: %.0f", Level(after, Rate, 880))
	}
}

func TestToneStreamSyntax(t *testing.T) {
	tests := []struct {
		spec   string
		frames int // until it ends
		err    bool
	}{
		{"%(100,0,1000)", 5, false},
		{"%(100,100,440,480);loops=2", 20, false},
		{"%(bad)", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := OpenFile("tone_stream://" + tt.spec)
			if tt.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			frame := make([]int16, FrameSamples)
			n := 0
			for s.Read(frame) && n < 1000 {
				n++
			}
			if n != tt.frames {
				t.Errorf("%d frames, want %d", n, tt.frames)
			}
		})
	}
}

func TestRecordingWaitFrames(t *testing.T) {
	e := NewEngine(Options{Tick: time.Millisecond})
	defer e.Close()
	l := e.NewLeg("a")
	r := l.Record()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.WaitFrames(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if r.Frames() < 20 {
		t.Errorf("%d frames", r.Frames())
	}
	_ = fmt.Sprint()
}
