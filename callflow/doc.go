// Package callflow runs each call FreeSWITCH hands to the controller:
// PENDING → answer → ANSWERED → greeting → caller and agent in conference
// cc-<call-id> → CONNECTED → audio fork and coaching → CLOSED, and the
// supervisors' monitor legs on top.
//
// One goroutine per call owns its state; everything it waits on — the call's
// own socket events, the conference's events from the shared inbound client,
// the agent's originate, the fork, coaching suggestions — arrives on channels
// it selects over, so a hangup is noticed at any step and leaves nothing
// behind: the agent leg is killed by the origination_uuid chosen before it
// was dialled, the fork is stopped, the pipeline closed, CLOSED published.
//
// Calls are controlled with api/bgapi on the inbound connection, never with
// queued sendmsg once the caller is in the conference: a sendmsg waits behind
// the event-locked `conference` application (FACTS, esl-outbound4).
package callflow
