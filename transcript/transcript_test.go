package transcript

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/stttest"
)

func feed(f *Follower, frames int, talking [2]bool) {
	pcm := make([]int16, 640)
	for range frames {
		f.Frame(pcm, talking)
	}
}

func TestFollowerReportsUtterancesAndFindings(t *testing.T) {
	pool := stt.NewPool(stttest.NewScript("I want to cancel my account", "this call may be recorded"), 2)
	defer pool.Close()
	cfg := Config{Pool: pool, Phrases: phrases.Default()}
	cfg.Phrases.Compliance.Required[0].Within = 5e9 // 5 s, so the test need not run a minute of audio
	f := Start(cfg, nil)
	feed(f, 50, [2]bool{false, true})   // the agent speaks for 1 s
	feed(f, 50, [2]bool{true, false})   // then the customer
	feed(f, 300, [2]bool{false, false}) // then 6 s of silence
	f.Close()

	var got []string
	for ev := range f.Events() {
		if u := ev.Utterance; u != nil {
			got = append(got, fmt.Sprintf("%s %q mood<0:%v", u.Side, u.Text, u.Sentiment < 0))
			// 1 s of talk; the customer's utterance also has the 200 ms pre-roll
			// (the agent spoke first, with no audio before it).
			span := map[string]time.Duration{"agent": time.Second, "customer": 1200 * time.Millisecond}[u.Side.String()]
			if want := float64(len(strings.Fields(u.Text))) / span.Minutes(); u.WordsPerMinute < want-1 || u.WordsPerMinute > want+1 {
				t.Errorf("%s: %.0f words per minute, want %.0f", u.Side, u.WordsPerMinute, want)
			}
		}
		found := ev.Found
		if ev.Utterance != nil {
			found = ev.Utterance.Found
		}
		for _, fd := range found {
			got = append(got, fd.Kind+" "+fd.Name)
		}
	}
	sort.Strings(got)
	want := []string{
		"agent \"this call may be recorded\" mood<0:false",
		"customer \"I want to cancel my account\" mood<0:true",
		"disclosed recording-disclosure",
		"topic cancellation", // "my account" is none of the account topic's phrases
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d recognisers not returned", n)
	}
}

func TestFollowerReportsAMissingDisclosure(t *testing.T) {
	pool := stt.NewPool(stttest.NewScript("hello", "hello"), 2)
	defer pool.Close()
	cfg := Config{Pool: pool, Phrases: phrases.Default()}
	cfg.Phrases.Compliance.Required[0].Within = 2e9
	f := Start(cfg, nil)
	feed(f, 150, [2]bool{false, false})
	f.Close()
	var missing []string
	for ev := range f.Events() {
		for _, fd := range ev.Found {
			missing = append(missing, fd.Kind+" "+fd.Name)
		}
	}
	if fmt.Sprint(missing) != "[missing recording-disclosure]" {
		t.Errorf("got %v", missing)
	}
}

func TestFollowerWithoutCapacity(t *testing.T) {
	pool := stt.NewPool(stttest.NewScript("a", "b"), 2)
	defer pool.Close()
	busy := Start(Config{Pool: pool, Phrases: phrases.Default()}, nil)
	deadline := time.Now().Add(5 * time.Second)
	for pool.InUse() < 2 { // the first call takes both recognisers (no event to wait on)
		if time.Now().After(deadline) {
			t.Fatal("the first call never got its recognisers")
		}
		runtime.Gosched()
	}
	other := Start(Config{Pool: pool, Phrases: phrases.Default()}, nil)
	feed(other, 100, [2]bool{true, true})
	other.Close()
	if _, ok := <-other.Events(); ok {
		t.Error("a call without a recogniser reported something")
	}
	busy.Close()
	if n := pool.InUse(); n != 0 {
		t.Errorf("%d recognisers not returned", n)
	}
}
