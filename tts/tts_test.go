package tts

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const line = "The customer sounds frustrated. Acknowledge the delay and offer the refund option."

// engines returns the real synthesisers; a missing one fails the test.
func engines(t testing.TB) map[string]Engine {
	t.Helper()
	f, err := NewFlite("")
	if err != nil {
		t.Fatalf("%v (install it with ./scripts/setup)", err)
	}
	e, err := NewESpeak("")
	if err != nil {
		t.Fatalf("%v (install it with ./scripts/setup)", err)
	}
	return map[string]Engine{"flite": f, "espeak-ng": e}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// bandFraction is the share of the signal's energy between lo and hi Hz,
// from Hann-windowed 256-point DFTs.
func bandFraction(s []int16, rate int, lo, hi float64) float64 {
	const n = 256
	var in, total float64
	for start := 0; start+n <= len(s); start += n / 2 {
		for k := 1; k < n/2; k++ {
			var re, im float64
			for i := 0; i < n; i++ {
				w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/n)
				x := w * float64(s[start+i])
				a := 2 * math.Pi * float64(k*i) / n
				re += x * math.Cos(a)
				im -= x * math.Sin(a)
			}
			p := re*re + im*im
			f := float64(k) * float64(rate) / n
			total += p
			if f >= lo && f <= hi {
				in += p
			}
		}
	}
	return in / total
}

func TestEnginesProduceTelephoneSpeech(t *testing.T) {
	words := len(strings.Fields(line))
	for name, eng := range engines(t) {
		t.Run(name, func(t *testing.T) {
			sp, err := eng.Synthesize(testCtx(t), line)
			if err != nil {
				t.Fatal(err)
			}
			if sp.Rate != 8000 {
				t.Fatalf("rate %d, want 8000", sp.Rate)
			}
			// Conversational speech runs 2-4 words a second; engines a bit faster or slower.
			d := sp.Duration()
			perWord := d / time.Duration(words)
			if perWord < 150*time.Millisecond || perWord > 700*time.Millisecond {
				t.Fatalf("%d words in %v (%v a word): implausible", words, d, perWord)
			}
			var peak int
			for _, v := range sp.Samples {
				peak = max(peak, int(math.Abs(float64(v))))
			}
			if peak < 3000 {
				t.Fatalf("peak %d: nearly silent", peak)
			}
			// The ends are trimmed: speech starts within 100 ms.
			lead := 0
			for lead < len(sp.Samples) && math.Abs(float64(sp.Samples[lead])) <= 160 {
				lead++
			}
			if lead > Rate/10 {
				t.Errorf("%d ms of leading silence", lead*1000/Rate)
			}
			if frac := bandFraction(sp.Samples, sp.Rate, 300, 3400); frac < 0.7 {
				t.Errorf("%.0f%% of the energy in 300-3400 Hz, want most of it", 100*frac)
			} else {
				t.Logf("%v, %.0f%% of the energy in 300-3400 Hz", d, 100*frac)
			}
		})
	}
}

func TestAutoPrefersFlite(t *testing.T) {
	eng, err := Auto()
	if err != nil {
		t.Fatalf("%v", err)
	}
	if _, ok := eng.(*Flite); !ok {
		t.Fatalf("Auto picked %T with flite installed", eng)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := Auto(); !errors.Is(err, ErrNoEngine) || !strings.Contains(err.Error(), "scripts/setup") {
		t.Fatalf("Auto with nothing installed: %v", err)
	}
}

func TestBadText(t *testing.T) {
	tests := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", ErrEmptyText},
		{"blank", " \t\n ", ErrEmptyText},
		{"too long", strings.Repeat("word ", MaxTextBytes), ErrTextTooLong},
	}
	for name, eng := range engines(t) {
		for _, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				if _, err := eng.Synthesize(testCtx(t), tt.text); !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
			})
		}
	}
	// Text that looks like an option is spoken, not obeyed.
	for name, eng := range engines(t) {
		t.Run(name+"/dash", func(t *testing.T) {
			if sp, err := eng.Synthesize(testCtx(t), "--help me please"); err != nil || sp.Duration() < 300*time.Millisecond {
				t.Fatalf("got %v, %v", sp, err)
			}
		})
	}
}

func TestCancelKillsProcess(t *testing.T) {
	long := strings.Repeat("This sentence keeps the synthesiser busy for a while. ", 70)
	f, err := NewFlite("")
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	e, err := NewESpeak("")
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	hooks := map[string]struct {
		eng  Engine
		hook *func(*exec.Cmd)
	}{"flite": {f, &f.started}, "espeak-ng": {e, &e.started}}
	for name, h := range hooks {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var cmd *exec.Cmd
			*h.hook = func(c *exec.Cmd) { cmd = c; cancel() }
			defer func() { *h.hook = nil }()

			start := time.Now()
			_, err := h.eng.Synthesize(ctx, long)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("returned %v after cancel", d)
			}
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("process state %v: not killed", cmd.ProcessState)
			}
		})
	}
}

// countingEngine counts calls to the real engine behind it.
type countingEngine struct {
	Engine
	calls atomic.Int64
}

func (c *countingEngine) Synthesize(ctx context.Context, text string) (*Speech, error) {
	c.calls.Add(1)
	return c.Engine.Synthesize(ctx, text)
}

func TestCacheAvoidsSecondSynthesis(t *testing.T) {
	f, err := NewFlite("")
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	inner := &countingEngine{Engine: f}
	c := NewCached(inner, 1<<20)
	ctx := testCtx(t)

	first, err := c.Synthesize(ctx, line)
	if err != nil {
		t.Fatal(err)
	}
	first.Samples[0] = 12345 // callers own what they get
	second, err := c.Synthesize(ctx, "  "+strings.ReplaceAll(line, " ", "  ")+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("engine ran %d times for one line", n)
	}
	if second.Samples[0] == 12345 || len(second.Samples) != len(first.Samples) {
		t.Fatal("cache returned a shared or different speech")
	}

	// Concurrent requests for a new line share one synthesis.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Synthesize(ctx, "Offer the callback option."); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := inner.calls.Load(); n != 2 {
		t.Fatalf("engine ran %d times, want 2", n)
	}
	if s := c.Stats(); s.Misses != 2 || s.Hits+s.Misses != 10 || s.Entries != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	f, err := NewFlite("")
	if err != nil {
		t.Fatalf("%v (run ./scripts/setup)", err)
	}
	inner := &countingEngine{Engine: f}
	ctx := testCtx(t)
	one, err := f.Synthesize(ctx, "one")
	if err != nil {
		t.Fatal(err)
	}
	// Room for about two short words.
	c := NewCached(inner, 2*2*len(one.Samples)+2*len(one.Samples)/2)
	for _, w := range []string{"one", "two", "one", "three", "one", "two"} {
		if _, err := c.Synthesize(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	// one, two (miss), one (hit), three (miss, evicts two), one (hit), two (miss).
	if s := c.Stats(); s.Misses != 4 || s.Hits != 2 || s.Bytes > c.maxBytes {
		t.Fatalf("stats %+v, max %d", s, c.maxBytes)
	}
}

func TestWAVRoundTrip(t *testing.T) {
	sp := &Speech{Samples: []int16{0, 1000, -1000, math.MaxInt16, math.MinInt16}, Rate: Rate}
	path := filepath.Join(t.TempDir(), "line.wav")
	if err := sp.WriteWAVFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 44+2*len(sp.Samples) {
		t.Fatalf("file is %d bytes", len(b))
	}
	got, rate, err := parseWAV(b)
	if err != nil || rate != Rate || !equal(got, sp.Samples) {
		t.Fatalf("parsed %v at %d (%v)", got, rate, err)
	}
	if !bytes.Equal(b[44:], sp.PCM()) {
		t.Fatal("PCM differs from the WAV's data")
	}
	// espeak-ng's placeholder size (0x7ffff000) must not matter.
	b[40], b[41], b[42], b[43] = 0x00, 0xf0, 0xff, 0x7f
	if got, _, err := parseWAV(b); err != nil || !equal(got, sp.Samples) {
		t.Fatalf("placeholder size: %v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF....WAVEjunk"), b[:36]} {
		if _, _, err := parseWAV(bad); !errors.Is(err, ErrBadWAV) {
			t.Errorf("parseWAV(%q...) = %v, want ErrBadWAV", bad[:min(len(bad), 8)], err)
		}
	}
}

func TestResample(t *testing.T) {
	tone := func(freq float64, rate, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(10000 * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
		}
		return s
	}
	rms := func(s []int16) float64 {
		var sum float64
		for _, v := range s[len(s)/4 : 3*len(s)/4] { // skip the filter's edges
			sum += float64(v) * float64(v)
		}
		return math.Sqrt(sum / float64(len(s)/2))
	}
	tests := []struct {
		from    int
		freq    float64
		wantRMS float64 // 10000/sqrt(2) passes; above the band is removed
	}{
		{22050, 1000, 7071},
		{16000, 1000, 7071},
		{22050, 3000, 7071},
		{16000, 5000, 0}, // would alias to 3 kHz without the filter
		{22050, 6000, 0},
	}
	for _, tt := range tests {
		out := resample(tone(tt.freq, tt.from, tt.from), tt.from, Rate)
		if len(out) != Rate {
			t.Errorf("%d->8000: %d samples from one second", tt.from, len(out))
			continue
		}
		if got := rms(out); math.Abs(got-tt.wantRMS) > 300 {
			t.Errorf("%d Hz at %d -> 8000: RMS %.0f, want %.0f", int(tt.freq), tt.from, got, tt.wantRMS)
		}
	}
}

func equal(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func BenchmarkSynthesize(b *testing.B) {
	for name, eng := range engines(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				if _, err := eng.Synthesize(ctx, line); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/cached", func(b *testing.B) {
			ctx := context.Background()
			c := NewCached(eng, 1<<20)
			if _, err := c.Synthesize(ctx, line); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := c.Synthesize(ctx, line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
