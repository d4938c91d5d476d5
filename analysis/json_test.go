package analysis

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSnapshotJSON(t *testing.T) {
	var s Snapshot
	s.Elapsed = 12345 * time.Millisecond
	s.Sides[Customer] = SideStats{Talking: true, TalkTime: 4 * time.Second, Turns: 3, Interruptions: 1, OvertalkTime: 2200 * time.Millisecond, LevelDBFS: -20}
	s.Sides[Agent] = SideStats{TalkTime: 6 * time.Second, Turns: 2, LevelDBFS: SilenceDBFS}
	s.AgentShare = 0.6
	s.OvertalkTotal = 2200 * time.Millisecond
	s.LongestSilence = 3 * time.Second

	tests := []struct {
		name     string
		overtalk Overtalk
		want     map[string]any
	}{
		{"no overtalk now", Overtalk{}, map[string]any{
			"elapsed_ms": 12345.0, "agent_share": 0.6, "overtalk_ms": 2200.0, "longest_silence_ms": 3000.0,
			"customer.talk_ms": 4000.0, "customer.talking": true, "customer.interruptions": 1.0, "customer.overtalk_started_ms": 2200.0,
			"agent.talk_ms": 6000.0, "agent.level_dbfs": SilenceDBFS, "overtalk_now": nil,
		}},
		{"customer talking over", Overtalk{Active: true, By: Customer, Duration: 1500 * time.Millisecond}, map[string]any{
			"overtalk_now.by": "customer", "overtalk_now.ms": 1500.0,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Overtalk = tt.overtalk
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			for key, want := range tt.want {
				if v := lookup(got, key); v != want {
					t.Errorf("%s = %v, want %v\n%s", key, v, want, b)
				}
			}
		})
	}
}

func lookup(m map[string]any, key string) any {
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			sub, _ := m[key[:i]].(map[string]any)
			return lookup(sub, key[i+1:])
		}
	}
	return m[key]
}
