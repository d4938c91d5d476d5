package fakefs

import (
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

// MediaFrames is how many 20 ms media ticks the fake has run: a load test
// compares it with the wall clock to know the fake itself kept real time
// (its clock skips ticks it cannot keep up with). 0 for media without a clock.
func (f *FS) MediaFrames() uint64 {
	if c, ok := f.media.(interface{ Frames() uint64 }); ok {
		return c.Frames()
	}
	return 0
}
