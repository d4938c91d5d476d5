// Package registry keeps every controller's live calls in Redis, so that any
// controller, the supervisor CLI and dashboards can find a call, see who owns
// it and who monitors it, and notice when its owner has died.
//
// # Keys
//
//   - callcoach:registry:call:<id>  a call's Record as JSON, with an expiry
//     (Options.RecordTTL) the owner keeps pushing back while the call lives.
//   - callcoach:registry:calls      ZSET of call ids scored by their record's
//     expiry (unix ms): the index a listing reads; expired members are pruned
//     by whoever lists.
//   - callcoach:registry:controller:<id>  the owner's heartbeat (Controller
//     JSON), expiring after three missed beats: present means alive.
//   - callcoach:registry:controllers  HASH id → Controller JSON, never
//     expiring: when each controller was last seen.
//
// A call whose owner's heartbeat is gone, or was written by another run of
// the owner (a restart), is orphaned: FreeSWITCH may still carry it, but no
// controller follows it. Orphans stay listed until their record expires.
package registry

import (
	"errors"
	"fmt"
	"time"
)

// Key prefixes; see the package comment.
const (
	IndexKey       = "callcoach:registry:calls"
	ControllersKey = "callcoach:registry:controllers"
)

// CallKey holds one call's record.
func CallKey(id string) string { return "callcoach:registry:call:" + id }

// HeartbeatKey is present while the controller is alive.
func HeartbeatKey(controller string) string { return "callcoach:registry:controller:" + controller }

// Errors of lookups.
var (
	ErrUnknownCall = errors.New("registry: unknown call")
	ErrAmbiguous   = errors.New("registry: call id prefix matches several calls")
)

// Record is one live call as its owner last described it.
type Record struct {
	V        int    `json:"v"`
	ID       string `json:"id"`
	Owner    string `json:"owner"`    // controller id
	Instance string `json:"instance"` // which run of the owner wrote it
	Channel  string `json:"channel"`  // the caller's channel uuid in FreeSWITCH
	Caller   string `json:"caller"`
	Callee   string `json:"callee"` // the agent's number
	// Group is the agent's supervision group: who may monitor this call.
	Group      string    `json:"group,omitempty"`
	State      string    `json:"state"`
	Conference string    `json:"conference"`
	CoachMode  string    `json:"coach_mode,omitempty"`
	Started    time.Time `json:"started"`
	Monitors   []Monitor `json:"monitors,omitempty"`
	Live       *Live     `json:"live,omitempty"`
	// Refreshed is when the owner last wrote the record.
	Refreshed time.Time `json:"refreshed"`

	// Set by readers, not stored.
	Orphaned bool `json:"orphaned,omitempty"`
	// OwnerLastSeen is the owner's last heartbeat, for orphans.
	OwnerLastSeen time.Time `json:"owner_last_seen,omitzero"`
}

// Monitor is a supervisor on the call.
type Monitor struct {
	Name     string    `json:"name"`
	MemberID int       `json:"member_id"`
	Mode     string    `json:"mode"`
	Since    time.Time `json:"since"` // in this mode since
}

// Live is what the analysis says about the call so far.
type Live struct {
	// AgentTalkShare is the agent's share of the talking, 0..1.
	AgentTalkShare float64 `json:"agent_talk_share"`
	Overtalk       float64 `json:"overtalk_s"`
	CoachLines     int     `json:"coach_lines"`
	// Sentiment per side ("customer", "agent"), when speech to text is on.
	Sentiment map[string]Mood `json:"sentiment,omitempty"`
}

// Mood is one side's sentiment trend.
type Mood struct {
	Value     float64 `json:"value"`     // -1..1
	Direction string  `json:"direction"` // rising, falling or steady
}

// Controller is a controller's heartbeat.
type Controller struct {
	ID       string    `json:"id"`
	Instance string    `json:"instance"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Seen     time.Time `json:"seen"`
	Calls    int       `json:"calls"`
}

// RecordVersion is Record's schema version.
const RecordVersion = 1

func validID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("registry: bad call id %q", id)
	}
	for _, r := range id {
		if r <= ' ' || r == '*' || r == '?' || r == '[' || r == ']' || r == '\\' {
			return fmt.Errorf("registry: bad call id %q", id)
		}
	}
	return nil
}
