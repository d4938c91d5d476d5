package analysis

import (
	"encoding/json"
	"time"
)

// MarshalJSON is the analytics wire format published for dashboards
// (durations in milliseconds, sides by name). Keys may be added, never
// changed in meaning.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	type side struct {
		Talking          bool    `json:"talking"`
		TalkMS           int64   `json:"talk_ms"`
		Turns            int     `json:"turns"`
		LongestTurnMS    int64   `json:"longest_turn_ms"`
		LongestMonologue int64   `json:"longest_monologue_ms"`
		Interruptions    int     `json:"interruptions"`
		OvertalkMS       int64   `json:"overtalk_started_ms"`
		LevelDBFS        float64 `json:"level_dbfs"`
		RaisedVoiceMS    int64   `json:"raised_voice_ms"`
		RaisedTotalMS    int64   `json:"raised_total_ms"`
	}
	type overtalk struct {
		By string `json:"by"`
		MS int64  `json:"ms"`
	}
	type wire struct {
		ElapsedMS         int64     `json:"elapsed_ms"`
		Customer          side      `json:"customer"`
		Agent             side      `json:"agent"`
		BothSpoke         bool      `json:"both_spoke"`
		AgentShare        float64   `json:"agent_share"`
		OvertalkMS        int64     `json:"overtalk_ms"`
		LongestOvertalkMS int64     `json:"longest_overtalk_ms"`
		OvertalkNow       *overtalk `json:"overtalk_now,omitempty"`
		SilenceMS         int64     `json:"silence_ms"`
		LongestSilenceMS  int64     `json:"longest_silence_ms"`
		CurrentSilenceMS  int64     `json:"current_silence_ms"`
	}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	sd := func(x SideStats) side {
		return side{x.Talking, ms(x.TalkTime), x.Turns, ms(x.LongestTurn), ms(x.LongestMonologue), x.Interruptions, ms(x.OvertalkTime), x.LevelDBFS,
			ms(x.RaisedVoice), ms(x.RaisedTotal)}
	}
	w := wire{
		ElapsedMS: ms(s.Elapsed), Customer: sd(s.Sides[Customer]), Agent: sd(s.Sides[Agent]),
		BothSpoke: s.BothSpoke, AgentShare: s.AgentShare,
		OvertalkMS: ms(s.OvertalkTotal), LongestOvertalkMS: ms(s.LongestOvertalk),
		SilenceMS: ms(s.TotalSilence), LongestSilenceMS: ms(s.LongestSilence), CurrentSilenceMS: ms(s.CurrentSilence),
	}
	if s.Overtalk.Active {
		w.OvertalkNow = &overtalk{By: s.Overtalk.By.String(), MS: ms(s.Overtalk.Duration)}
	}
	return json.Marshal(w)
}
