package tts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode"
)

// Engine synthesises text to speech at Rate.
type Engine interface {
	Synthesize(ctx context.Context, text string) (*Speech, error)
}

// MaxTextBytes bounds one line: coaching lines are a sentence or two, and a
// runaway text must not hold a synthesiser for minutes.
const MaxTextBytes = 4000

// Errors; test them with errors.Is.
var (
	ErrEmptyText    = errors.New("tts: empty text")
	ErrTextTooLong  = errors.New("tts: text too long")
	ErrNoEngine     = errors.New("tts: no speech synthesiser installed (need flite or espeak-ng; run ./scripts/setup)")
	ErrEngineFailed = errors.New("tts: synthesiser failed")
)

// peakLevel leaves 3 dB of headroom for the mixer.
const peakLevel = 0.7

// tailMargin keeps 40 ms around trimmed speech so onsets and decays survive.
const tailMargin = Rate / 25

// Flite runs the flite program.
type Flite struct {
	Path  string // the flite binary
	Voice string // a built-in voice such as "slt" (16 kHz) or "kal" (8 kHz)

	started func(*exec.Cmd) // test hook: called once the process runs
}

// NewFlite finds flite on PATH; voice "" means "slt", the clearest built-in voice.
func NewFlite(voice string) (*Flite, error) {
	path, err := exec.LookPath("flite")
	if err != nil {
		return nil, fmt.Errorf("%w: flite: %w", ErrNoEngine, err)
	}
	if voice == "" {
		voice = "slt"
	}
	return &Flite{Path: path, Voice: voice}, nil
}

// Synthesize runs flite once; cancelling ctx kills it.
func (f *Flite) Synthesize(ctx context.Context, text string) (*Speech, error) {
	text, err := cleanText(text)
	if err != nil {
		return nil, err
	}
	// -t takes the next argument as text even if it starts with "-"; flite
	// writes a complete WAV (real sizes) to the pipe.
	cmd := exec.CommandContext(ctx, f.Path, "-voice", f.Voice, "-t", text, "-o", "/dev/stdout")
	return run(ctx, cmd, "flite", f.started)
}

// ESpeak runs the espeak-ng program.
type ESpeak struct {
	Path  string // the espeak-ng binary
	Voice string // e.g. "en-us"
	Speed int    // words per minute

	started func(*exec.Cmd)
}

// NewESpeak finds espeak-ng on PATH; voice "" means "en-us".
func NewESpeak(voice string) (*ESpeak, error) {
	path, err := exec.LookPath("espeak-ng")
	if err != nil {
		return nil, fmt.Errorf("%w: espeak-ng: %w", ErrNoEngine, err)
	}
	if voice == "" {
		voice = "en-us"
	}
	return &ESpeak{Path: path, Voice: voice, Speed: 165}, nil
}

// Synthesize runs espeak-ng once; cancelling ctx kills it.
func (e *ESpeak) Synthesize(ctx context.Context, text string) (*Speech, error) {
	text, err := cleanText(text)
	if err != nil {
		return nil, err
	}
	args := []string{"--stdout", "--stdin", "-v", e.Voice}
	if e.Speed > 0 {
		args = append(args, "-s", fmt.Sprint(e.Speed))
	}
	// Text on stdin: never parsed as an option.
	cmd := exec.CommandContext(ctx, e.Path, args...)
	cmd.Stdin = strings.NewReader(text)
	return run(ctx, cmd, "espeak-ng", e.started)
}

// Auto picks flite if it is installed, else espeak-ng, else ErrNoEngine.
func Auto() (Engine, error) {
	if f, err := NewFlite(""); err == nil {
		return f, nil
	}
	if e, err := NewESpeak(""); err == nil {
		return e, nil
	}
	return nil, ErrNoEngine
}

// cleanText replaces control characters (which engines may read as commands
// or markup) with spaces and checks the length.
func cleanText(text string) (string, error) {
	text = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, text)
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return "", ErrEmptyText
	}
	if len(text) > MaxTextBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrTextTooLong, len(text), MaxTextBytes)
	}
	return text, nil
}

// run executes a synthesiser that writes a WAV to stdout and converts it.
func run(ctx context.Context, cmd *exec.Cmd, name string, started func(*exec.Cmd)) (*Speech, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = time.Second // do not wait on stray pipe holders after a kill
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: starting %s: %w", ErrEngineFailed, name, err)
	}
	if started != nil {
		started(cmd)
	}
	if err := cmd.Wait(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("tts: %s stopped: %w", name, ctxErr)
		}
		return nil, fmt.Errorf("%w: %s: %w: %s", ErrEngineFailed, name, err, strings.TrimSpace(stderr.String()))
	}
	samples, rate, err := parseWAV(stdout.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%w: %s output: %w", ErrEngineFailed, name, err)
	}
	samples = resample(samples, rate, Rate)
	samples = normalize(highPass(samples, Rate, 300), peakLevel)
	samples = append([]int16(nil), trimSilence(samples, tailMargin)...) // do not pin the untrimmed array
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: %s produced only silence", ErrEngineFailed, name)
	}
	return &Speech{Samples: samples, Rate: Rate}, nil
}
