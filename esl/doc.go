// Package esl speaks FreeSWITCH's event socket: an outbound server that the
// dialplan's `socket host:port async full` application connects to (one
// connection per call), and an inbound client for api/bgapi and
// conference-wide events.
//
// The connection core is ours; github.com/percipia/eslgo is used for the
// command builders only (package eslgo/command). eslgo v1.5.2's own
// connection cannot be trusted on a production call:
//
//   - its receive loop stops silently on the first read error other than EOF
//     and leaves the socket open, so a malformed frame freezes the call;
//   - it drops a reply or an event that a consumer has not taken within 5 s;
//   - a command whose context expires leaves its reply to be read by the next
//     command, so replies go to the wrong caller under concurrency;
//   - each event goes to its own goroutine, so a call sees events out of order;
//   - textproto canonicalises header names (variable_DP_MATCH becomes
//     Variable_dp_match) and rejects names with '(' or '@', failing the whole
//     event or `connect` reply;
//   - its listener has no Close and no peer filter, and it cannot be handed a
//     net.Conn of ours.
//
// Here one reader goroutine per connection parses frames with size limits and
// a mid-frame stall timeout, pairs every reply with its command in FIFO order
// (a command that gave up keeps its slot, so its late reply is discarded, not
// handed to the next command), and delivers events in wire order — which is
// FreeSWITCH's Event-Sequence order — to per-subscriber unbounded queues, so a
// slow subscriber never blocks the reader or another subscriber.
package esl
