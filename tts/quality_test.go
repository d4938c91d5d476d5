package tts_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/tts"
)

// silence is how much near-silence a clip has before its first and after
// its last sound.
func silence(s []int16, rate int) (lead, trail time.Duration) {
	loud := func(x int16) bool { return x > 300 || x < -300 }
	i := 0
	for i < len(s) && !loud(s[i]) {
		i++
	}
	j := len(s)
	for j > i && !loud(s[j-1]) {
		j--
	}
	per := time.Second / time.Duration(rate)
	return time.Duration(i) * per, time.Duration(len(s)-j) * per
}

// TestIntelligibility is the listening test we can run unattended: the
// coaching lines of the default policy, synthesised at telephone bandwidth
// (8 kHz) by each engine, transcribed by a recogniser; the word error rate
// is how much a listener would miss (a proxy: it favours CMU-trained voices).
func TestIntelligibility(t *testing.T) {
	ps, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := ps.NewRecognizer()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var lines []string
	for _, r := range policy.Default() {
		lines = append(lines, r.Line)
	}
	engines := map[string]func() (tts.Engine, error){
		"flite":     func() (tts.Engine, error) { return tts.NewFlite("") },
		"espeak-ng": func() (tts.Engine, error) { return tts.NewESpeak("") },
	}
	wer := map[string]float64{}
	for name, mk := range engines {
		e, err := mk()
		if err != nil {
			t.Fatalf("%s: %v (run ./scripts/setup)", name, err)
		}
		var hyp []string
		var worstLead, worstTrail, took time.Duration
		for _, l := range lines {
			start := time.Now()
			sp, err := e.Synthesize(context.Background(), l)
			if err != nil {
				t.Fatal(err)
			}
			took += time.Since(start)
			if sp.Rate != 8000 {
				t.Errorf("%s speaks at %d Hz; FreeSWITCH's coaching files are 8 kHz", name, sp.Rate)
			}
			lead, trail := silence(sp.Samples, sp.Rate)
			worstLead, worstTrail = max(worstLead, lead), max(worstTrail, trail)
			pcm := mixer.Resample(sp.Samples, sp.Rate, 16000)
			if err := rec.StartUtterance(); err != nil {
				t.Fatal(err)
			}
			if err := rec.Process(pcm); err != nil {
				t.Fatal(err)
			}
			text, err := rec.EndUtterance()
			if err != nil {
				t.Fatal(err)
			}
			hyp = append(hyp, text)
		}
		wer[name] = stt.WordErrorRate(strings.Join(lines, " "), strings.Join(hyp, " "))
		t.Logf("%-9s WER %.0f%% over %d coaching lines; %v to synthesise them; silence up to %v before and %v after",
			name, 100*wer[name], len(lines), took.Round(time.Millisecond), worstLead, worstTrail)
		// A coaching line must start at once: the agent hears it while the
		// moment lasts.
		if worstLead > 300*time.Millisecond {
			t.Errorf("%s: %v of silence before a line", name, worstLead)
		}
	}
	// The recogniser's model is wideband and these lines are telephone band,
	// so the absolute figures are pessimistic; the comparison is what counts.
	if wer["flite"] > wer["espeak-ng"] {
		t.Errorf("flite (%.0f%%) is the default because it is clearer than espeak-ng (%.0f%%); it no longer is", 100*wer["flite"], 100*wer["espeak-ng"])
	}
}
