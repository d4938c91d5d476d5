package stt

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// scripted is a Recognizer that "recognises" how many samples it was given.
type scripted struct {
	log     []string
	samples int
	utts    int
}

func (r *scripted) StartUtterance() error {
	r.utts++
	r.samples = 0
	r.log = append(r.log, "start")
	return nil
}
func (r *scripted) Process(pcm []int16) error { r.samples += len(pcm); return nil }
func (r *scripted) Hypothesis() string        { return fmt.Sprintf("u%d:%d", r.utts, r.samples) }
func (r *scripted) EndUtterance() (string, error) {
	r.log = append(r.log, "end")
	return fmt.Sprintf("u%d:%d", r.utts, r.samples), nil
}
func (r *scripted) Close() error { r.log = append(r.log, "close"); return nil }

const rate = 1000 // 20 samples per 20 ms frame keeps the arithmetic readable

func TestStreamEndpointing(t *testing.T) {
	tests := []struct {
		name    string
		pattern string // one character per 20 ms frame: S speech, . silence
		opts    StreamOptions
		want    []string
	}{
		{"silence only", "..........", StreamOptions{}, nil},
		{"one utterance with pre-roll and end after 600 ms of silence",
			".........." + "SSSSS" + strings.Repeat(".", 30), StreamOptions{},
			// 200 ms pre-roll + 100 ms speech + 600 ms silence = 900 samples
			[]string{"final u1:900 0s-300ms"}},
		{"a pause shorter than EndSilence does not split",
			"SSSSS" + strings.Repeat(".", 20) + "SSSSS" + strings.Repeat(".", 30), StreamOptions{PartialEvery: time.Hour},
			[]string{"final u1:1200 0s-600ms"}},
		{"partials while talking, only when changed",
			strings.Repeat("S", 60) + strings.Repeat(".", 30), StreamOptions{PartialEvery: 400 * time.Millisecond},
			[]string{"partial u1:400 0s-400ms", "partial u1:800 0s-800ms", "partial u1:1200 0s-1.2s", "final u1:1800 0s-1.2s"}},
		{"very long talk is cut at MaxUtterance",
			strings.Repeat("S", 30) + strings.Repeat(".", 30), StreamOptions{MaxUtterance: 400 * time.Millisecond, PartialEvery: time.Hour},
			[]string{"final u1:400 0s-400ms", "final u2:400 400ms-600ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &scripted{}
			if tt.opts.EndSilence == 0 {
				tt.opts.EndSilence = 600 * time.Millisecond // the arithmetic below
			}
			s := NewStream(rec, rate, tt.opts)
			var got []string
			for _, c := range tt.pattern {
				rs, err := s.Feed(make([]int16, 20), c == 'S')
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					kind := "partial"
					if r.Final {
						kind = "final"
					}
					got = append(got, fmt.Sprintf("%s %s %v-%v", kind, r.Text, r.Start, r.End))
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestStreamFlushAndClose(t *testing.T) {
	rec := &scripted{}
	s := NewStream(rec, rate, StreamOptions{PartialEvery: time.Hour})
	for range 10 {
		if _, err := s.Feed(make([]int16, 20), true); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Flush()
	if err != nil || len(rs) != 1 || !rs[0].Final || rs[0].Text != "u1:200" {
		t.Fatalf("flush: %+v %v", rs, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Feed(make([]int16, 20), true); err != ErrClosed {
		t.Fatalf("feed after close: %v", err)
	}
	if fmt.Sprint(rec.log) != "[start end close]" {
		t.Errorf("recogniser calls %v", rec.log)
	}
}

func TestWordErrorRate(t *testing.T) {
	tests := []struct {
		ref, hyp string
		want     float64
	}{
		{"he was not an ill disposed young man", "he was not an ill disposed young man", 0},
		{"he was not an ill disposed young man", "He was NOT an ill-disposed young man.", 0}, // case and punctuation
		{"he was not an ill disposed young man", "he was not a ill disposed man", 0.25},
		{"hello world", "", 1},
		{"hello world", "hello there world", 0.5},
		{"", "", 0},
		{"", "noise", 1},
	}
	for _, tt := range tests {
		if got := WordErrorRate(tt.ref, tt.hyp); got != tt.want {
			t.Errorf("WER(%q, %q) = %v, want %v", tt.ref, tt.hyp, got, tt.want)
		}
	}
}

type countingEngine struct{ made int }

func (e *countingEngine) Name() string    { return "counting" }
func (e *countingEngine) SampleRate() int { return rate }
func (e *countingEngine) NewRecognizer() (Recognizer, error) {
	e.made++
	return &scripted{}, nil
}

func TestPool(t *testing.T) {
	e := &countingEngine{}
	p := NewPool(e, 2)
	a, ok1, _ := p.Acquire()
	b, ok2, _ := p.Acquire()
	_, ok3, _ := p.Acquire()
	if !ok1 || !ok2 || ok3 || p.InUse() != 2 {
		t.Fatalf("acquire: %v %v %v, in use %d", ok1, ok2, ok3, p.InUse())
	}
	p.Release(a)
	c, ok, _ := p.Acquire()
	if !ok || c != a || e.made != 2 {
		t.Fatalf("a released recogniser is not reused (made %d)", e.made)
	}
	p.Release(b)
	p.Release(c)
	p.Close()
	if _, ok, _ := p.Acquire(); ok {
		t.Fatal("acquire after close")
	}
	if log := a.(*scripted).log; fmt.Sprint(log) != "[close]" {
		t.Errorf("idle recogniser not closed: %v", log)
	}
}
