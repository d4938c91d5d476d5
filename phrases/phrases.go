// Package phrases spots configured phrases in a call's transcript: the
// topics of a taxonomy, disclosures the agent must make in time, and
// phrases that must not be said. The configuration is YAML the user edits
// (default.yaml is the built-in one).
package phrases

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

// ErrConfig: the configuration is not usable.
var ErrConfig = errors.New("phrases: bad configuration")

// Config is the YAML file.
type Config struct {
	Topics     map[string][]string `yaml:"topics"`
	Compliance struct {
		Required  []Required  `yaml:"required"`
		Forbidden []Forbidden `yaml:"forbidden"`
	} `yaml:"compliance"`
}

// Required is a disclosure a side must say within a time from the call's start.
type Required struct {
	Name    string        `yaml:"name"`
	Side    string        `yaml:"side"`
	Within  time.Duration `yaml:"within"`
	Phrases []string      `yaml:"phrases"`
}

// Forbidden is what a side must not say.
type Forbidden struct {
	Name    string   `yaml:"name"`
	Side    string   `yaml:"side"`
	Phrases []string `yaml:"phrases"`
}

// Default is the built-in configuration.
func Default() Config {
	c, err := Parse(defaultYAML)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return c
}

// Load reads a configuration file.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(b)
}

// Parse reads and checks a configuration.
func Parse(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for name, ps := range c.Topics {
		if len(ps) == 0 {
			return Config{}, fmt.Errorf("%w: topic %q has no phrases", ErrConfig, name)
		}
	}
	for _, r := range c.Compliance.Required {
		if r.Name == "" || r.Within <= 0 || len(r.Phrases) == 0 || !validSide(r.Side) {
			return Config{}, fmt.Errorf("%w: required %q needs a name, a side (customer or agent), within > 0 and phrases", ErrConfig, r.Name)
		}
	}
	for _, f := range c.Compliance.Forbidden {
		if f.Name == "" || len(f.Phrases) == 0 || !validSide(f.Side) {
			return Config{}, fmt.Errorf("%w: forbidden %q needs a name, a side (customer or agent) and phrases", ErrConfig, f.Name)
		}
	}
	return c, nil
}

func validSide(s string) bool { return s == "customer" || s == "agent" }

// Kind of a Finding.
const (
	Topic     = "topic"     // the first mention of a topic
	Said      = "forbidden" // a forbidden phrase was said
	Missing   = "missing"   // a required disclosure was not made in time
	Disclosed = "disclosed" // a required disclosure was made
)

// Finding is something the spotter noticed.
type Finding struct {
	Kind   string        `json:"kind"`
	Name   string        `json:"name"` // topic or rule
	Side   string        `json:"side,omitempty"`
	Phrase string        `json:"phrase,omitempty"`
	At     time.Duration `json:"-"`
}

// Spotter follows one call. Not safe for concurrent use.
type Spotter struct {
	c         Config
	mentioned map[string]bool
	disclosed map[string]bool
	missed    map[string]bool
}

// NewSpotter starts a call.
func NewSpotter(c Config) *Spotter {
	return &Spotter{c: c, mentioned: map[string]bool{}, disclosed: map[string]bool{}, missed: map[string]bool{}}
}

// Utterance checks what side said at a time in the call.
func (s *Spotter) Utterance(side, text string, at time.Duration) []Finding {
	words := normalise(text)
	var out []Finding
	topics := make([]string, 0, len(s.c.Topics))
	for t := range s.c.Topics {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		if s.mentioned[t] {
			continue
		}
		if p, ok := find(words, s.c.Topics[t]); ok {
			s.mentioned[t] = true
			out = append(out, Finding{Kind: Topic, Name: t, Side: side, Phrase: p, At: at})
		}
	}
	for _, r := range s.c.Compliance.Required {
		if r.Side != side || s.disclosed[r.Name] || s.missed[r.Name] {
			continue
		}
		if p, ok := find(words, r.Phrases); ok {
			s.disclosed[r.Name] = true
			out = append(out, Finding{Kind: Disclosed, Name: r.Name, Side: side, Phrase: p, At: at})
		}
	}
	for _, f := range s.c.Compliance.Forbidden {
		if f.Side != side {
			continue
		}
		if p, ok := find(words, f.Phrases); ok {
			out = append(out, Finding{Kind: Said, Name: f.Name, Side: side, Phrase: p, At: at})
		}
	}
	return out
}

// Tick reports required disclosures whose time ran out by now (once each).
func (s *Spotter) Tick(now time.Duration) []Finding {
	var out []Finding
	for _, r := range s.c.Compliance.Required {
		if !s.disclosed[r.Name] && !s.missed[r.Name] && now >= r.Within {
			s.missed[r.Name] = true
			out = append(out, Finding{Kind: Missing, Name: r.Name, Side: r.Side, At: r.Within})
		}
	}
	return out
}

// Topics lists the topics mentioned so far.
func (s *Spotter) Topics() []string {
	var ts []string
	for t := range s.mentioned {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}

// normalise is the text as space-separated lower-case words, padded so a
// phrase matches whole words only.
func normalise(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'')
	})
	return " " + strings.Join(f, " ") + " "
}

func find(words string, phrases []string) (string, bool) {
	for _, p := range phrases {
		if strings.Contains(words, normalise(p)) {
			return p, true
		}
	}
	return "", false
}
