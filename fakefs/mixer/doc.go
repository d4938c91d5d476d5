// Package mixer is the fake FreeSWITCH's media: 16 kHz, 16-bit mono PCM in
// 20 ms frames, driven by one clock for everything, so that who hears whom can
// be checked by spectrum.
//
// A Leg is one channel: its Source is what its party says (the leg's read
// side); what it hears (its write side) is a channel-level playback if one
// runs, else its conference's mix for it, else silence. A Conference mixes per
// mod_conference's rules (FACTS.md, captures/tonematrix.txt): member M hears
// member S when S may speak, M may hear, there is no `relate S M nospeak` and
// no `relate M S nohear`; whole-conference plays reach every member; a play
// aimed at one member reaches that member alone.
//
// Forks are mod_audio_fork: a websocket client with subprotocol
// audio.drachtio.org that sends the metadata first, then L16 frames paced by
// the clock (stereo: channel 0 what the leg reads from its party, channel 1
// what it writes to it), and turns the server's playAudio into a file.
package mixer
