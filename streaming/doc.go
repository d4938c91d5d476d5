// Package streaming is the analyzer's websocket server for FreeSWITCH's
// mod_audio_fork (drachtio, subprotocol "audio.drachtio.org").
//
// The controller owns a Registry and mounts it as an http.Handler. Before it
// runs `uuid_audio_fork <uuid> start <url> stereo 16k <metadata>` it calls
// Registry.Expect(callID, token) and builds the URL with ForkURL; only that
// call's fork, presenting that token (in `?token=` or as the HTTP basic-auth
// password set through MOD_AUDIO_BASIC_AUTH_USERNAME/PASSWORD, username = call
// ID), is upgraded. Anything else is answered 404 (unknown call) or 401 (bad
// token) without an upgrade.
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
// per call feeds every frame to an analysis.Analyzer, runs a coaching.Coach over
// its snapshots and offers the coach's suggestions on a channel.
package streaming
