package sentiment

import (
	"math"
	"testing"
	"time"
)

func TestVoiceLogCues(t *testing.T) {
	var v VoiceLog
	frame := func(n int, talking bool, db float64, other bool) {
		for range n {
			v.Add(talking, db, other)
		}
	}
	frame(100, true, -30, false) // 2 s at the usual level
	frame(50, false, 0, false)   // 1 s of quiet
	frame(50, true, -18, true)   // 1 s, 12 dB louder, over the other side
	c := v.Cues(3*time.Second, 4*time.Second)
	if math.Abs(c.LoudnessDB-12) > 0.01 || !c.Interrupting {
		t.Errorf("loud interruption: %+v", c)
	}
	if c := v.Cues(0, 2*time.Second); c.LoudnessDB != 0 || c.Interrupting {
		t.Errorf("the first utterance has nothing to compare with: %+v", c)
	}
	if c := v.Cues(10*time.Second, 20*time.Second); c != (Cues{}) && c.LoudnessDB != 0 {
		t.Errorf("beyond the log: %+v", c)
	}
}
