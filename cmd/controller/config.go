package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// config is everything `controller serve` can be told. Every flag has an
// environment variable (CALLCOACH_ + the flag name in upper case, dashes as
// underscores); a flag given on the command line wins over the environment.
// The defaults work on one machine next to a FreeSWITCH with the files in
// freeswitch/.
type config struct {
	ESLListen      string         // where FreeSWITCH's `socket` app connects to
	ESLAllow       []netip.Prefix // peers allowed to connect there
	ESLAddr        string         // FreeSWITCH's inbound event socket
	ESLPassword    string
	ForkListen     string // the analyzer's websocket server
	ForkURL        string // how FreeSWITCH reaches it (ws://host:port)
	RedisAddr      string
	AgentDial      string // dial-string template for the original callee
	Profile        string // conference profile
	Greeting       string
	AgentTimeout   time.Duration
	NoAgentMessage string
	MediaDir       string // where greeting/coaching files are written; FreeSWITCH must read it
	TTSEngine      string
	CoachMode      string
	ShutdownGrace  time.Duration
	LogLevel       slog.Level
	ControllerID   string
	Pprof          bool   // Go profiles under /debug/pprof/ on --fork-listen
	CoachingPolicy string // YAML file; empty: the built-in policy
	STT            string // "none", "pocketsphinx" or ws://host:port (a Vosk-protocol server)
	STTCalls       int    // calls transcribed at once
	Phrases        string // topics and compliance YAML; empty: built in
	LLMURL         string // OpenAI-compatible endpoint for the LLM coach; empty: off
	LLMModel       string
	LLMKey         string
	LLMTimeout     time.Duration
	Heartbeat      time.Duration // registry heartbeat; dead after three missed
	Supervisors    string        // supervisors YAML (names, groups, phones, agents' groups); empty: nobody may monitor
}

func defaultConfig() config {
	host, _ := os.Hostname()
	return config{
		ESLListen:      "127.0.0.1:8084",
		ESLAllow:       []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
		ESLAddr:        "127.0.0.1:8021",
		ESLPassword:    "ClueCon",
		ForkListen:     "127.0.0.1:8099",
		ForkURL:        "", // ws://<fork-listen>
		RedisAddr:      "127.0.0.1:6379",
		AgentDial:      "user/${destination_number}",
		Profile:        "callcoach",
		Greeting:       "Please hold while I connect you to an agent.",
		AgentTimeout:   30 * time.Second,
		NoAgentMessage: "Sorry, no agent can take your call right now. Please call again later. Goodbye.",
		MediaDir:       os.TempDir() + "/callcoach",
		TTSEngine:      "",
		CoachMode:      "whisper",
		ShutdownGrace:  5 * time.Minute,
		LogLevel:       slog.LevelInfo,
		ControllerID:   host,
		STT:            "none",
		STTCalls:       2,
		LLMTimeout:     3 * time.Second,
		Heartbeat:      2 * time.Second,
	}
}

// register binds the serve flags to c, reading defaults from the environment.
func (c *config) register(fs *flag.FlagSet) {
	str := func(p *string, name, usage string) {
		fs.StringVar(p, name, envOr(name, *p), usage)
	}
	dur := func(p *time.Duration, name, usage string) {
		if v, ok := env(name); ok {
			if d, err := time.ParseDuration(v); err == nil {
				*p = d
			}
		}
		fs.DurationVar(p, name, *p, usage)
	}
	str(&c.ESLListen, "esl-listen", "address FreeSWITCH's `socket` app connects to (outbound event socket)")
	fs.Func("esl-allow", "comma-separated CIDRs allowed to connect to --esl-listen (default loopback only)", func(v string) error {
		p, err := parsePrefixes(v)
		c.ESLAllow = p
		return err
	})
	if v, ok := env("esl-allow"); ok {
		if p, err := parsePrefixes(v); err == nil {
			c.ESLAllow = p
		}
	}
	str(&c.ESLAddr, "esl-addr", "FreeSWITCH's inbound event socket (host:port)")
	str(&c.ESLPassword, "esl-password", "password of the inbound event socket")
	str(&c.ForkListen, "fork-listen", "address of the analyzer's websocket server for mod_audio_fork")
	str(&c.ForkURL, "fork-url", "base ws:// URL FreeSWITCH uses to reach --fork-listen (default ws://<fork-listen>; set it when FreeSWITCH is on another host)")
	str(&c.RedisAddr, "redis-addr", "Redis for events, analytics and the call registry (empty: none)")
	str(&c.AgentDial, "agent-dial", "dial-string template for the agent; ${destination_number} and ${caller_id_number} are replaced")
	str(&c.Profile, "conference-profile", "mod_conference profile for coached calls")
	str(&c.Greeting, "greeting", "what the caller hears before being connected")
	dur(&c.AgentTimeout, "agent-timeout", "how long the agent's phone rings")
	str(&c.NoAgentMessage, "no-agent-message", "what the caller hears when the agent is busy or does not answer")
	str(&c.MediaDir, "media-dir", "directory for synthesised speech; FreeSWITCH must be able to read it")
	str(&c.TTSEngine, "tts-engine", "flite or espeak-ng (default: flite when installed)")
	str(&c.STT, "stt", "speech to text for live calls: none, pocketsphinx, or ws://host:port of a Vosk-protocol speech server")
	fs.IntVar(&c.STTCalls, "stt-calls", envInt("stt-calls", 2), "how many calls are transcribed at once (pocketsphinx: about 100 MB and a third of a core per side)")
	str(&c.Phrases, "phrases", "topics and compliance phrases YAML (default: the built-in phrases/default.yaml)")
	str(&c.LLMURL, "llm-url", "OpenAI-compatible endpoint (…/v1) for the optional LLM coach; needs --stt (default: off)")
	str(&c.LLMModel, "llm-model", "model name for --llm-url")
	str(&c.LLMKey, "llm-key", "API key for --llm-url (prefer the environment: CALLCOACH_LLM_KEY)")
	dur(&c.LLMTimeout, "llm-timeout", "how long the LLM coach may take to answer")
	str(&c.CoachingPolicy, "coaching-policy", "coaching policy YAML, reloaded when it changes (default: the built-in policy/default.yaml)")
	str(&c.CoachMode, "coach-mode", "the AI coach's mode: whisper (agent hears it), barge (everyone) or spy (silent)")
	dur(&c.ShutdownGrace, "shutdown-grace", "how long SIGTERM lets live calls finish before releasing them")
	str(&c.ControllerID, "controller-id", "this controller's name in published events and the call registry (unique per controller)")
	dur(&c.Heartbeat, "registry-heartbeat", "how often this controller tells the call registry it is alive; three missed beats and its calls are reported orphaned")
	str(&c.Supervisors, "supervisors", "supervisors YAML: who may monitor which agents' calls, reloaded when it changes (default: nobody may)")
	fs.BoolVar(&c.Pprof, "pprof", envOr("pprof", "") == "true", "serve Go profiles under /debug/pprof/ on --fork-listen (keep that address private)")
	fs.Func("log-level", "debug, info, warn or error", func(v string) error { return c.LogLevel.UnmarshalText([]byte(v)) })
	if v, ok := env("log-level"); ok {
		_ = c.LogLevel.UnmarshalText([]byte(v))
	}
}

func env(flagName string) (string, bool) {
	return os.LookupEnv("CALLCOACH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_")))
}

func envInt(flagName string, def int) int {
	if v, ok := env(flagName); ok {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
	}
	return def
}

func envOr(flagName, def string) string {
	if v, ok := env(flagName); ok {
		return v
	}
	return def
}

func parsePrefixes(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("--esl-allow: %w", err)
			}
			f = netip.PrefixFrom(a, a.BitLen()).String()
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("--esl-allow: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}
