// Package access says which supervisor may monitor which call: supervisors
// are named, belong to groups, and may only monitor agents of their groups.
// The configuration is one YAML file shared by every controller.
package access

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Errors of a check; test with errors.Is.
var (
	ErrUnknownSupervisor = errors.New("access: unknown supervisor")
	ErrNotPermitted      = errors.New("access: not permitted")
	ErrConfig            = errors.New("access: bad supervisors file")
	ErrBadPhone          = errors.New("access: unusable dial string")
)

// AllGroups in a supervisor's groups lets them monitor every call.
const AllGroups = "*"

// Supervisor is one person who may monitor calls.
type Supervisor struct {
	Name   string   `yaml:"-"`
	Groups []string `yaml:"groups"`
	// Phone is the dial string the controller rings when they join a call
	// without giving --phone.
	Phone string `yaml:"phone"`
}

// Directory is the supervisors file.
type Directory struct {
	Supervisors map[string]Supervisor `yaml:"supervisors"`
	// Agents maps an agent's number (the number the customer called) to
	// the agent's group. A call may also carry its group in the channel
	// variable callcoach_group, set by the dialplan; that wins.
	Agents map[string]string `yaml:"agents"`
	// DefaultGroup is the group of agents not listed; empty: none, and
	// only supervisors of every group ("*") may monitor them.
	DefaultGroup string `yaml:"default_group"`
}

// Load reads a supervisors file.
func Load(path string) (*Directory, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	d, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// Parse reads a supervisors file's content; unknown fields are errors (a
// typo must not silently grant or deny).
func Parse(b []byte) (*Directory, error) {
	var d Directory
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for name, s := range d.Supervisors {
		if strings.TrimSpace(name) == "" || strings.ContainsAny(name, " \t\r\n") {
			return nil, fmt.Errorf("%w: supervisor name %q: no spaces", ErrConfig, name)
		}
		if name == "ai" || name == "llm" {
			return nil, fmt.Errorf("%w: supervisor name %q is the AI coach's", ErrConfig, name)
		}
		if len(s.Groups) == 0 {
			return nil, fmt.Errorf("%w: supervisor %s has no groups", ErrConfig, name)
		}
		if s.Phone != "" {
			if err := ValidPhone(s.Phone); err != nil {
				return nil, fmt.Errorf("%w: supervisor %s: %w", ErrConfig, name, err)
			}
		}
		s.Name = name
		d.Supervisors[name] = s
	}
	return &d, nil
}

// Supervisor looks one up by name.
func (d *Directory) Supervisor(name string) (Supervisor, error) {
	if d == nil {
		return Supervisor{}, fmt.Errorf("%w: %q: this controller has no supervisors file (--supervisors)", ErrUnknownSupervisor, name)
	}
	if s, ok := d.Supervisors[name]; ok {
		return s, nil
	}
	return Supervisor{}, fmt.Errorf("%w: %q is not in the supervisors file", ErrUnknownSupervisor, name)
}

// GroupOf is the group of a call: its dialplan's callcoach_group if set,
// else the agent's from the file, else DefaultGroup.
func (d *Directory) GroupOf(agent, fromDialplan string) string {
	if fromDialplan != "" {
		return fromDialplan
	}
	if d == nil {
		return ""
	}
	if g, ok := d.Agents[agent]; ok {
		return g
	}
	return d.DefaultGroup
}

// Check says whether supervisor may monitor a call of group.
func (d *Directory) Check(supervisor, group string) error {
	s, err := d.Supervisor(supervisor)
	if err != nil {
		return err
	}
	if slices.Contains(s.Groups, AllGroups) || (group != "" && slices.Contains(s.Groups, group)) {
		return nil
	}
	g := group
	if g == "" {
		g = "no group"
	}
	return fmt.Errorf("%w: %s may monitor agents of %s; this call's agent is in %s", ErrNotPermitted, supervisor, strings.Join(s.Groups, ", "), g)
}

// ValidPhone checks a supervisor's dial string before it goes into an
// originate: one endpoint, nothing FreeSWITCH would read as a second
// application, variables or another leg (no spaces, &, {}, [], (), commas,
// pipes or quotes).
func ValidPhone(dial string) error {
	if dial == "" || len(dial) > 256 {
		return fmt.Errorf("%w: phone %q: empty or too long", ErrBadPhone, dial)
	}
	for _, r := range dial {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._@:+-=*#%", r)
		if !ok {
			return fmt.Errorf("%w: phone %q: %q is not allowed in a supervisor's dial string", ErrBadPhone, dial, r)
		}
	}
	return nil
}

// Names lists the supervisors, sorted.
func (d *Directory) Names() []string {
	out := make([]string, 0, len(d.Supervisors))
	for n := range d.Supervisors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
