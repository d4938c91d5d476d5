// Package tts turns coaching lines into telephone audio: 16-bit mono PCM at
// 8000 Hz, what FreeSWITCH plays without transcoding and what mod_audio_fork's
// playAudio accepts as raw 8k.
//
// Engines run the flite or espeak-ng programs (./scripts/setup installs both)
// with exec.CommandContext, so cancelling the context kills the synthesiser.
// Their output is parsed as WAV, resampled from the engine's own rate (flite's
// slt voice: 16000 Hz; espeak-ng: 22050 Hz) with a windowed-sinc filter that
// also removes everything above the telephone band, and trimmed of the silence
// the engines put around speech, so a line starts playing at once.
//
// flite is preferred (Auto): it is faster and clearer on a phone line than
// espeak-ng (see LIBRARIES.md). Cached wraps any Engine with a byte-bounded LRU
// so repeated coaching lines are synthesised once.
package tts
