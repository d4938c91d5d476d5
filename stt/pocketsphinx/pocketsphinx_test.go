package pocketsphinx

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callcoach/callcoach/fakefs/mixer"
	"github.com/callcoach/callcoach/stt"
)

// Read speech with transcripts, from Debian's pocketsphinx-testdata.
const librivox = "/usr/share/pocketsphinx/test/data/librivox"

type clip struct {
	pcm  []int16
	text string
}

func loadClips(t testing.TB) []clip {
	t.Helper()
	f, err := os.Open(filepath.Join(librivox, "transcription"))
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup: apt pocketsphinx-testdata)", err)
	}
	defer f.Close()
	line := regexp.MustCompile(`^<s> (.*) </s> \((\S+)\)$`)
	var clips []clip
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(librivox, m[2]+".wav"))
		if err != nil {
			t.Fatal(err)
		}
		pcm, rate, err := mixer.ParseWAV(b)
		if err != nil || rate != 16000 {
			t.Fatalf("%s: %v (rate %d)", m[2], err, rate)
		}
		clips = append(clips, clip{pcm: pcm, text: m[1]})
	}
	if len(clips) == 0 {
		t.Fatal("no clips")
	}
	return clips
}

// transcribe runs a clip through a Stream the way a call's side would go:
// 20 ms frames with a plain energy detector for speech.
func transcribe(rec stt.Recognizer, pcm []int16) (finals []stt.Result, partials int, err error) {
	s := stt.NewStream(rec, 16000, stt.StreamOptions{})
	const frame = 320
	feed := func(f []int16) {
		if err != nil {
			return
		}
		var rs []stt.Result
		rs, err = s.Feed(f, mixer.RMS(f) > 300)
		for _, r := range rs {
			if r.Final {
				finals = append(finals, r)
			} else {
				partials++
			}
		}
	}
	for i := 0; i+frame <= len(pcm); i += frame {
		feed(pcm[i : i+frame])
	}
	for range 50 { // a second of silence after the clip ends the utterance
		feed(make([]int16, frame))
	}
	return finals, partials, err
}

func TestRecognisesReadSpeech(t *testing.T) {
	e, err := NewEngine(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := e.NewRecognizer()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	var ref, hyp []string
	var audio, took time.Duration
	sawPartial := false
	for _, c := range loadClips(t) {
		start := time.Now()
		finals, partials, err := transcribe(rec, c.pcm)
		if err != nil {
			t.Fatal(err)
		}
		took += time.Since(start)
		audio += time.Duration(len(c.pcm)) * time.Second / 16000
		var text []string
		for _, f := range finals {
			if f.End <= f.Start {
				t.Errorf("result %q with times %v-%v", f.Text, f.Start, f.End)
			}
			text = append(text, f.Text)
		}
		sawPartial = sawPartial || partials > 0
		t.Logf("ref %q\nhyp %q (WER %.0f%%)", c.text, strings.Join(text, " "), 100*stt.WordErrorRate(c.text, strings.Join(text, " ")))
		ref, hyp = append(ref, c.text), append(hyp, text...)
	}
	wer := stt.WordErrorRate(strings.Join(ref, " "), strings.Join(hyp, " "))
	t.Logf("pocketsphinx on %d clips: WER %.1f%%, real-time factor %.2f", len(ref), 100*wer, took.Seconds()/audio.Seconds())
	if wer > 0.45 {
		t.Errorf("WER %.1f%% on clean read speech; pocketsphinx-en-us does about 31%%", 100*wer)
	}
	if !sawPartial {
		t.Error("no partial results while speaking")
	}
}

func TestNoModel(t *testing.T) {
	if _, err := NewEngine(Model{HMM: "/nonexistent", LM: "/x", Dict: "/y"}); err == nil || !strings.Contains(err.Error(), "scripts/setup") {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkRealTimeFactor: decoding time over audio time, one core.
//
//	go test -run XXX -bench RealTimeFactor -benchtime 3x ./stt/pocketsphinx/
func BenchmarkRealTimeFactor(b *testing.B) {
	e, err := NewEngine(DefaultModel)
	if err != nil {
		b.Fatal(err)
	}
	rec, err := e.NewRecognizer()
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	clips := loadClips(b)
	var audio time.Duration
	b.ResetTimer()
	for range b.N {
		for _, c := range clips {
			if _, _, err := transcribe(rec, c.pcm); err != nil {
				b.Fatal(err)
			}
			audio += time.Duration(len(c.pcm)) * time.Second / 16000
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/audio.Seconds(), "rtf")
}

// BenchmarkConcurrentStreams decodes the clips on several recognisers at
// once, as several sides of several calls would be: streams-in-real-time is
// how many such streams the machine keeps up with (audio per wall second).
//
//	go test -run XXX -bench ConcurrentStreams -benchtime 1x ./stt/pocketsphinx/
func BenchmarkConcurrentStreams(b *testing.B) {
	e, err := NewEngine(DefaultModel)
	if err != nil {
		b.Fatal(err)
	}
	clips := loadClips(b)
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("streams=%d", n), func(b *testing.B) {
			recs := make([]stt.Recognizer, n)
			for i := range recs {
				if recs[i], err = e.NewRecognizer(); err != nil {
					b.Fatal(err)
				}
				defer recs[i].Close()
			}
			var audio time.Duration
			for _, c := range clips {
				audio += time.Duration(len(c.pcm)) * time.Second / 16000
			}
			b.ResetTimer()
			for range b.N {
				var wg sync.WaitGroup
				errs := make(chan error, n)
				for _, r := range recs {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for _, c := range clips {
							if _, _, err := transcribe(r, c.pcm); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			}
			wall := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(n)*audio.Seconds()/wall, "streams-in-real-time")
		})
	}
}
