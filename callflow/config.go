package callflow

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/llmcoach"
	"github.com/callcoach/callcoach/streaming"
	"github.com/callcoach/callcoach/transcript"
	"github.com/callcoach/callcoach/tts"
)

// Config is what a deployment chooses.
type Config struct {
	// AgentDial is the agent's dial string; ${destination_number},
	// ${caller_id_number} and ${call_id} are expanded.
	AgentDial         string
	ConferenceProfile string
	Greeting          string // spoken to the caller after answer; empty: none
	NoAgentMessage    string // spoken when the agent is busy, does not answer or cannot be reached
	// NoAgentTransfer, if set, is where the caller goes after NoAgentMessage
	// (uuid_transfer argument, e.g. "1000 XML voicemail"); otherwise the call ends.
	NoAgentTransfer string
	AgentTimeout    time.Duration
	// ForkURL is the analyzer's websocket base as FreeSWITCH reaches it.
	ForkURL        string
	ForkPathPrefix string
	// MediaDir is where synthesised prompts are written; FreeSWITCH must be
	// able to read it (same host or a shared mount).
	MediaDir  string
	CoachMode conference.Mode
	// Linger keeps each call's socket open this long after hangup so the
	// hangup events are not lost.
	Linger time.Duration
	// ForkConnectTimeout bounds the wait for mod_audio_fork::connect.
	ForkConnectTimeout time.Duration
	Pipeline           streaming.PipelineConfig
	// CoachingRules, if set, gives each call the coaching policy's rules as
	// they are when its analysis starts (package policy keeps them current).
	CoachingRules func() []coaching.Rule
	// Transcripts, if set, turns on speech to text for calls (as many as its
	// pool allows): utterances, sentiment, topics and alerts are published.
	Transcripts *transcript.Config
	// LLM, if set (and Transcripts on), is asked for a line after each
	// customer utterance, within its own time budget, at most every
	// LLMCooldown (default 60 s); rule-based coaching never waits for it.
	LLM         *llmcoach.Client
	LLMCooldown time.Duration
	// AnalyticsEvery is how often a connected call's measures are published
	// (default 5 s); the final ones always are, on CLOSED.
	AnalyticsEvery time.Duration
}

func (c *Config) defaults() {
	if c.AgentDial == "" {
		c.AgentDial = "user/${destination_number}"
	}
	if c.ConferenceProfile == "" {
		c.ConferenceProfile = "callcoach"
	}
	if c.AgentTimeout <= 0 {
		c.AgentTimeout = 30 * time.Second
	}
	if c.NoAgentMessage == "" {
		c.NoAgentMessage = "Sorry, nobody can take your call right now. Please call again later. Goodbye."
	}
	if c.CoachMode == "" {
		c.CoachMode = conference.Whisper
	}
	if c.Linger <= 0 {
		c.Linger = 10 * time.Second
	}
	if c.ForkConnectTimeout <= 0 {
		c.ForkConnectTimeout = 5 * time.Second
	}
	if c.LLMCooldown <= 0 {
		c.LLMCooldown = 60 * time.Second
	}
	if c.AnalyticsEvery <= 0 {
		c.AnalyticsEvery = 5 * time.Second
	}
	if c.ForkPathPrefix == "" {
		c.ForkPathPrefix = streaming.DefaultPathPrefix
	}
}

// Synthesizer turns text into speech (a tts.Engine, usually tts.Cached).
type Synthesizer interface {
	Synthesize(ctx context.Context, text string) (*tts.Speech, error)
}

// Publisher reports what happens (package bus); it must never block.
type Publisher interface {
	State(callID string, state bus.CallState, reason string) error
	Mode(callID string, m bus.ModeData) error
	CoachLine(callID string, l bus.CoachLineData) error
	Analytics(callID string, data any) error
	Speech(callID string, s bus.SpeechData) error
	Alert(callID string, a bus.AlertData) error
}

// Switch is the inbound ESL connection shared by all calls.
type Switch interface {
	API(ctx context.Context, cmd string) (string, error)
	BgAPI(ctx context.Context, cmd string) (string, error)
	Subscribe(filter func(*esl.Event) bool) *esl.Subscription
	// SubscribeHeader is an indexed Subscribe for one header value: each
	// call follows its own conference's events this way.
	SubscribeHeader(name, value string) *esl.Subscription
}

// Deps are the parts a Manager drives.
type Deps struct {
	Switch Switch
	Forks  *streaming.Registry
	TTS    Synthesizer
	Bus    Publisher
	Logger *slog.Logger
	// Observer, if set, hears of every call's changes (the call registry
	// and supervision follow calls through it).
	Observer Observer
}

// Observer hears about live calls. Its methods are called from the calls'
// goroutines and must not block.
type Observer interface {
	// CallChanged: state, members, modes or measures changed.
	CallChanged(Info)
	// CallEnded: the call is CLOSED (Info is its last state).
	CallEnded(in Info, reason string)
	// MonitorDigit: a supervisor on the call pressed a DTMF digit.
	MonitorDigit(callID string, m MonitorInfo, digit string)
}

// expandDial fills the dial-string template.
func expandDial(tmpl string, vars map[string]string) (string, error) {
	out := tmpl
	for k, v := range vars {
		out = strings.ReplaceAll(out, "${"+k+"}", v)
	}
	if i := strings.Index(out, "${"); i >= 0 {
		return "", fmt.Errorf("callflow: dial string %q: unknown variable at %q", tmpl, out[i:])
	}
	if strings.ContainsAny(out, " \r\n") || out == "" {
		return "", fmt.Errorf("callflow: dial string %q expands to %q, which is not a single dial string", tmpl, out)
	}
	return out, nil
}

// safeDigits keeps what can go into an originate variable block unescaped.
func safeDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' || r == '+' || r == '*' || r == '#' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
