package fakefs

import (
	"errors"
	"log/slog"

	"github.com/callcoach/callcoach/fakefs/mixer"
)

// newDefaultMedia is the real 20 ms media engine of fakefs/mixer.
func newDefaultMedia(log *slog.Logger, firstPlayFile uint32) mediaEngine {
	return &mixerMedia{e: mixer.NewEngine(mixer.Options{Logger: log, FirstPlayFile: firstPlayFile})}
}

type mixerMedia struct{ e *mixer.Engine }

func (m *mixerMedia) NewLeg(name string) mediaLeg { return &mixerLeg{l: m.e.NewLeg(name)} }
func (m *mixerMedia) NewConference(name string) mediaConference {
	return &mixerConf{c: m.e.NewConference(name)}
}
func (m *mixerMedia) OpenFile(path string) (Source, error) { return mixer.OpenFile(path) }
func (m *mixerMedia) Close() error                         { return m.e.Close() }

type mixerLeg struct{ l *mixer.Leg }

func (l *mixerLeg) SetSource(s Source)         { l.l.SetSource(s) }
func (l *mixerLeg) Play(s Source, done func()) { l.l.Play(s, done) }
func (l *mixerLeg) StopPlayback()              { l.l.StopPlayback() }
func (l *mixerLeg) Close()                     { l.l.Close() }
func (l *mixerLeg) StartFork(o forkOptions) (mediaFork, error) {
	f, err := l.l.StartFork(mixer.ForkOptions{
		URL: o.URL, Mix: o.Mix, SampleRate: o.SampleRate, Metadata: o.Metadata,
		User: o.User, Password: o.Pass, ChannelUUID: o.ChannelUUID,
		Events: mixer.ForkEvents{
			Connect: o.Events.Connect, ConnectFailed: o.Events.ConnectFailed, Disconnect: o.Events.Disconnect,
			Message: o.Events.Message, PlayAudio: o.Events.PlayAudio,
		},
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

type mixerConf struct{ c *mixer.Conference }

func (c *mixerConf) Add(l mediaLeg, id int, canHear, canSpeak bool) {
	if ml, ok := l.(*mixerLeg); ok {
		c.c.Add(ml.l, id, canHear, canSpeak)
	}
}
func (c *mixerConf) Remove(id int)                           { c.c.Remove(id) }
func (c *mixerConf) SetCanSpeak(id int, v bool)              { c.c.SetCanSpeak(id, v) }
func (c *mixerConf) SetCanHear(id int, v bool)               { c.c.SetCanHear(id, v) }
func (c *mixerConf) Play(s Source, id int, done func())      { c.c.Play(s, id, done) }
func (c *mixerConf) OnTalking(fn func(id int, talking bool)) { c.c.OnTalking(fn) }
func (c *mixerConf) Close()                                  { c.c.Close() }
func (c *mixerConf) Relate(a, b int, r relation) {
	switch r {
	case relNoSpeak:
		c.c.Relate(a, b, mixer.NoSpeak)
	case relNoHear:
		c.c.Relate(a, b, mixer.NoHear)
	default:
		c.c.Relate(a, b, mixer.Clear)
	}
}

// ErrNoAudio: the channel has no audio to record (the fake runs without the
// mixer, or the channel is gone).
var ErrNoAudio = errors.New("fakefs: channel has no audio")

// Record starts recording what the channel's party hears and says, from the
// next 20 ms frame on.
func (ch *Channel) Record() (*mixer.Recording, error) {
	ch.f.mu.Lock()
	leg := ch.leg
	ch.f.mu.Unlock()
	ml, ok := leg.(*mixerLeg)
	if !ok {
		return nil, ErrNoAudio
	}
	return ml.l.Record(), nil
}

// SetSource changes what the channel's party says, from the next frame on.
func (ch *Channel) SetSource(s Source) error {
	ch.f.mu.Lock()
	leg := ch.leg
	ch.f.mu.Unlock()
	if leg == nil {
		return ErrNoAudio
	}
	leg.SetSource(s)
	return nil
}

func (m *mixerMedia) Frames() uint64 { return m.e.Frames() }
