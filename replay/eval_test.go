package replay

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
)

type dialogue struct {
	Name   string  `yaml:"name"`
	Length float64 `yaml:"length"`
	Lines  [][]any `yaml:"lines"`
	Expect struct {
		Coaching []string `yaml:"coaching"`
		Topics   []string `yaml:"topics"`
		Customer string   `yaml:"customer"`
		Agent    string   `yaml:"agent"`
	} `yaml:"expect"`
}

func (d dialogue) script(t *testing.T) []line {
	var out []line
	for _, l := range d.Lines {
		side := map[string]int{"customer": 0, "agent": 1}[l[0].(string)]
		at, ok := l[1].(float64)
		if !ok {
			at = float64(l[1].(int))
		}
		out = append(out, line{side: side, at: time.Duration(at * float64(time.Second)), text: l[2].(string)})
	}
	return out
}

// pooled hands out the same two recognisers again and again: loading one
// takes a second and 100 MB.
type pooled struct {
	stt.Engine
	mu   sync.Mutex
	free []stt.Recognizer
}

type pooledRec struct {
	stt.Recognizer
	p *pooled
}

func (r pooledRec) Close() error {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	r.p.free = append(r.p.free, r.Recognizer)
	return nil
}

func (p *pooled) NewRecognizer() (stt.Recognizer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		r := p.free[n-1]
		p.free = p.free[:n-1]
		return pooledRec{r, p}, nil
	}
	r, err := p.Engine.NewRecognizer()
	if err != nil {
		return nil, err
	}
	return pooledRec{r, p}, nil
}

func mood(v float64) string {
	switch {
	case v > 0.05:
		return "positive"
	case v < -0.05:
		return "negative"
	}
	return "neutral"
}

// TestEvaluationSet replays every scripted call of testdata/dialogues.yaml
// with the shipped coaching policy and scores the analyzer against what each
// should produce: word error
// rate, topic precision and recall, sentiment per side, coaching precision
// and recall. The thresholds sit under the figures measured when the set
// was made, so a regression fails.
func TestEvaluationSet(t *testing.T) {
	b, err := os.ReadFile("testdata/dialogues.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var set []dialogue
	if err := yaml.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	if len(set) < 20 {
		t.Fatalf("%d dialogues, the set needs 20", len(set))
	}
	ps, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	engine := &pooled{Engine: ps}
	defer func() {
		for _, r := range engine.free {
			r.Close()
		}
	}()

	var refWords, hypWords []string
	var tp, fp, fn, ctp, cfp, cfn, moodOK, moods int
	var audio, took time.Duration
	for _, d := range set {
		script := d.script(t)
		pcm := record(t, script, time.Duration(d.Length*float64(time.Second)))
		res, err := Run(context.Background(), pcm, Options{STT: engine, Coaching: coaching.Config{Rules: policy.Default()}})
		if err != nil {
			t.Fatalf("%s: %v", d.Name, err)
		}
		audio, took = audio+res.Audio, took+res.Took
		for _, l := range script {
			refWords = append(refWords, l.text)
		}
		var coached []string
		for _, ev := range res.Events {
			switch ev.Kind {
			case "speech":
				hypWords = append(hypWords, ev.Text)
			case "coaching":
				coached = append(coached, ev.Rule)
			}
		}
		// Topics and coaching rules: counted per (dialogue, label).
		count := func(want, got []string, tp, fp, fn *int) {
			for _, w := range want {
				if slices.Contains(got, w) {
					*tp++
				} else {
					*fn++
				}
			}
			for _, g := range got {
				if !slices.Contains(want, g) {
					*fp++
				}
			}
		}
		count(d.Expect.Topics, res.Topics, &tp, &fp, &fn)
		count(d.Expect.Coaching, coached, &ctp, &cfp, &cfn)
		got := [2]string{mood(res.Sentiment[0].Value), mood(res.Sentiment[1].Value)}
		for i, want := range []string{d.Expect.Customer, d.Expect.Agent} {
			moods++
			if got[i] == want {
				moodOK++
			}
		}
		sort.Strings(coached)
		t.Logf("%-26s topics %-28s coaching %-20s sentiment %s/%s (want %s/%s)", d.Name,
			fmt.Sprint(res.Topics), fmt.Sprint(coached), got[0], got[1], d.Expect.Customer, d.Expect.Agent)
	}
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 1
		}
		return float64(a) / float64(b)
	}
	wer := stt.WordErrorRate(strings.Join(refWords, " "), strings.Join(hypWords, " "))
	topicP, topicR := ratio(tp, tp+fp), ratio(tp, tp+fn)
	coachP, coachR := ratio(ctp, ctp+cfp), ratio(ctp, ctp+cfn)
	sentAcc := ratio(moodOK, moods)
	t.Logf("%d dialogues, %v of audio replayed in %v: WER %.1f%% (pocketsphinx), topics precision %.2f recall %.2f, sentiment accuracy %.2f, coaching precision %.2f recall %.2f",
		len(set), audio, took.Round(time.Millisecond), 100*wer, topicP, topicR, sentAcc, coachP, coachR)

	for _, c := range []struct {
		what      string
		got, want float64
		atLeast   bool
	}{
		{"WER", wer, 0.60, false},
		{"topic precision", topicP, 0.80, true},
		{"topic recall", topicR, 0.50, true},
		{"sentiment accuracy", sentAcc, 0.55, true},
		{"coaching precision", coachP, 0.95, true},
		{"coaching recall", coachR, 0.95, true},
	} {
		if c.atLeast && c.got < c.want || !c.atLeast && c.got > c.want {
			t.Errorf("%s %.2f, want %s %.2f", c.what, c.got, map[bool]string{true: "≥", false: "≤"}[c.atLeast], c.want)
		}
	}
}
