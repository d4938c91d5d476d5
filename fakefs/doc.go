// Package fakefs is an in-process fake FreeSWITCH for tests and the demo, in
// the spirit of net/http/httptest.
//
// It speaks the event-socket wire format itself (it must not import the
// project's esl package, so that esl's tests against it are not a parser
// testing itself) and reproduces what FACTS.md (embedded in internal/capture) and the
// captures describe: inbound ESL (auth, event subscriptions, api, bgapi with
// BACKGROUND_JOB), channels created by originate against registered
// endpoints, calls that reach a controller through an outbound socket
// (`socket addr async full`), the event-locked application queue, linger and
// disconnect notices, mod_conference's api and conference::maintenance events,
// and uuid_audio_fork. Events are rendered with the same header set and order
// as the captures; capture_test.go replays every esl-*.txt capture against the
// fake and compares.
//
// Audio goes through a small mediaEngine interface (media.go) implemented by
// fakefs/mixer.
//
// Everything the fake runs is owned by the *FS: Close stops accepting, ends
// every connection and channel and waits for all goroutines.
package fakefs
