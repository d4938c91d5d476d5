// Package conference drives one mod_conference conference of a coached call: who is
// in it (caller, agent, monitors), and the audio mode of each monitor — spy, whisper
// or barge — applied with mute and relate exactly as measured on a real FreeSWITCH
// (see freeswitch/README.md and FACTS.md):
//
//		mode    | caller hears M | agent hears M | M hears both
//		barge   | yes            | yes           | yes
//		whisper | no             | yes           | yes
//		spy     | no             | no            | yes
//
//	  - spy:     M muted (`mute M quiet`); no relationship needed.
//	  - whisper: `relate M <caller-side members> nospeak`, then `unmute M quiet`.
//	  - barge:   `relate M <caller-side members> clear` with M unmuted.
//
// `relate A B nospeak` means B stops hearing A. Relationships are per pair, so a
// whisper is re-applied to every caller-side member that joins later.
//
// Every step is confirmed from FreeSWITCH's reply ("+OK mute 7", "+OK 7->5 nospeak
// set", "+OK relationship 7->5 cleared.") before a switch is reported done; relate
// fires no event, so the reply is the only confirmation there is. Steps are ordered so
// that the caller never hears a monitor that is on its way to spy or whisper, not even
// for one mixer tick: muting comes before clearing, nospeak before unmuting.
//
// The AI coach has no phone leg: its speech is a file played with
// `conference X play <file> <member>` — to the agent member in whisper, to everyone in
// barge, to nobody in spy (see Conference.Coach).
//
// The package talks to FreeSWITCH only through the Commander interface (an inbound or
// outbound esl connection satisfies it), so it can be driven by any event socket.
package conference
