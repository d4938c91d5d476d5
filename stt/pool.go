package stt

import "sync"

// Pool shares an engine's recognisers among calls and bounds how many are
// in use: a recogniser can cost a second to load and 100 MB, and decoding
// costs CPU in real time, so a controller transcribes a fixed number of
// sides at once and the other calls go without a transcript.
type Pool struct {
	engine Engine
	max    int

	mu     sync.Mutex
	inUse  int
	idle   []Recognizer
	closed bool
}

// NewPool lends at most max recognisers of engine at a time.
func NewPool(engine Engine, max int) *Pool { return &Pool{engine: engine, max: max} }

// Engine is the pool's engine.
func (p *Pool) Engine() Engine { return p.engine }

// Acquire lends a recogniser, or says there is none to spare (false).
func (p *Pool) Acquire() (Recognizer, bool, error) {
	p.mu.Lock()
	if p.closed || p.inUse >= p.max {
		p.mu.Unlock()
		return nil, false, nil
	}
	p.inUse++
	if n := len(p.idle); n > 0 {
		r := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return r, true, nil
	}
	p.mu.Unlock()
	r, err := p.engine.NewRecognizer()
	if err != nil {
		p.mu.Lock()
		p.inUse--
		p.mu.Unlock()
		return nil, false, err
	}
	return r, true, nil
}

// Release returns a recogniser; it stays loaded for the next call.
func (p *Pool) Release(r Recognizer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse--
	if p.closed {
		_ = r.Close()
		return
	}
	p.idle = append(p.idle, r)
}

// InUse is how many recognisers are lent out.
func (p *Pool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

// Close frees the idle recognisers; those lent out are freed on Release.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, r := range p.idle {
		_ = r.Close()
	}
	p.idle = nil
	return nil
}
