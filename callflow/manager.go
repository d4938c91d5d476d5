package callflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/streaming"
)

// Errors a supervisor's request can get.
var (
	ErrUnknownCall  = errors.New("callflow: unknown call")
	ErrNotConnected = errors.New("callflow: call is not connected")
)

// Manager runs calls. Handle is its esl.Server handler.
type Manager struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu    sync.Mutex
	calls map[string]*Call

	promptMu sync.Mutex // one synthesis of the same prompt at a time
}

// New makes a Manager.
func New(cfg Config, deps Deps) (*Manager, error) {
	cfg.defaults()
	if deps.Switch == nil || deps.TTS == nil || deps.Bus == nil {
		return nil, errors.New("callflow: Switch, TTS and Bus are required")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Pipeline.Logger == nil {
		cfg.Pipeline.Logger = deps.Logger
	}
	if cfg.MediaDir == "" {
		cfg.MediaDir = filepath.Join(os.TempDir(), "callcoach")
	}
	if err := os.MkdirAll(cfg.MediaDir, 0o755); err != nil {
		return nil, fmt.Errorf("callflow: media dir: %w", err)
	}
	if _, err := conference.ParseMode(string(cfg.CoachMode)); err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, deps: deps, log: deps.Logger, calls: make(map[string]*Call)}, nil
}

// Handle runs one call to its end. It is the esl.Server handler.
func (m *Manager) Handle(ctx context.Context, sock *esl.Call) {
	c := newCall(m, sock)
	m.mu.Lock()
	m.calls[c.id] = c
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.calls, c.id)
		m.mu.Unlock()
	}()
	c.run(ctx)
}

// Info describes a live call.
type Info struct {
	ID          string
	ChannelUUID string
	Caller      string
	Callee      string
	State       bus.CallState
	Conference  string
	Members     []conference.Member
	CoachMode   conference.Mode
	// Group is the dialplan's callcoach_group variable: whose agents these are.
	Group    string
	Started  time.Time
	Monitors []MonitorInfo
	// Moods is each side's sentiment (analysis.Customer, analysis.Agent),
	// known only with speech to text.
	Moods      [2]coaching.Mood
	CoachLines int
	// Released: the call was let go (shutdown, a lost socket) and goes on in
	// FreeSWITCH unmonitored; only with CallEnded.
	Released bool
	// Analysis is the analyzer's latest measures; nil while not analysed.
	Analysis *analysis.Snapshot
	Pipeline *streaming.PipelineStats
}

// MonitorInfo is a supervisor on a call.
type MonitorInfo struct {
	Name        string
	MemberID    int
	ChannelUUID string
	Mode        conference.Mode
	Since       time.Time // in this mode since
}

// Calls lists the live calls.
func (m *Manager) Calls() []Info {
	m.mu.Lock()
	calls := make([]*Call, 0, len(m.calls))
	for _, c := range m.calls {
		calls = append(calls, c)
	}
	m.mu.Unlock()
	out := make([]Info, 0, len(calls))
	for _, c := range calls {
		out = append(out, c.Info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *Manager) call(id string) (*Call, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.calls[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownCall, id)
	}
	return c, nil
}

// Call describes one live call.
func (m *Manager) Call(id string) (Info, error) {
	c, err := m.call(id)
	if err != nil {
		return Info{}, err
	}
	return c.Info(), nil
}

// AddMonitor dials a supervisor's phone into a call; it joins muted (spy) and
// is then switched to mode. It returns the supervisor's member id.
func (m *Manager) AddMonitor(ctx context.Context, callID, name, dial string, mode conference.Mode) (int, error) {
	c, err := m.call(callID)
	if err != nil {
		return 0, err
	}
	return c.addMonitor(ctx, name, dial, mode)
}

// SetMode switches a supervisor's (or, with memberID 0, the AI coach's) mode.
func (m *Manager) SetMode(ctx context.Context, callID string, memberID int, mode conference.Mode) error {
	c, err := m.call(callID)
	if err != nil {
		return err
	}
	return c.setMode(ctx, memberID, mode)
}

// Coach speaks text to the call as the AI coach's mode decides (a human
// supervisor's typed line goes the same way).
func (m *Manager) Coach(ctx context.Context, callID, source, text string) (conference.Audience, error) {
	c, err := m.call(callID)
	if err != nil {
		return conference.HeardByNobody, err
	}
	return c.speakToAgent(ctx, source, "", 0, text)
}

// WhisperToAgent speaks text to the call's agent alone, whatever the AI
// coach's mode (a supervisor's typed line).
func (m *Manager) WhisperToAgent(ctx context.Context, callID, source, text string) (conference.Audience, error) {
	c, err := m.call(callID)
	if err != nil {
		return conference.HeardByNobody, err
	}
	return c.whisperToAgent(ctx, source, text)
}

// RemoveMonitor hangs up a supervisor's leg; they leave the call.
func (m *Manager) RemoveMonitor(ctx context.Context, callID string, memberID int) error {
	c, err := m.call(callID)
	if err != nil {
		return err
	}
	return c.removeMonitor(ctx, memberID)
}

// Hangup ends a call.
func (m *Manager) Hangup(ctx context.Context, callID string) error {
	c, err := m.call(callID)
	if err != nil {
		return err
	}
	return c.sock.Hangup(ctx, "NORMAL_CLEARING")
}

// prompt synthesises text once into a WAV file FreeSWITCH can play, named by
// the text's hash so repeated prompts cost nothing.
func (m *Manager) prompt(ctx context.Context, text string) (string, error) {
	sum := sha256.Sum256([]byte(text))
	path := filepath.Join(m.cfg.MediaDir, "prompt-"+hex.EncodeToString(sum[:8])+".wav")
	m.promptMu.Lock()
	defer m.promptMu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	sp, err := m.deps.TTS.Synthesize(ctx, text)
	if err != nil {
		return "", fmt.Errorf("callflow: synthesise prompt: %w", err)
	}
	if err := sp.WriteWAVFile(path); err != nil {
		return "", fmt.Errorf("callflow: write prompt: %w", err)
	}
	return path, nil
}

// Stats are counters over the live calls, for monitoring and load tests.
type Stats struct {
	Calls      int    `json:"calls"`
	Connected  int    `json:"connected"`
	Analysed   int    `json:"analysed"` // calls whose audio reaches the analyzer now
	Frames     uint64 `json:"frames"`
	LostFrames uint64 `json:"lost_frames"`
	// LatenessMaxMS is the worst delay, over the live calls, from a frame's
	// arrival to the start of its analysis.
	LatenessMaxMS float64 `json:"lateness_max_ms"`
	// ArrivalBehindMaxMS is the worst, over the live calls, of how far
	// their audio arrived behind its own clock (FreeSWITCH or the network late).
	ArrivalBehindMaxMS float64 `json:"arrival_behind_max_ms"`
	// ArrivalBehindNowMS is the same, now (the maximum includes call set-up bursts).
	ArrivalBehindNowMS float64 `json:"arrival_behind_now_ms"`
	CoachLines         int     `json:"coach_lines"`
}

// Stats sums the live calls' counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	calls := make([]*Call, 0, len(m.calls))
	for _, c := range m.calls {
		calls = append(calls, c)
	}
	m.mu.Unlock()
	var s Stats
	for _, c := range calls {
		c.mu.Lock()
		s.Calls++
		if c.state == bus.StateConnected {
			s.Connected++
		}
		s.CoachLines += c.coachLines
		p, fork := c.pipeline, c.fork
		c.mu.Unlock()
		if fork != nil {
			fs := fork.Stats()
			s.ArrivalBehindMaxMS = max(s.ArrivalBehindMaxMS, float64(fs.BehindMax)/float64(time.Millisecond))
			s.ArrivalBehindNowMS = max(s.ArrivalBehindNowMS, float64(fs.BehindNow)/float64(time.Millisecond))
		}
		if p == nil {
			continue
		}
		st := p.Stats()
		s.Analysed++
		s.Frames += st.Frames
		s.LostFrames += st.LostFrames
		s.LatenessMaxMS = max(s.LatenessMaxMS, float64(st.LatenessMax)/float64(time.Millisecond))
	}
	return s
}
