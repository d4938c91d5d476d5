// Package stttest is a test double for speech to text, in the spirit of
// net/http/httptest: an engine whose recognisers "hear" scripted words, so
// tests of what is done with a transcript need no real recogniser.
package stttest

import (
	"fmt"
	"sync"

	"github.com/callcoach/callcoach/stt"
)

// Script is an stt.Engine that hands out one recogniser per text, in order;
// each hears its text in every utterance. A call asks for the customer's
// recogniser first, then the agent's.
type Script struct {
	mu    sync.Mutex
	texts []string
}

// NewScript scripts the recognisers' words.
func NewScript(texts ...string) *Script { return &Script{texts: texts} }

func (e *Script) Name() string    { return "script" }
func (e *Script) SampleRate() int { return 16000 }

// NewRecognizer fails once the script has run out.
func (e *Script) NewRecognizer() (stt.Recognizer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.texts) == 0 {
		return nil, fmt.Errorf("stttest: the script has no more recognisers")
	}
	t := e.texts[0]
	e.texts = e.texts[1:]
	return Hears(t), nil
}

// Hears is a recogniser that always hears text.
func Hears(text string) stt.Recognizer { return hears(text) }

type hears string

func (r hears) StartUtterance() error         { return nil }
func (r hears) Process([]int16) error         { return nil }
func (r hears) Hypothesis() string            { return string(r) }
func (r hears) EndUtterance() (string, error) { return string(r), nil }
func (r hears) Close() error                  { return nil }
