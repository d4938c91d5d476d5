package fakefs

import (
	"strings"
)

// forkState is a channel's mod_audio_fork session; guarded by f.mu.
type forkState struct {
	fork   mediaFork
	broken bool // started with metadata containing a space (FACTS)
}

const forkFailed = "-ERR Operation Failed\n"

// uuidAudioFork is `uuid_audio_fork <uuid> start|send_text|stop ...`. The
// argument is split on spaces like every api argument.
func (f *FS) uuidAudioFork(args string) string {
	fields := strings.Split(strings.TrimSpace(args), " ")
	if len(fields) < 2 {
		return forkFailed
	}
	ch, ok := f.Channel(fields[0])
	if !ok {
		return forkFailed
	}
	switch fields[1] {
	case "start":
		if len(fields) < 5 {
			return forkFailed
		}
		url, mix, rate := fields[2], fields[3], fields[4]
		sampleRate := 0
		switch rate {
		case "8k", "8000":
			sampleRate = 8000
		case "16k", "16000":
			sampleRate = 16000
		default:
			return forkFailed
		}
		if mix != "mono" && mix != "mixed" && mix != "stereo" {
			return forkFailed
		}
		metadata, broken := "", false
		if len(fields) > 5 {
			metadata = fields[len(fields)-1]
			// A space in the metadata: the server gets only the part after it
			// and the fork is left broken.
			broken = len(fields) > 6
		}
		f.mu.Lock()
		leg, busy := ch.leg, ch.fork != nil
		user, pass := ch.vars.get("MOD_AUDIO_BASIC_AUTH_USERNAME"), ch.vars.get("MOD_AUDIO_BASIC_AUTH_PASSWORD")
		f.mu.Unlock()
		if leg == nil || busy {
			return forkFailed
		}
		fk, err := leg.StartFork(forkOptions{
			URL: url, Mix: mix, SampleRate: sampleRate, Metadata: metadata, User: user, Pass: pass, ChannelUUID: ch.uuid,
			Events: f.forkEvents(ch),
		})
		if err != nil {
			f.log.Debug("fakefs: uuid_audio_fork start", "uuid", ch.uuid, "err", err)
			return forkFailed
		}
		f.mu.Lock()
		ch.fork = &forkState{fork: fk, broken: broken}
		f.mu.Unlock()
		return "+OK Success\n"
	case "send_text", "stop":
		f.mu.Lock()
		fs := ch.fork
		if fields[1] == "stop" {
			ch.fork = nil
		}
		f.mu.Unlock()
		if fs == nil || fs.broken || len(fields) > 3 {
			return forkFailed
		}
		text := ""
		if len(fields) == 3 {
			text = fields[2]
		}
		var err error
		if fields[1] == "stop" {
			err = fs.fork.Stop(text)
		} else {
			if text == "" {
				return forkFailed
			}
			err = fs.fork.SendText(text)
		}
		if err != nil {
			return forkFailed
		}
		return "+OK Success\n"
	default:
		return forkFailed
	}
}

// forkEvents turns the media fork's callbacks into mod_audio_fork::* events
// on the channel, on the fake's callback goroutine.
func (f *FS) forkEvents(ch *Channel) forkEvents {
	emit := func(kind string, body []byte) {
		f.cb.post(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			e := ch.eventLocked("CUSTOM", callForkResponse, true)
			e.subclass = "mod_audio_fork::" + kind
			e.body = body
			f.emitLocked(e)
		})
	}
	return forkEvents{
		Connect:       func() { emit("connect", nil) },
		ConnectFailed: func(reason string) { emit("connect_failed", []byte(`{"reason":"`+reason+`"}`)) },
		Disconnect:    func() { emit("disconnect", nil) },
		Message:       func(kind string, body []byte) { emit(kind, body) },
		PlayAudio:     func(body []byte) { emit("play_audio", body) },
	}
}
