package callflow_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/fakefs"
	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/internal/poll"
	"github.com/callcoach/callcoach/llmcoach"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/stttest"
	"github.com/callcoach/callcoach/transcript"
)

// With speech to text on, what each side says is published as call.speech
// (with sentiment and topics) and a forbidden phrase as call.alert, all
// before CLOSED; the recognisers go back to the pool.
func TestSpeechIsPublished(t *testing.T) {
	pool := stt.NewPool(stttest.NewScript("I want to cancel, this is ridiculous", "please calm down"), 2)
	defer pool.Close()
	h := newHarness(t, callflow.Config{Transcripts: &transcript.Config{Pool: pool, Phrases: phrases.Default()}})
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer, Source: mixer.Tone(880, amplitude)})
	caller := h.call("5001", mixer.Tone(440, amplitude))
	id, _ := h.state(bus.StateConnected)
	poll.Until(t, h.ctx, "both sides analysed talking", func() bool {
		in, err := h.mgr.Call(id)
		return err == nil && in.Analysis != nil && in.Analysis.Elapsed > time.Second &&
			in.Analysis.Sides[0].Talking && in.Analysis.Sides[1].Talking
	})
	caller.Hangup("NORMAL_CLEARING")

	var got []string
	for {
		ev, err := h.all.Next(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.CallID != id {
			continue
		}
		switch ev.Type {
		case bus.TypeSpeech:
			var s bus.SpeechData
			if err := ev.DecodeData(&s); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("speech %s %q negative:%v topics:%v", s.Side, s.Text, s.Sentiment < 0, s.Topics))
		case bus.TypeAlert:
			var a bus.AlertData
			if err := ev.DecodeData(&a); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("alert %s %s %s", a.Rule, a.Kind, a.Side))
		case bus.TypeCallState:
			var s bus.StateData
			_ = ev.DecodeData(&s)
			if s.State != bus.StateClosed {
				continue
			}
			sort.Strings(got)
			want := []string{
				"alert dismissive forbidden agent",
				`speech agent "please calm down" negative:false topics:[]`,
				`speech customer "I want to cancel, this is ridiculous" negative:true topics:[cancellation]`,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("published before CLOSED\n got %q\nwant %q", got, want)
			}
			h.noChannelsLeft()
			poll.Until(t, h.ctx, "the recognisers back in the pool", func() bool { return pool.InUse() == 0 })
			return
		}
	}
}

// The LLM coach, asked after a customer utterance, gets its line to the
// agent alone (coach in whisper), marked as the LLM's.
func TestLLMCoachLine(t *testing.T) {
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), "customer: I want to cancel") {
			t.Errorf("the model was not shown the conversation: %s", b)
		}
		fmt.Fprint(w, `{"choices":[{"message":{"role":"assistant","content":"Ask why they want to leave."}}]}`)
	}))
	defer model.Close()
	pool := stt.NewPool(stttest.NewScript("I want to cancel", "hello"), 2)
	defer pool.Close()
	h := newHarness(t, callflow.Config{
		Transcripts: &transcript.Config{Pool: pool, Phrases: phrases.Default()},
		LLM:         &llmcoach.Client{URL: model.URL + "/v1", Model: "test"},
	})
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer})
	caller, id := h.customerSaysOneThing()
	ev := h.next("the LLM's line", func(ev bus.Event) bool { return ev.Type == bus.TypeCoachLine && ev.CallID == id })
	var cl bus.CoachLineData
	if err := ev.DecodeData(&cl); err != nil || cl.Source != "llm" || cl.Text != "Ask why they want to leave." || cl.HeardBy != "agent" {
		t.Fatalf("coach line %+v %v", cl, err)
	}
	caller.Hangup("NORMAL_CLEARING")
	h.state(bus.StateClosed)
	h.noChannelsLeft()
}

// A policy rule on the transcript's sentiment coaches the agent once the
// customer has said something negative.
func TestSentimentRuleCoaches(t *testing.T) {
	rules, err := policy.Parse([]byte(`rules: [{name: unhappy, say: "The customer is unhappy: acknowledge it.", when: {customer_sentiment_below: -0.3}}]`))
	if err != nil {
		t.Fatal(err)
	}
	pool := stt.NewPool(stttest.NewScript("this is ridiculous, the service is terrible", "hello"), 2)
	defer pool.Close()
	h := newHarness(t, callflow.Config{
		Transcripts:   &transcript.Config{Pool: pool, Phrases: phrases.Default()},
		CoachingRules: func() []coaching.Rule { return rules },
	})
	h.fs.AddEndpoint("user/5001", fakefs.Party{Behaviour: fakefs.Answer})
	caller, id := h.customerSaysOneThing()
	ev := h.next("the sentiment rule's line", func(ev bus.Event) bool { return ev.Type == bus.TypeCoachLine && ev.CallID == id })
	var cl bus.CoachLineData
	if err := ev.DecodeData(&cl); err != nil || cl.Rule != "unhappy" || cl.HeardBy != "agent" {
		t.Fatalf("coach line %+v %v", cl, err)
	}
	caller.Hangup("NORMAL_CLEARING")
	h.state(bus.StateClosed)
}

// customerSaysOneThing places a call to 5001 whose customer, once the call
// is analysed, talks for 1.5 s and falls silent: one utterance.
func (h *harness) customerSaysOneThing() (*fakefs.Channel, string) {
	h.t.Helper()
	voice := mixer.NewSwitchable(nil)
	caller := h.call("5001", voice)
	id, _ := h.state(bus.StateConnected)
	poll.Until(h.t, h.ctx, "the analyzer", func() bool {
		in, err := h.mgr.Call(id)
		return err == nil && in.Analysis != nil
	})
	voice.Set(mixer.For(mixer.Tone(440, amplitude), 1500*time.Millisecond))
	return caller, id
}
