// Package streaming is the analyzer's websocket server for FreeSWITCH's
// mod_audio_fork (drachtio, subprotocol "audio.drachtio.org").
//
// The controller owns a Registry and mounts it as an http.Handler (at
// Options.PathPrefix, default "/fork/"). Before it runs
//
//	uuid_audio_fork <uuid> start <url> stereo 16k <compact-json-metadata>
//
// it calls Registry.Expect(callID, token) (token from NewToken) and builds
// <url> with ForkURL. Only that call's fork, presenting that token in
// `?token=` or as the HTTP basic-auth password (MOD_AUDIO_BASIC_AUTH_USERNAME
// = call ID, MOD_AUDIO_BASIC_AUTH_PASSWORD = token), and asking for the
// subprotocol, is upgraded; otherwise 404 (unknown call), 401 (bad token),
// 400 (no subprotocol) or 409 (already connected), with no upgrade. A call ID
// can be expected again once its session is over: mod_audio_fork never
// reconnects, so a restarted fork is a new `start` and a new Expect.
//
// http.Server.Shutdown does not close hijacked connections: close the
// Registry (or each Session) on shutdown.
//
// mod_audio_fork sends one text frame with the metadata, then binary frames of
// 16-bit little-endian PCM every 20 ms: 1280 bytes stereo 16k (channel 0 = the
// leg's received audio, i.e. the customer on the caller's leg; channel 1 =
// what the leg hears, i.e. the agent side), 640 bytes mono 16k, 320 bytes mono
// 8k. Stereo 8k is also 640 bytes, so a fork must be started at 16k unless its
// metadata says otherwise (see Metadata).
//
// One connection is read by the http handler's own goroutine, which never
// blocks on the consumer: frames go through a bounded queue and are dropped
// (and counted) when the consumer falls behind. Frame buffers are recycled;
// a consumer calls Frame.Release when done with one.
//
// Session.PlayAudio sends mod_audio_fork's playAudio message, always with
// audioContentType "raw" and a sample rate of 8000 or 16000: FreeSWITCH's
// module crashes on a playAudio without audioContentType, and other raw rates
// do not play back correctly. mod_audio_fork only writes the audio to a file
// and fires mod_audio_fork::play_audio; the controller plays that file.
//
// Pipeline ties a session to the analysis and coaching packages: one goroutine
// per call feeds every frame to an analysis.Analyzer (a frame lost to the
// queue is stood in for by repeating the last levels, so media time stays
// right), runs a coaching.Coach over each snapshot and offers its lines on
// Suggestions(), one at a time: the controller speaks the line (TTS →
// Session.PlayAudio → play the file named by mod_audio_fork::play_audio to
// the agent member) and then calls Pipeline.Finished.
package streaming
