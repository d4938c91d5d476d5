package supervision

import (
	"math"

	"github.com/callcoach/callcoach/access"
	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/callflow"
	"github.com/callcoach/callcoach/registry"
)

// Registrar keeps this controller's calls in the registry
// (callflow.Observer): every change is put, the end removes the call.
type Registrar struct {
	Owner *registry.Owner
	// Directory resolves a call's group when the dialplan did not set it.
	Directory func() *access.Directory
}

// CallChanged puts the call's record.
func (r Registrar) CallChanged(in callflow.Info) { r.Owner.Put(r.Record(in)) }

// CallEnded removes the call — unless it was released: it goes on in
// FreeSWITCH unmonitored, so it stays listed (as RELEASED, and orphaned once
// this controller is gone) until its record expires.
func (r Registrar) CallEnded(in callflow.Info, _ string) {
	if !in.Released {
		r.Owner.Remove(in.ID)
		return
	}
	rec := r.Record(in)
	rec.State, rec.Monitors = Released, nil
	r.Owner.Release(rec)
}

// Released is the registry state of a call let go by its controller.
const Released = "RELEASED"

// MonitorDigit is not the registry's business.
func (Registrar) MonitorDigit(string, callflow.MonitorInfo, string) {}

// Record describes a call for the registry.
func (r Registrar) Record(in callflow.Info) registry.Record {
	var dir *access.Directory
	if r.Directory != nil {
		dir = r.Directory()
	}
	rec := registry.Record{ID: in.ID, Channel: in.ChannelUUID, Caller: in.Caller, Callee: in.Callee,
		Group: dir.GroupOf(in.Callee, in.Group), State: string(in.State), Conference: in.Conference,
		CoachMode: string(in.CoachMode), Started: in.Started}
	for _, m := range in.Monitors {
		rec.Monitors = append(rec.Monitors, registry.Monitor{Name: m.Name, MemberID: m.MemberID, Mode: string(m.Mode), Since: m.Since})
	}
	if a := in.Analysis; a != nil {
		live := &registry.Live{AgentTalkShare: round(a.AgentShare, 3), Overtalk: round(a.OvertalkTotal.Seconds(), 1), CoachLines: in.CoachLines}
		for side, m := range in.Moods {
			if !m.Known {
				continue
			}
			dirn := "steady"
			if m.Falling {
				dirn = "falling"
			} else if m.Rising {
				dirn = "rising"
			}
			if live.Sentiment == nil {
				live.Sentiment = map[string]registry.Mood{}
			}
			live.Sentiment[analysis.Side(side).String()] = registry.Mood{Value: round(m.Value, 2), Direction: dirn}
		}
		rec.Live = live
	}
	return rec
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// Observers hands each event to every observer in turn.
type Observers []callflow.Observer

// CallChanged implements callflow.Observer.
func (o Observers) CallChanged(in callflow.Info) {
	for _, x := range o {
		x.CallChanged(in)
	}
}

// CallEnded implements callflow.Observer.
func (o Observers) CallEnded(in callflow.Info, reason string) {
	for _, x := range o {
		x.CallEnded(in, reason)
	}
}

// MonitorDigit implements callflow.Observer.
func (o Observers) MonitorDigit(callID string, m callflow.MonitorInfo, digit string) {
	for _, x := range o {
		x.MonitorDigit(callID, m, digit)
	}
}
