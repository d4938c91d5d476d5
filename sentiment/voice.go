package sentiment

import (
	"math"
	"time"
)

// VoiceLog keeps, per 20 ms frame of one side, what the acoustic cues of
// its utterances need: its level while it talks and whether the other side
// talked. It grows with the call (5 bytes a frame).
type VoiceLog struct {
	level      []float32 // dBFS while talking, NaN otherwise
	otherTalks []bool
}

// Add records one frame.
func (v *VoiceLog) Add(talking bool, levelDBFS float64, other bool) {
	l := float32(math.NaN())
	if talking {
		l = float32(levelDBFS)
	}
	v.level = append(v.level, l)
	v.otherTalks = append(v.otherTalks, other)
}

// Cues for the utterance from start to end: how much louder than the
// side's talk before it, and whether the other side was talking as it began.
func (v *VoiceLog) Cues(start, end time.Duration) Cues {
	from, to := int(start/(20*time.Millisecond)), int(end/(20*time.Millisecond))
	from, to = min(max(from, 0), len(v.level)), min(max(to, 0), len(v.level))
	mean := func(ls []float32) (float64, int) {
		sum, n := 0.0, 0
		for _, l := range ls {
			if !math.IsNaN(float64(l)) {
				sum += float64(l)
				n++
			}
		}
		return sum / float64(max(n, 1)), n
	}
	var c Cues
	if now, n := mean(v.level[from:to]); n > 0 {
		if before, m := mean(v.level[:from]); m >= 50 { // a second of earlier talk to compare with
			c.LoudnessDB = now - before
		}
	}
	// The utterance starts with the pre-roll: look a little in.
	if at := min(from+10, len(v.otherTalks)-1); at >= 0 {
		c.Interrupting = v.otherTalks[at]
	}
	return c
}
