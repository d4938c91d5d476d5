package sentiment

import (
	"testing"
	"time"
)

func TestUtteranceScores(t *testing.T) {
	var a Analyzer
	tests := []struct {
		text string
		cues Cues
		want string // "+", "-" or "0"
	}{
		{"thank you so much, that is great, it is fixed now", Cues{}, "+"},
		{"this is ridiculous, I want to cancel, nobody ever calls me back", Cues{}, "-"},
		{"my account number is four five six", Cues{}, "0"},
		{"I want to file a complaint about the outage", Cues{}, "-"},
		// The words are neutral; a raised voice cutting in is not.
		{"my account number is four five six", Cues{LoudnessDB: 12, Interrupting: true}, "-"},
	}
	for _, tt := range tests {
		s := a.Utterance(tt.text, tt.cues)
		got := "0"
		switch {
		case s > 0.2:
			got = "+"
		case s < -0.2:
			got = "-"
		}
		if got != tt.want || s < -1 || s > 1 {
			t.Errorf("%q %+v: %.2f, want %s", tt.text, tt.cues, s, tt.want)
		}
	}
}

func TestTrend(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64 // one every 5 s
		want   Direction
	}{
		{"nothing said", nil, Steady},
		{"calm all along", []float64{0.1, 0, 0.1, 0, 0.1, 0}, Steady},
		{"getting angry", []float64{0.3, 0.2, 0, -0.4, -0.6, -0.7, -0.8}, Falling},
		{"calmed down", []float64{-0.8, -0.7, -0.3, 0.2, 0.5, 0.6, 0.7}, Rising},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr Trend
			for i, s := range tt.scores {
				tr.Add(time.Duration(i)*5*time.Second, s)
			}
			if got := tr.Direction(); got != tt.want {
				t.Errorf("direction %s (value %.2f), want %s", got, tr.Value(), tt.want)
			}
		})
	}
}

func BenchmarkUtterance(b *testing.B) {
	var a Analyzer
	a.load()
	b.ResetTimer()
	for range b.N {
		a.Utterance("I already gave all of that twice and nobody ever calls me back", Cues{})
	}
}
