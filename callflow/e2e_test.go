package callflow_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/poll"
)

// hears reports which of the parties' tones a recording holds.
func hears(pcm []int16) map[string]bool {
	return map[string]bool{
		"caller":     mixer.Level(pcm, mixer.Rate, 440) > 3000,
		"agent":      mixer.Level(pcm, mixer.Rate, 880) > 3000,
		"supervisor": mixer.Level(pcm, mixer.Rate, 1300) > 3000,
	}
}

// absent checks that a tone is really absent (not merely quiet).
func absent(pcm []int16, freq float64) bool { return mixer.Level(pcm, mixer.Rate, freq) < 100 }

// The design's hearing matrix: who hears the monitor in each mode.
var matrix = map[conference.Mode]map[string]map[string]bool{
	conference.Spy: {
		"caller":     {"agent": true},
		"agent":      {"caller": true},
		"supervisor": {"caller": true, "agent": true},
	},
	conference.Whisper: {
		"caller":     {"agent": true},
		"agent":      {"caller": true, "supervisor": true},
		"supervisor": {"caller": true, "agent": true},
	},
	conference.Barge: {
		"caller":     {"agent": true, "supervisor": true},
		"agent":      {"caller": true, "supervisor": true},
		"supervisor": {"caller": true, "agent": true},
	},
}

var toneOf = map[string]float64{"caller": 440, "agent": 880, "supervisor": 1300}

func TestMonitoredCallHearingMatrixAndCoaching(t *testing.T) {
	h := newHarness(t, callflow.Config{Greeting: "Hello.", CoachMode: conference.Whisper})
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer, RingFor: 200 * time.Millisecond, Source: mixer.Tone(880, amplitude)})
	h.fs.AddEndpoint("user/9001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(1300, amplitude)})

	// The customer stays quiet until the agent has started talking, then
	// talks over the agent: the overtalk coaching rule's trigger.
	voice := mixer.NewSwitchable(nil)
	caller := h.call("5001", voice)
	id, _ := h.state(bus.StateConnected)
	agent := h.channelWith("cc_role", "agent")

	// A supervisor's phone joins in spy.
	sup, err := h.mgr.AddMonitor(h.ctx, id, "alice", "user/9001", conference.Spy)
	if err != nil {
		t.Fatal(err)
	}
	supervisor := h.channelWith("cc_role", "monitor")
	// The analyzer must have heard the agent alone before the customer
	// starts, so the customer is the one talking over.
	poll.Until(t, h.ctx, "the analyzer to hear the agent talking alone", func() bool {
		in, err := h.mgr.Call(id)
		return err == nil && in.Analysis != nil && in.Analysis.Sides[analysis.Agent].Talking && in.Analysis.Elapsed > 500*time.Millisecond
	})
	voice.Set(mixer.Tone(440, amplitude))

	legs := map[string]*fakefs.Channel{"caller": caller, "agent": agent, "supervisor": supervisor}
	for _, mode := range []conference.Mode{conference.Spy, conference.Whisper, conference.Barge, conference.Spy, conference.Barge, conference.Whisper} {
		if err := h.mgr.SetMode(h.ctx, id, sup, mode); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		// Confirmed by FreeSWITCH's replies: what is heard from the next
		// frame on must be the matrix.
		recs := map[string]*mixer.Recording{}
		for name, ch := range legs {
			r, err := ch.Record()
			if err != nil {
				t.Fatal(err)
			}
			recs[name] = r
		}
		for name, r := range recs {
			if err := r.WaitFrames(h.ctx, 25); err != nil {
				t.Fatal(err)
			}
			r.Stop()
			pcm := r.Heard()[:25*mixer.FrameSamples]
			got := hears(pcm)
			for other, f := range toneOf {
				if other == name {
					continue
				}
				want := matrix[mode][name][other]
				if got[other] != want || (!want && !absent(pcm, f)) {
					t.Errorf("%s: %s hears %s = %v (level %.0f), want %v", mode, name, other, got[other], mixer.Level(pcm, mixer.Rate, f), want)
				}
			}
		}
	}

	// The customer has been talking over the agent: the coach whispers to
	// the agent alone.
	if err := h.mgr.SetMode(h.ctx, id, sup, conference.Spy); err != nil {
		t.Fatal(err)
	}
	agentRec, _ := agent.Record()
	callerRec, _ := caller.Record()
	defer func() {
		if t.Failed() {
			in, _ := h.mgr.Call(id)
			t.Logf("call info: %+v\nanalysis: %+v\npipeline: %+v", in, in.Analysis, in.Pipeline)
		}
	}()
	line := h.next("a coaching line", func(ev bus.Event) bool { return ev.Type == bus.TypeCoachLine && ev.CallID == id })
	var cl bus.CoachLineData
	if err := line.DecodeData(&cl); err != nil || cl.Source != "ai" || cl.HeardBy != "agent" || cl.Rule == "" || cl.Text == "" {
		t.Fatalf("coach line %+v %v", cl, err)
	}
	n := agentRec.Frames()
	if err := agentRec.WaitFrames(h.ctx, n+50); err != nil {
		t.Fatal(err)
	}
	if err := callerRec.WaitFrames(h.ctx, callerRec.Frames()+1); err != nil {
		t.Fatal(err)
	}
	speechAgent := extraEnergy(agentRec.Heard()[n*mixer.FrameSamples:], 440)
	speechCaller := extraEnergy(callerRec.Heard(), 880)
	if speechAgent < 500 {
		t.Errorf("the agent did not hear the coaching line (energy beyond the caller's tone %.0f)", speechAgent)
	}
	if speechCaller > 100 {
		t.Errorf("the caller heard the coaching line (energy beyond the agent's tone %.0f)", speechCaller)
	}

	// The customer hangs up: everything ends.
	caller.Hangup("NORMAL_CLEARING")
	_, closed := h.state(bus.StateClosed)
	if !strings.Contains(closed.Reason, "caller hung up") {
		t.Errorf("closed: %q", closed.Reason)
	}
	h.noChannelsLeft()

	// What dashboards saw on Redis, in order.
	// The coaching line comes when the audio triggers it, anywhere among
	// the mode switches; everything else is in the order it happened.
	seq, analytics := h.sequence(id)
	var ordered, coached []string
	for i, ev := range seq {
		if strings.HasPrefix(ev, "coach ") {
			coached = append(coached, ev)
			if i < 3 {
				t.Errorf("coaching before CONNECTED: %q", seq)
			}
			continue
		}
		ordered = append(ordered, ev)
	}
	want := []string{"state PENDING", "state ANSWERED", "state CONNECTED", "mode ai whisper", "mode alice spy",
		"mode alice spy", "mode alice whisper", "mode alice barge", "mode alice spy", "mode alice barge", "mode alice whisper",
		"mode alice spy", "state CLOSED"}
	if fmt.Sprint(ordered) != fmt.Sprint(want) {
		t.Errorf("published sequence\n got %q\nwant %q", ordered, want)
	}
	if fmt.Sprint(coached) != fmt.Sprint([]string{"coach ai agent"}) {
		t.Errorf("coaching events %q, want one line from the AI heard by the agent", coached)
	}
	if len(analytics) == 0 || !analytics[len(analytics)-1].Final {
		t.Fatalf("analytics events %+v: want the final one last", analytics)
	}
	final := analytics[len(analytics)-1]
	if m := final.Measures; m.Customer.TalkMS < 1000 || m.Agent.TalkMS < 1000 || m.OvertalkMS < 2000 || final.CoachLines != 1 ||
		len(final.Outcomes) != 1 || final.Outcomes[0].Rule != "customer-overtalk" {
		t.Errorf("final analytics %+v: want both sides talking, the overtalk that triggered coaching, one coaching line", final)
	}
	// The stream holds the same, for a consumer that was not listening.
	stream, err := bus.ReadAnalytics(h.ctx, h.redis.Client(), id, "", 100)
	if err != nil || len(stream) != len(analytics) {
		t.Fatalf("analytics stream: %d entries, %v; published %d", len(stream), err, len(analytics))
	}
}

// extraEnergy is the largest RMS, over 100 ms windows, of what pcm holds
// beyond one pure tone: speech mixed in shows up, the tone alone does not.
func extraEnergy(pcm []int16, tone float64) float64 {
	const win = 1600
	best := 0.0
	for i := 0; i+win <= len(pcm); i += win {
		w := pcm[i : i+win]
		total, t := mixer.RMS(w), mixer.Level(w, mixer.Rate, tone)
		if x := total*total - t*t; x > best*best {
			best = sqrtf(x)
		}
	}
	return best
}

func sqrtf(x float64) float64 {
	if x <= 0 {
		return 0
	}
	z := x
	for range 40 {
		z = (z + x/z) / 2
	}
	return z
}

// Several monitors on one call, each in its own mode: what each party hears
// follows from each monitor's mode alone.
func TestSeveralMonitorsOnOneCall(t *testing.T) {
	h := newHarness(t, callflow.Config{CoachMode: conference.Spy})
	tones := map[string]float64{"caller": 440, "agent": 880, "alice": 1300, "bob": 1700}
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(tones["agent"], amplitude)})
	h.fs.AddEndpoint("user/9001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(tones["alice"], amplitude)})
	h.fs.AddEndpoint("user/9002", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(tones["bob"], amplitude)})
	caller := h.call("5001", mixer.Tone(tones["caller"], amplitude))
	id, _ := h.state(bus.StateConnected)
	legs := map[string]*fakefs.Channel{"caller": caller, "agent": h.channelWith("cc_role", "agent")}
	members := map[string]int{}
	for name, dial := range map[string]string{"alice": "user/9001", "bob": "user/9002"} {
		m, err := h.mgr.AddMonitor(h.ctx, id, name, dial, conference.Spy)
		if err != nil {
			t.Fatal(err)
		}
		members[name] = m
	}
	// Each monitor's leg, from the conference's member list.
	info, ok := h.fs.Conference("cc-" + id)
	if !ok {
		t.Fatal("no conference")
	}
	for _, m := range info.Members {
		for name, mid := range members {
			if m.ID == mid {
				ch, ok := h.fs.Channel(m.ChannelUUID)
				if !ok {
					t.Fatalf("%s's leg is gone", name)
				}
				legs[name] = ch
			}
		}
	}
	if len(legs) != 4 {
		t.Fatalf("legs %v, members %+v", legs, info.Members)
	}

	// who hears whom, for each pair of modes (monitors hear each other
	// whenever the other is unmuted: FreeSWITCH does, and nothing forbids it)
	steps := []struct {
		alice, bob conference.Mode
		hears      map[string][]string
	}{
		{conference.Whisper, conference.Barge, map[string][]string{
			"caller": {"agent", "bob"},
			"agent":  {"caller", "alice", "bob"},
			"alice":  {"caller", "agent", "bob"},
			"bob":    {"caller", "agent", "alice"},
		}},
		{conference.Barge, conference.Spy, map[string][]string{
			"caller": {"agent", "alice"},
			"agent":  {"caller", "alice"},
			"alice":  {"caller", "agent"},
			"bob":    {"caller", "agent", "alice"},
		}},
		{conference.Spy, conference.Whisper, map[string][]string{
			"caller": {"agent"},
			"agent":  {"caller", "bob"},
			"alice":  {"caller", "agent", "bob"},
			"bob":    {"caller", "agent"},
		}},
	}
	for _, st := range steps {
		if err := h.mgr.SetMode(h.ctx, id, members["alice"], st.alice); err != nil {
			t.Fatal(err)
		}
		if err := h.mgr.SetMode(h.ctx, id, members["bob"], st.bob); err != nil {
			t.Fatal(err)
		}
		for name, ch := range legs {
			r, err := ch.Record()
			if err != nil {
				t.Fatal(err)
			}
			if err := r.WaitFrames(h.ctx, 25); err != nil {
				t.Fatal(err)
			}
			r.Stop()
			pcm := r.Heard()[:25*mixer.FrameSamples]
			for other, f := range tones {
				if other == name {
					continue
				}
				want := slices.Contains(st.hears[name], other)
				level := mixer.Level(pcm, mixer.Rate, f)
				if (level > 3000) != want || (!want && !absent(pcm, f)) {
					t.Errorf("alice %s, bob %s: %s hears %s = %v (level %.0f), want %v", st.alice, st.bob, name, other, level > 3000, level, want)
				}
			}
		}
	}
	caller.Hangup("NORMAL_CLEARING")
	h.state(bus.StateClosed)
	h.noChannelsLeft()
}
