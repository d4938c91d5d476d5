package callflow_test

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/transcript"
	"github.com/callcoach/callcoach/tts"
)

// ended wraps a source and notes when it ran out (the end of the utterance).
type ended struct {
	src mixer.Source
	at  atomic.Int64
}

func (e *ended) Read(f []int16) bool {
	ok := e.src.Read(f)
	if !ok && e.at.Load() == 0 {
		e.at.Store(time.Now().UnixMilli())
	}
	return ok
}

// BenchmarkUtteranceToCoaching measures, with real speech to text in the
// loop, the time from the end of a customer's utterance to the coaching line
// being played to the agent (the coach.line event, published once
// `conference play` is accepted): endpointing, decoding, sentiment, the
// rule, text to speech and the play. Each iteration is a call whose
// customer says one sentence; a rule fires on any transcribed mood.
//
//	go test -run XXX -bench UtteranceToCoaching -benchtime 10x ./callflow/
func BenchmarkUtteranceToCoaching(b *testing.B) {
	ps, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
	if err != nil {
		b.Fatal(err)
	}
	pool := stt.NewPool(ps, 2)
	defer pool.Close()
	rules, err := policy.Parse([]byte(`rules: [{name: heard, say: "Acknowledge what the customer said.", when: {customer_sentiment_below: 1.01}}]`))
	if err != nil {
		b.Fatal(err)
	}
	voices, err := tts.Auto()
	if err != nil {
		b.Fatal(err)
	}
	sp, err := voices.Synthesize(b.Context(), "I have been waiting for a technician since Monday and nobody came.")
	if err != nil {
		b.Fatal(err)
	}
	speech := mixer.Resample(sp.Samples, sp.Rate, mixer.Rate)
	h := newHarness(b, callflow.Config{
		Transcripts:   &transcript.Config{Pool: pool, Phrases: phrases.Default()},
		CoachingRules: func() []coaching.Rule { return rules },
	})
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer})
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		voice := mixer.NewSwitchable(nil)
		caller := h.call("5001", voice)
		id, _ := h.state(bus.StateConnected)
		poll.Until(b, h.ctx, "the analyzer", func() bool {
			in, err := h.mgr.Call(id)
			return err == nil && in.Analysis != nil
		})
		said := &ended{src: mixer.Samples(speech)}
		voice.Set(said)
		ev := h.next("the coaching line", func(ev bus.Event) bool { return ev.Type == bus.TypeCoachLine && ev.CallID == id })
		lat = append(lat, ev.At.Sub(time.UnixMilli(said.at.Load())))
		caller.Hangup("NORMAL_CLEARING")
		h.state(bus.StateClosed)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}
