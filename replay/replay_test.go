package replay

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/wav"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/tts"
)

// line is one scripted utterance on one side at a time in the recording.
type line struct {
	side int // 0 customer, 1 agent
	at   time.Duration
	text string
}

// record synthesises a two-voice stereo 16 kHz call from a script.
func record(t *testing.T, script []line, length time.Duration) []int16 {
	t.Helper()
	engine, err := tts.Auto()
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	n := int(length / time.Second * Rate)
	pcm := make([]int16, 2*n)
	for _, l := range script {
		sp, err := engine.Synthesize(context.Background(), l.text)
		if err != nil {
			t.Fatal(err)
		}
		s := mixer.Resample(sp.Samples, sp.Rate, Rate)
		at := int(l.at * Rate / time.Second)
		for i, v := range s {
			if at+i < n {
				pcm[2*(at+i)+l.side] = v
			}
		}
	}
	return pcm
}

var script = []line{
	{1, 500 * time.Millisecond, "Thank you for calling Acme support. How can I help you today?"},
	{0, 5 * time.Second, "My internet has been down since yesterday."},
	// One breath each (no full stops): the customer cuts in and keeps going.
	{1, 9 * time.Second, "I understand and I will look at your account now if you could give me your account number and the address of the installation please"},
	{0, 10500 * time.Millisecond, "I already gave all of that twice and this is the third time I am calling about this and nobody ever calls me back"},
	// then nobody says anything: dead air from about 17 s
}

func TestReplayFindsTheCoachingMoments(t *testing.T) {
	pcm := record(t, script, 28*time.Second)
	var b bytes.Buffer
	if err := wav.Encode(&b, wav.Audio{PCM: pcm, Channels: 2, Rate: Rate}); err != nil {
		t.Fatal(err)
	}
	engine, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		stt  stt.Engine
	}{{"measures only", nil}, {"with speech to text", engine}} {
		t.Run(tc.name, func(t *testing.T) {
			// Compliance for this test: a disclosure nobody makes, and a
			// phrase the agent is not to say.
			rules, err := phrases.Parse([]byte(`
topics: {account: [account number], outage: [internet]}
compliance:
  required: [{name: greeting-name, side: agent, within: 5s, phrases: [my name is]}]
  forbidden: [{name: no-address, side: agent, phrases: [the address]}]
`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := RunWAV(context.Background(), b.Bytes(), Options{STT: tc.stt, Phrases: &rules})
			if err != nil {
				t.Fatal(err)
			}
			var coached []string
			var alerts []string
			var coachAt []int64
			said := map[string][]string{}
			mood := map[string][]float64{}
			for _, ev := range res.Events {
				switch ev.Kind {
				case "coaching":
					coached = append(coached, ev.Rule)
					coachAt = append(coachAt, ev.AtMS)
				case "alert":
					alerts = append(alerts, fmt.Sprintf("%s@%d", ev.Rule, ev.AtMS/1000))
				case "speech":
					said[ev.Side] = append(said[ev.Side], ev.Text)
					if ev.Sentiment == nil {
						t.Errorf("speech without sentiment: %+v", ev)
					} else {
						mood[ev.Side] = append(mood[ev.Side], *ev.Sentiment)
					}
				}
			}
			// The customer talks over the agent from 10.5 s: the rule holds
			// 2 s later. Then the line goes quiet: dead air 6 s on.
			if len(coached) != 2 || coached[0] != "customer-overtalk" || coached[1] != "dead-air" {
				t.Fatalf("coaching %v at %v ms; final %+v", coached, coachAt, res.Final)
			}
			if at := coachAt[0]; at < 12500 || at > 13300 {
				t.Errorf("overtalk coaching at %d ms, want 12.5–13.3 s", at)
			}
			if res.Final.Sides[0].Interruptions < 1 || res.Final.OvertalkTotal < 2*time.Second {
				t.Errorf("final measures %+v", res.Final)
			}
			if res.Audio != 28*time.Second {
				t.Errorf("audio %v", res.Audio)
			}
			if tc.stt == nil {
				if len(said) != 0 || len(alerts) != 0 || len(res.Topics) != 0 {
					t.Errorf("a transcript without an engine: %v %v %v", said, alerts, res.Topics)
				}
				return
			}
			// The agent never gives a name; at 8.9 s it asks for the address.
			if fmt.Sprint(alerts) != "[greeting-name@5 no-address@8]" {
				t.Errorf("alerts %v", alerts)
			}
			if fmt.Sprint(res.Topics) != "[account outage]" {
				t.Errorf("topics %v", res.Topics)
			}
			var ref, hyp []string
			for side, want := range map[string][]string{
				"customer": {script[1].text, script[3].text},
				"agent":    {script[0].text, script[2].text},
			} {
				ref, hyp = append(ref, want...), append(hyp, said[side]...)
				if len(said[side]) == 0 {
					t.Errorf("nothing transcribed for the %s", side)
				}
			}
			wer := stt.WordErrorRate(strings.Join(ref, " "), strings.Join(hyp, " "))
			t.Logf("WER %.0f%% on synthesised speech; %v of audio in %v\ncustomer: %q\nagent: %q", 100*wer, res.Audio, res.Took, said["customer"], said["agent"])
			if wer > 0.7 {
				t.Errorf("WER %.0f%%", 100*wer)
			}
			// The agent is friendly; the customer's complaint, said over the
			// agent, is not.
			if c := mood["customer"]; len(c) == 0 || c[len(c)-1] > -0.2 {
				t.Errorf("customer sentiment %v, want the complaint negative", c)
			}
			if a := mood["agent"]; len(a) == 0 || a[0] < 0.2 {
				t.Errorf("agent sentiment %v, want the greeting positive", a)
			}
			if res.Sentiment[1].Value <= res.Sentiment[0].Value {
				t.Errorf("final sentiment %+v: the agent should end above the customer", res.Sentiment)
			}
		})
	}
}

func TestReplayRefusesOtherFormats(t *testing.T) {
	var b bytes.Buffer
	_ = wav.Encode(&b, wav.Audio{PCM: make([]int16, 1600), Channels: 1, Rate: Rate})
	if _, err := RunWAV(context.Background(), b.Bytes(), Options{}); err == nil || !strings.Contains(err.Error(), "stereo 16 kHz") {
		t.Fatalf("mono: %v", err)
	}
	if _, err := RunWAV(context.Background(), []byte("junk"), Options{}); err == nil {
		t.Fatal("junk accepted")
	}
}

// With the shipped policy, a customer who raises their voice gets the agent
// a line to acknowledge it.
func TestReplayRaisedVoice(t *testing.T) {
	const a = 3000
	var pcm []int16
	add := func(d time.Duration, cust, agent float64) {
		for i := range int(d / time.Second * Rate) {
			x := 2 * math.Pi * float64(len(pcm)/2+i) / Rate
			pcm = append(pcm, int16(cust*math.Sin(440*x)), int16(agent*math.Sin(880*x)))
		}
	}
	add(7*time.Second, a, 0)   // the customer explains, at their usual level
	add(2*time.Second, 0, a)   // the agent answers
	add(4*time.Second, 4*a, 0) // the customer, 12 dB louder
	add(2*time.Second, 0, 0)
	res, err := Run(context.Background(), pcm, Options{Coaching: coaching.Config{Rules: policy.Default()}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range res.Events {
		if ev.Kind == "coaching" {
			got = append(got, fmt.Sprintf("%s@%.1f", ev.Rule, float64(ev.AtMS)/1000))
		}
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "customer-upset@") {
		t.Fatalf("coaching %v, want customer-upset", got)
	}
	if at := res.Events[0].AtMS; at < 10500 || at > 11500 {
		t.Errorf("customer-upset at %d ms, want 1.5–2.5 s into the loud part (9 s)", at)
	}
}
