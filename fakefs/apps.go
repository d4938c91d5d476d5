package fakefs

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// runApp executes one dialplan application on the channel's own goroutine
// and returns its Application-Response. It returns early when the channel
// hangs up.
func (ch *Channel) runApp(r *appReq) string {
	f := ch.f
	switch r.app {
	case "answer", "pre_answer", "ring_ready":
		f.mu.Lock()
		if r.app == "answer" {
			ch.answerLocked()
			ch.vars.setLast("endpoint_disposition", "ANSWER")
		}
		f.mu.Unlock()
		return "_none_"
	case "hangup":
		cause := r.arg
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		f.mu.Lock()
		ch.hangupLocked(cause, hangupLocal)
		f.mu.Unlock()
		return "_none_"
	case "set", "export":
		name, value, _ := strings.Cut(r.arg, "=")
		f.mu.Lock()
		ch.vars.setLast(name, value)
		f.mu.Unlock()
		return "_none_"
	case "sleep":
		ms, _ := strconv.Atoi(r.arg)
		ch.sleep(time.Duration(ms) * time.Millisecond)
		return "_none_"
	case "park":
		ch.waitKilled(f.ctx)
		return "_none_"
	case "playback":
		src, err := f.media.OpenFile(r.arg)
		if err != nil {
			f.log.Debug("fakefs: playback", "file", r.arg, "err", err)
			return "FILE NOT FOUND"
		}
		if !ch.play(src) {
			return "PLAYBACK ERROR"
		}
		return "FILE PLAYED"
	case "speak":
		// engine|voice|text; the fake has no TTS: silence for as long as
		// flite took to say it.
		parts := strings.SplitN(r.arg, "|", 3)
		text := parts[len(parts)-1]
		ch.play(silenceFor(time.Duration(len(text)) * f.opts.SpeakPerChar))
		return "_none_"
	case "conference":
		ch.runConference(r.arg)
		return "_none_"
	default:
		f.log.Debug("fakefs: invalid application", "app", r.app)
		f.mu.Lock()
		ch.hangupLocked("DESTINATION_OUT_OF_ORDER", hangupLocal)
		f.mu.Unlock()
		return "_none_"
	}
}

func (ch *Channel) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ch.killed:
	case <-ch.f.ctx.Done():
	}
}

// play plays src to the channel's party and waits until it ends or the
// channel hangs up; false when it was cut short.
func (ch *Channel) play(src Source) bool {
	leg := ch.leg
	if leg == nil {
		return true
	}
	done := make(chan struct{})
	var once sync.Once
	leg.Play(src, func() { once.Do(func() { close(done) }) })
	select {
	case <-done:
		return true
	case <-ch.killed:
		leg.StopPlayback()
		return false
	case <-ch.f.ctx.Done():
		leg.StopPlayback()
		return false
	}
}
