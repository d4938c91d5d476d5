// Package pocketsphinx is an stt.Engine over CMU PocketSphinx, from
// Debian's libpocketsphinx-dev and pocketsphinx-en-us (./scripts/setup
// installs them): offline, 16 kHz, about 100 MB per recogniser. Its
// transcripts are keyword-grade on telephone speech (see the README).
package pocketsphinx

/*
#cgo pkg-config: pocketsphinx
#include <stdlib.h>
#include <stdio.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

// cmd_ln_init is variadic, which cgo cannot call.
static cmd_ln_t *cc_config(const char *hmm, const char *lm, const char *dict) {
	return cmd_ln_init(NULL, ps_args(), TRUE,
		"-hmm", hmm, "-lm", lm, "-dict", dict,
		"-samprate", "16000", "-logfn", "/dev/null", NULL);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/callcoach/callcoach/stt"
)

// Model locates the acoustic model, language model and dictionary.
type Model struct {
	HMM, LM, Dict string
}

// DefaultModel is where pocketsphinx-en-us installs the US English model.
var DefaultModel = Model{
	HMM:  "/usr/share/pocketsphinx/model/en-us/en-us",
	LM:   "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin",
	Dict: "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict",
}

// ErrNoModel: the model files are not installed.
var ErrNoModel = errors.New("pocketsphinx: model not installed (run ./scripts/setup: apt pocketsphinx-en-us)")

// Engine makes PocketSphinx recognisers.
type Engine struct{ m Model }

// NewEngine checks the model files are there.
func NewEngine(m Model) (*Engine, error) {
	for _, p := range []string{m.HMM, m.LM, m.Dict} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNoModel, err)
		}
	}
	return &Engine{m: m}, nil
}

func (e *Engine) Name() string    { return "pocketsphinx" }
func (e *Engine) SampleRate() int { return 16000 }

// sphinxbase's error log is process-wide: silence it once.
var quiet sync.Once

// NewRecognizer loads a decoder (about a second and 100 MB).
func (e *Engine) NewRecognizer() (stt.Recognizer, error) {
	quiet.Do(func() { C.err_set_logfp(nil) })
	hmm, lm, dict := C.CString(e.m.HMM), C.CString(e.m.LM), C.CString(e.m.Dict)
	defer C.free(unsafe.Pointer(hmm))
	defer C.free(unsafe.Pointer(lm))
	defer C.free(unsafe.Pointer(dict))
	cfg := C.cc_config(hmm, lm, dict)
	if cfg == nil {
		return nil, errors.New("pocketsphinx: bad configuration")
	}
	ps := C.ps_init(cfg)
	if ps == nil {
		C.cmd_ln_free_r(cfg)
		return nil, errors.New("pocketsphinx: decoder did not load")
	}
	return &recognizer{ps: ps, cfg: cfg}, nil
}

type recognizer struct {
	ps  *C.ps_decoder_t
	cfg *C.cmd_ln_t
}

func (r *recognizer) StartUtterance() error {
	if r.ps == nil {
		return stt.ErrClosed
	}
	if C.ps_start_utt(r.ps) < 0 {
		return errors.New("pocketsphinx: start utterance failed")
	}
	return nil
}

func (r *recognizer) Process(pcm []int16) error {
	if r.ps == nil {
		return stt.ErrClosed
	}
	if len(pcm) == 0 {
		return nil
	}
	if C.ps_process_raw(r.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), 0, 0) < 0 {
		return errors.New("pocketsphinx: decoding failed")
	}
	return nil
}

func (r *recognizer) Hypothesis() string {
	if r.ps == nil {
		return ""
	}
	var score C.int32
	if h := C.ps_get_hyp(r.ps, &score); h != nil {
		return C.GoString(h)
	}
	return ""
}

func (r *recognizer) EndUtterance() (string, error) {
	if r.ps == nil {
		return "", stt.ErrClosed
	}
	if C.ps_end_utt(r.ps) < 0 {
		return "", errors.New("pocketsphinx: end utterance failed")
	}
	return r.Hypothesis(), nil
}

func (r *recognizer) Close() error {
	if r.ps != nil {
		C.ps_free(r.ps)
		C.cmd_ln_free_r(r.cfg)
		r.ps, r.cfg = nil, nil
	}
	return nil
}
