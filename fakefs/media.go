package fakefs

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Source is one party's audio, 20 ms frames of 16 kHz 16-bit mono PCM; any
// media.Source satisfies it.
type Source interface {
	Read(frame []int16) bool
}

// mediaEngine is the part of fakefs/media the fake uses; keeping it behind
// an interface lets the fake's protocol tests run on a clock of their own.
type mediaEngine interface {
	NewLeg(name string) mediaLeg
	NewConference(name string) mediaConference
	OpenFile(path string) (Source, error)
	Close() error
}

type mediaLeg interface {
	SetSource(s Source)
	Play(s Source, done func())
	StopPlayback()
	StartFork(o forkOptions) (mediaFork, error)
	Close()
}

type mediaConference interface {
	Add(l mediaLeg, memberID int, canHear, canSpeak bool)
	Remove(memberID int)
	SetCanSpeak(memberID int, v bool)
	SetCanHear(memberID int, v bool)
	Relate(a, b int, rel relation)
	Play(s Source, memberID int, done func())
	OnTalking(fn func(memberID int, talking bool))
	Close()
}

type relation int

const (
	relClear relation = iota
	relNoSpeak
	relNoHear
)

type forkOptions struct {
	URL        string
	Mix        string // mono | mixed | stereo
	SampleRate int
	Metadata   string
	User, Pass string
	// ChannelUUID names playAudio files as mod_audio_fork does.
	ChannelUUID string
	Events      forkEvents
}

type forkEvents struct {
	Connect       func()
	ConnectFailed func(reason string)
	Disconnect    func()
	Message       func(kind string, body []byte)
	PlayAudio     func(jsonBody []byte)
}

type mediaFork interface {
	SendText(text string) error
	Stop(text string) error
}

var errNoMedia = errors.New("fakefs: no media engine")

// clockMedia is a stand-in engine without audio: playbacks last as long as
// their source says, conferences mix nothing, forks fail. It is used until
// fakefs/media is wired in, and by protocol tests.
type clockMedia struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newClockMedia() *clockMedia {
	ctx, cancel := context.WithCancel(context.Background())
	return &clockMedia{ctx: ctx, cancel: cancel}
}

func (m *clockMedia) NewLeg(string) mediaLeg               { return &clockLeg{m: m} }
func (m *clockMedia) NewConference(string) mediaConference { return &clockConf{m: m} }
func (m *clockMedia) OpenFile(path string) (Source, error) {
	return silenceFor(500 * time.Millisecond), nil
}
func (m *clockMedia) Close() error {
	m.cancel()
	m.wg.Wait()
	return nil
}

// playFor calls done after the source has run out (at most a minute).
func (m *clockMedia) playFor(s Source, stop <-chan struct{}, done func()) {
	frame := make([]int16, 320)
	n := 0
	for n < 3000 && s.Read(frame) {
		n++
	}
	t := time.NewTimer(time.Duration(n) * 20 * time.Millisecond)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
		case <-m.ctx.Done():
		}
		if done != nil {
			done()
		}
	}()
}

type clockLeg struct {
	m    *clockMedia
	stop chan struct{}
}

func (l *clockLeg) SetSource(Source) {}
func (l *clockLeg) Play(s Source, done func()) {
	l.stop = make(chan struct{})
	l.m.playFor(s, l.stop, done)
}
func (l *clockLeg) StopPlayback() {
	if l.stop != nil {
		close(l.stop)
		l.stop = nil
	}
}
func (l *clockLeg) StartFork(forkOptions) (mediaFork, error) { return nil, errNoMedia }
func (l *clockLeg) Close()                                   { l.StopPlayback() }

type clockConf struct{ m *clockMedia }

func (c *clockConf) Add(mediaLeg, int, bool, bool)     {}
func (c *clockConf) Remove(int)                        {}
func (c *clockConf) SetCanSpeak(int, bool)             {}
func (c *clockConf) SetCanHear(int, bool)              {}
func (c *clockConf) Relate(int, int, relation)         {}
func (c *clockConf) OnTalking(func(int, bool))         {}
func (c *clockConf) Close()                            {}
func (c *clockConf) Play(s Source, _ int, done func()) { c.m.playFor(s, nil, done) }

// silence is a finite Source of silence.
type silence struct{ frames int }

func silenceFor(d time.Duration) Source { return &silence{frames: int(d / (20 * time.Millisecond))} }

func (s *silence) Read(frame []int16) bool {
	clear(frame)
	if s.frames <= 0 {
		return false
	}
	s.frames--
	return true
}
