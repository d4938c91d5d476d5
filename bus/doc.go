// Package bus publishes what happens on calls to Redis, for dashboards, the
// supervisor CLI and analytics consumers.
//
// # Schema (version 1)
//
// Every message is one JSON object, an Event:
//
//	{"v":1, "type":"call.state", "call_id":"…", "seq":42,
//	 "at":"2025-01-02T15:04:05.123Z", "controller":"ctl-a", "data":{…}}
//
// Its fields:
//
//   - v: schema version; a consumer ignores messages whose v it does not know.
//   - type: "call.state" (data: StateData), "call.mode" (data: ModeData),
//     "coach.line" (data: CoachLineData), "call.speech" (data: SpeechData, when
//     speech to text is on), "call.alert" (data: AlertData) or "analytics" (data: a JSON object
//     owned by the analysis package; its keys may grow, never change meaning).
//   - seq: increases with every event one controller publishes, so a consumer
//     can order a call's events and spot duplicates (delivery is at least once
//     after an outage).
//   - at: when the controller published the event (UTC, millisecond precision).
//
// # Keys
//
//   - PUBLISH callcoach:events: every event of every call.
//   - PUBLISH callcoach:call:<id>:events: the events of one call.
//   - XADD callcoach:call:<id>:analytics MAXLEN ~ N: analytics events, field
//     "event" = the JSON above, so a consumer that was down can catch up (pub/sub
//     loses what is published while nobody listens).
//   - SET callcoach:call:<id>:summary <Summary JSON> EX ttl when the call reaches
//     CLOSED.
//
// # Failure model
//
// Redis going away must never block or crash a call. Publisher.Publish only
// enqueues into a bounded queue; one writer goroutine writes to Redis in
// batches, retries with exponential backoff while Redis is unreachable, logs
// once when an outage starts and once when it ends, and drops (and counts) new
// events while the queue is full. Close flushes what is queued, bounded by its
// context.
package bus
