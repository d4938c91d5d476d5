package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/callcoach/callcoach/analysis"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/llmcoach"
	"github.com/callcoach/callcoach/streaming"
	"github.com/callcoach/callcoach/transcript"
)

// cleanupTimeout bounds what a closing call still sends to FreeSWITCH.
const cleanupTimeout = 5 * time.Second

// Call is one call's state. Its run goroutine owns the flow; the mutex
// guards what supervisors' requests read and change.
type Call struct {
	m    *Manager
	sock *esl.Call
	id   string
	name string // conference name
	log  *slog.Logger

	hungUp   chan struct{} // closed on the caller's CHANNEL_HANGUP
	hangOnce sync.Once
	// completed is closed on CHANNEL_HANGUP_COMPLETE, the last event the
	// call needs; ended when the flow is over (the watcher stops handing
	// fork events to it).
	completed    chan struct{}
	completeOnce sync.Once
	ended        chan struct{}
	forkEv       chan esl.AudioForkEvent
	confEv       *esl.Subscription

	mu        sync.Mutex
	state     bus.CallState
	conf      *conference.Conference
	agentUUID string
	monitors  map[int]*monitor // member id → a supervisor on the call
	digitsWG  sync.WaitGroup   // the monitors' DTMF watchers
	started   time.Time
	released  bool // closed by letting go: the call goes on in FreeSWITCH
	// notifyMu orders the observer's snapshots; endNotified: CallEnded sent.
	notifyMu    sync.Mutex
	endNotified bool
	coachLines  int // coaching lines played
	fork        *streaming.Session
	pipeline    *streaming.Pipeline
	follower    *transcript.Follower // speech to text, when on
	moods       [2]coaching.Mood     // each side's sentiment so far, for the coach
	// The conversation so far (for the LLM coach), its answers, and when it
	// was last asked.
	heardTurns []llmcoach.Turn
	llmLines   chan string
	llmBusy    bool
	llmAsked   time.Time
	// unregisterFork withdraws the fork's registration (its token).
	unregisterFork func()
	coaching       bool // a line is on its way to the agent
	pendingCue     cue  // the line whose play_audio we wait for
}

// cue is a coaching line on its way: spoken over the fork as playAudio,
// played to the agent when FreeSWITCH reports the file.
type cue struct {
	text, source, rule string
	priority           int
	at                 time.Time
}

func newCall(m *Manager, sock *esl.Call) *Call {
	id := uuid.NewString()
	return &Call{
		m:         m,
		sock:      sock,
		id:        id,
		name:      "cc-" + id,
		log:       m.log.With("call", id, "channel", sock.UUID()),
		hungUp:    make(chan struct{}),
		completed: make(chan struct{}),
		ended:     make(chan struct{}),
		forkEv:    make(chan esl.AudioForkEvent, 16),
		state:     bus.StatePending,
		monitors:  make(map[int]*monitor),
		started:   time.Now().UTC(),
		llmLines:  make(chan string, 1),
	}
}

// Info describes the call now.
func (c *Call) Info() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	in := Info{ID: c.id, ChannelUUID: c.sock.UUID(), Caller: c.sock.CallerIDNumber(), Callee: c.sock.DestinationNumber(),
		State: c.state, Conference: c.name, Group: c.sock.Variable("callcoach_group"), Started: c.started,
		Moods: c.moods, CoachLines: c.coachLines, Released: c.released}
	if c.conf != nil {
		in.Members = c.conf.Members()
		in.CoachMode = c.conf.CoachMode()
		for _, mb := range in.Members {
			if m, ok := c.monitors[mb.ID]; ok {
				in.Monitors = append(in.Monitors, MonitorInfo{Name: m.name, MemberID: mb.ID, ChannelUUID: mb.ChannelUUID, Mode: mb.Mode, Since: m.since})
			}
		}
	}
	if c.pipeline != nil {
		snap, st := c.pipeline.Snapshot(), c.pipeline.Stats()
		in.Analysis, in.Pipeline = &snap, &st
	}
	return in
}

func (c *Call) setState(s bus.CallState, reason string) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
	c.log.Info("call state", "state", s, "reason", reason)
	if err := c.m.deps.Bus.State(c.id, s, reason); err != nil {
		c.log.Warn("publish state", "err", err)
	}
	c.notify(s == bus.StateClosed, reason)
}

// changed tells the observer, if any.
func (c *Call) changed() { c.notify(false, "") }

// notify hands the observer a snapshot of the call. Snapshots reach it in
// the order they were taken, and nothing follows the end (a supervisor's
// request still running when the call closes must not revive it).
func (c *Call) notify(end bool, reason string) {
	o := c.m.deps.Observer
	if o == nil {
		return
	}
	c.notifyMu.Lock()
	defer c.notifyMu.Unlock()
	if c.endNotified {
		return
	}
	in := c.Info()
	if end {
		c.endNotified = true
		o.CallEnded(in, reason)
		return
	}
	o.CallChanged(in)
}

func (c *Call) isHungUp() bool {
	select {
	case <-c.hungUp:
		return true
	default:
		return false
	}
}

// watch reads the call's own socket events until the socket ends.
func (c *Call) watch(done chan<- struct{}) {
	defer close(done)
	for ev := range c.sock.Events() {
		switch {
		case ev.Name() == "CHANNEL_HANGUP" && ev.UUID() == c.sock.UUID():
			c.hangOnce.Do(func() { close(c.hungUp) })
		case ev.Name() == "CHANNEL_HANGUP_COMPLETE" && ev.UUID() == c.sock.UUID():
			c.hangOnce.Do(func() { close(c.hungUp) })
			c.completeOnce.Do(func() { close(c.completed) })
		}
		if n, ok := ev.Disconnect(); ok && n.Disposition == esl.DispositionLinger {
			c.hangOnce.Do(func() { close(c.hungUp) })
		}
		if af, ok := ev.AudioFork(); ok {
			select {
			case c.forkEv <- af:
			case <-c.ended:
			}
		}
	}
}

// run is the call's life. Every return path ends in close.
func (c *Call) run(ctx context.Context) {
	vars := map[string]string{"destination_number": c.sock.DestinationNumber(), "caller_id_number": c.sock.CallerIDNumber(), "call_id": c.id}
	c.log.Info("call arrived", "from", vars["caller_id_number"], "to", vars["destination_number"])
	c.setState(bus.StatePending, "")

	// Subscribe to the conference before anyone can join it.
	c.confEv = c.m.deps.Switch.SubscribeHeader("Conference-Name", c.name)
	watched := make(chan struct{})
	go c.watch(watched)
	reason, release := c.flow(ctx, vars)
	c.close(reason, release)
	close(c.ended)
	c.confEv.Close()
	c.mu.Lock()
	for _, m := range c.monitors {
		m.digits.Close()
	}
	c.mu.Unlock()
	c.digitsWG.Wait()
	if !release {
		// FreeSWITCH keeps the channel until this socket closes (its listener
		// holds a read lock on the session through the linger): let go as
		// soon as CHANNEL_HANGUP_COMPLETE is in, not after the linger.
		t := time.NewTimer(c.m.cfg.Linger)
		select {
		case <-c.completed:
		case <-c.sock.Done():
		case <-t.C:
		}
		t.Stop()
	}
	_ = c.sock.Close()
	<-watched
}

// flow runs the call until it ends and says why; release means the caller is
// left to FreeSWITCH (socket lost, shutdown) rather than hung up.
func (c *Call) flow(ctx context.Context, vars map[string]string) (reason string, release bool) {
	sock := c.sock
	if err := sock.MyEvents(ctx); err != nil {
		return "esl_error: " + err.Error(), true
	}
	if err := sock.Linger(ctx, c.m.cfg.Linger); err != nil {
		return "esl_error: " + err.Error(), true
	}
	if err := sock.Listen(ctx, "mod_audio_fork::connect", "mod_audio_fork::connect_failed",
		"mod_audio_fork::disconnect", "mod_audio_fork::play_audio", "mod_audio_fork::error"); err != nil {
		return "esl_error: " + err.Error(), true
	}
	if _, err := sock.Execute(ctx, "answer", ""); err != nil || c.isHungUp() {
		return endReason(c, err, "caller hung up before answer"), false
	}
	c.setState(bus.StateAnswered, "")

	if text := c.m.cfg.Greeting; text != "" {
		file, err := c.m.prompt(ctx, text)
		if err != nil {
			c.log.Error("greeting not spoken", "err", err)
		} else if _, err := sock.Execute(ctx, "playback", file); err != nil || c.isHungUp() {
			return endReason(c, err, "caller hung up during the greeting"), false
		}
	}

	join, err := sock.ExecuteAsync(ctx, "conference", fmt.Sprintf("%s@%s+flags{endconf}", c.name, c.m.cfg.ConferenceProfile))
	if err != nil {
		return endReason(c, err, "caller hung up before joining"), false
	}
	callerMember, why := c.waitMember(ctx, sock.UUID(), join)
	if why != "" {
		return why, false
	}
	c.mu.Lock()
	c.conf = conference.New(c.name, c.m.deps.Switch)
	_ = c.conf.SetCoachMode(c.m.cfg.CoachMode)
	conf := c.conf
	c.mu.Unlock()
	if err := conf.Join(ctx, conference.Member{ID: callerMember, ChannelUUID: sock.UUID(), Role: conference.RoleCaller}); err != nil {
		return "conference_error: " + err.Error(), false
	}

	agentMember, why := c.dialAgent(ctx, vars, join)
	if why != "" {
		return why, false
	}
	if err := conf.Join(ctx, conference.Member{ID: agentMember, ChannelUUID: c.agentUUID, Role: conference.RoleAgent}); err != nil {
		return "conference_error: " + err.Error(), false
	}
	c.setState(bus.StateConnected, "")
	c.publishMode("ai", 0, conf.CoachMode())

	c.startFork(ctx)
	return c.connected(ctx, join)
}

func endReason(c *Call, err error, hungUp string) string {
	if c.isHungUp() || errors.Is(err, esl.ErrHangup) {
		return hungUp
	}
	if err != nil {
		return "esl_error: " + err.Error()
	}
	return hungUp
}

// waitMember waits for the add-member of a channel in this conference.
func (c *Call) waitMember(ctx context.Context, channel string, join *esl.Execution) (int, string) {
	for {
		select {
		case ev, ok := <-c.confEv.C():
			if !ok {
				return 0, "esl_error: inbound connection closed"
			}
			if ce, _ := ev.Conference(); ce.Action == "add-member" && ce.ChannelUUID == channel {
				return ce.MemberID, ""
			}
		case <-join.Done():
			return 0, "caller left before joining the conference"
		case <-c.hungUp:
			return 0, "caller hung up before joining the conference"
		case <-ctx.Done():
			return 0, "controller shutting down"
		}
	}
}

// dialAgent originates the agent into the conference and waits for the
// agent's member to join. The caller hears the conference's hold sound.
func (c *Call) dialAgent(ctx context.Context, vars map[string]string, join *esl.Execution) (int, string) {
	dial, err := expandDial(c.m.cfg.AgentDial, vars)
	if err != nil {
		c.log.Error("no agent dial string", "err", err)
		return 0, c.noAgent(ctx, "agent_unreachable: "+err.Error())
	}
	agent := uuid.NewString()
	c.mu.Lock()
	c.agentUUID = agent
	c.mu.Unlock()
	timeout := int(c.m.cfg.AgentTimeout / time.Second)
	cmd := fmt.Sprintf("originate {origination_uuid=%s,originate_timeout=%d,origination_caller_id_number=%s,cc_call=%s,cc_role=agent}%s &conference(%s@%s+flags{endconf})",
		agent, max(timeout, 1), safeDigits(vars["caller_id_number"]), c.id, dial, c.name, c.m.cfg.ConferenceProfile)
	c.log.Info("dialling the agent", "dial", dial, "agent_channel", agent)

	// The originate outlives this function when the caller hangs up first:
	// its result is then used to make sure the agent leg dies too.
	result := make(chan error, 1)
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.m.cfg.AgentTimeout+10*time.Second)
	go func() {
		defer cancel()
		_, err := c.m.deps.Switch.BgAPI(octx, cmd)
		result <- err
	}()
	originated := false
	for {
		select {
		case err := <-result:
			if err != nil {
				c.log.Warn("agent not reached", "err", err)
				return 0, c.noAgent(ctx, "agent_"+agentCause(err))
			}
			originated = true
			result = nil
		case ev, ok := <-c.confEv.C():
			if !ok {
				c.killAgent(agent, result)
				return 0, "esl_error: inbound connection closed"
			}
			if ce, _ := ev.Conference(); ce.Action == "add-member" && ce.ChannelUUID == agent {
				return ce.MemberID, ""
			}
		case <-c.hungUp:
			c.killAgent(agent, result)
			return 0, "caller hung up while the agent was ringing"
		case <-join.Done():
			c.killAgent(agent, result)
			return 0, c.leftConference(join) + " while the agent was ringing"
		case <-ctx.Done():
			c.killAgent(agent, result)
			return 0, "controller shutting down"
		}
		_ = originated
	}
}

// agentCause names an originate failure: busy, no_answer, unreachable…
func agentCause(err error) string {
	var ce *esl.CauseError
	switch {
	case errors.Is(err, esl.ErrUserBusy):
		return "busy"
	case errors.Is(err, esl.ErrNoAnswer), errors.Is(err, esl.ErrNoUserResponse):
		return "no_answer"
	case errors.As(err, &ce):
		return "unreachable: " + ce.Cause
	}
	return "unreachable: " + err.Error()
}

// killAgent ends an agent leg that is ringing or may still be created: if
// the originate is still in flight, its success is waited for (bounded) and
// the leg killed again.
func (c *Call) killAgent(agent string, result <-chan error) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := c.m.deps.Switch.API(ctx, "uuid_kill "+agent+" ORIGINATOR_CANCEL"); err != nil && !errors.Is(err, esl.ErrNoSuchChannel) {
		c.log.Warn("killing the agent leg", "err", err)
	}
	if result == nil {
		return
	}
	select {
	case err := <-result:
		if err == nil {
			// It answered after all: it must not sit alone in a conference.
			if _, err := c.m.deps.Switch.API(ctx, "uuid_kill "+agent+" ORIGINATOR_CANCEL"); err != nil && !errors.Is(err, esl.ErrNoSuchChannel) {
				c.log.Warn("killing the late agent leg", "err", err)
			}
		}
	case <-ctx.Done():
		c.log.Error("agent originate did not finish after cancel; leg may linger", "agent_channel", agent)
	}
}

// noAgent tells the caller nobody is available and ends (or transfers) the
// call: never dead air.
func (c *Call) noAgent(ctx context.Context, reason string) string {
	c.log.Info("no agent; telling the caller", "reason", reason)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	c.mu.Lock()
	conf := c.conf
	c.mu.Unlock()
	// Out of the conference (its app completes), then a plain playback.
	if conf != nil {
		for _, mb := range conf.Members() {
			if mb.Role == conference.RoleCaller {
				if err := conf.Kick(ctx, mb.ID); err != nil {
					c.log.Warn("kick caller", "err", err)
				}
			}
		}
	}
	if file, err := c.m.prompt(ctx, c.m.cfg.NoAgentMessage); err != nil {
		c.log.Error("no-agent message not spoken", "err", err)
	} else if _, err := c.sock.Execute(ctx, "playback", file); err != nil {
		c.log.Warn("no-agent message", "err", err)
	}
	if t := c.m.cfg.NoAgentTransfer; t != "" && !c.isHungUp() {
		if _, err := c.m.deps.Switch.API(ctx, "uuid_transfer "+c.sock.UUID()+" "+t); err != nil {
			c.log.Error("no-agent transfer failed", "to", t, "err", err)
		} else {
			c.mu.Lock()
			c.state = bus.StateClosed // transferred: not ours to hang up
			c.mu.Unlock()
		}
	}
	return reason
}

// connected runs while caller and agent talk, until one leaves.
func (c *Call) connected(ctx context.Context, join *esl.Execution) (string, bool) {
	var suggestions <-chan streaming.Suggestion
	if p := c.currentPipeline(); p != nil {
		suggestions = p.Suggestions()
	}
	var heard <-chan transcript.Event
	if f := c.currentFollower(); f != nil {
		heard = f.Events()
	}
	// Live analytics for dashboards; the stream lets a consumer that was
	// down catch up, the summary on CLOSED has the final figures.
	tick := time.NewTicker(c.m.cfg.AnalyticsEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if p := c.currentPipeline(); p != nil {
				c.publishAnalytics(p.Snapshot(), p.Outcomes(), false)
			}
		case <-c.hungUp:
			return "caller hung up", false
		case <-join.Done():
			// A lost socket ends the execution too: that is not the caller leaving.
			if _, err := join.Result(); err != nil && errors.Is(err, esl.ErrClosed) && !c.isHungUp() {
				return c.socketLost()
			}
			return c.leftConference(join), false
		case <-c.sock.Done():
			return c.socketLost()
		case <-ctx.Done():
			return "controller shutting down", true
		case ev, ok := <-c.confEv.C():
			if !ok {
				c.log.Error("lost the inbound event socket; the call continues in FreeSWITCH unmonitored")
				return "esl_inbound_lost", true
			}
			if why := c.conferenceEvent(ev); why != "" {
				return why, false
			}
		case af := <-c.forkEv:
			c.forkEvent(ctx, af)
			if p := c.currentPipeline(); p != nil {
				suggestions = p.Suggestions()
			}
			if f := c.currentFollower(); f != nil && heard == nil {
				heard = f.Events()
			}
		case ev, ok := <-heard:
			if !ok {
				heard = nil
				continue
			}
			c.publishHeard(ev)
			c.askLLM(ev)
		case line := <-c.llmLines:
			c.llmBusy = false
			if line == "" {
				continue
			}
			c.mu.Lock()
			busy := c.coaching
			c.mu.Unlock()
			if busy {
				c.log.Info("LLM coaching line dropped: another line is playing", "text", line)
				continue
			}
			if _, err := c.speakToAgent(ctx, "llm", "llm", 0, line); err != nil {
				c.log.Warn("LLM coaching line not delivered", "err", err)
			}
		case s, ok := <-suggestions:
			if !ok {
				suggestions = nil
				continue
			}
			if _, err := c.speakToAgent(ctx, "ai", s.Rule, s.Priority, s.Line); err != nil {
				c.log.Warn("coaching line not delivered", "rule", s.Rule, "err", err)
				if p := c.currentPipeline(); p != nil {
					p.Finished()
				}
			}
		}
	}
}

func (c *Call) socketLost() (string, bool) {
	c.log.Error("lost the call's event socket; the call continues in FreeSWITCH unmonitored", "err", c.sock.Err())
	return "esl_socket_lost", true
}

// leftConference says why the caller's conference app ended: its
// CHANNEL_EXECUTE_COMPLETE carries Answer-State: hangup when the caller hung
// up (that event can be read before the watcher has seen CHANNEL_HANGUP).
func (c *Call) leftConference(join *esl.Execution) string {
	ev, err := join.Result()
	if c.isHungUp() || (err == nil && ev.Get("Answer-State") == "hangup") {
		return "caller hung up"
	}
	return "caller left the conference"
}

func (c *Call) conferenceEvent(ev *esl.Event) string {
	ce, _ := ev.Conference()
	c.mu.Lock()
	agent := c.agentUUID
	c.mu.Unlock()
	switch ce.Action {
	case "del-member":
		// The first to leave decides the reason: with endconf the other
		// one's del-member follows.
		if ce.ChannelUUID == c.sock.UUID() {
			if c.isHungUp() || ev.Get("Answer-State") == "hangup" {
				return "caller hung up"
			}
			return "caller left the conference"
		}
		if ce.ChannelUUID == agent {
			if ev.Get("Answer-State") == "hangup" {
				return "agent hung up"
			}
			return "agent left the conference"
		}
		c.forgetMember(ce.MemberID)
	case "conference-destroy":
		return "conference ended"
	case "play-file-member-done", "play-file-done":
		c.mu.Lock()
		playing := c.coaching && strings.Contains(ce.File, "/")
		c.mu.Unlock()
		if playing {
			c.coachDone()
		}
	}
	return ""
}

func (c *Call) coachDone() {
	c.mu.Lock()
	c.coaching = false
	p := c.pipeline
	c.mu.Unlock()
	if p != nil {
		p.Finished()
	}
}

func (c *Call) currentPipeline() *streaming.Pipeline {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pipeline
}

func (c *Call) publishMode(member string, id int, mode conference.Mode) {
	if err := c.m.deps.Bus.Mode(c.id, bus.ModeData{Mode: string(mode), Member: member, MemberID: id}); err != nil {
		c.log.Warn("publish mode", "err", err)
	}
	c.changed()
}

// close finalises the call: the agent leg, the fork and the caller are
// released, analytics written, CLOSED published.
func (c *Call) close(reason string, release bool) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	c.mu.Lock()
	p, fork, agent, transferred, unregister := c.pipeline, c.fork, c.agentUUID, c.state == bus.StateClosed, c.unregisterFork
	c.released = release
	c.mu.Unlock()
	if unregister != nil {
		defer unregister()
	}

	if p != nil {
		_ = p.Close()
	}
	if f := c.currentFollower(); f != nil {
		// The last words are finished and published before the final figures.
		f.Close()
		for ev := range f.Events() {
			c.publishHeard(ev)
		}
	}
	if p != nil {
		c.publishAnalytics(p.Snapshot(), p.Outcomes(), true)
	}
	if fork != nil {
		if _, err := c.m.deps.Switch.API(ctx, "uuid_audio_fork "+c.sock.UUID()+" stop"); err != nil && !isGone(err) {
			c.log.Warn("stopping the audio fork", "err", err)
		}
	}
	if !release {
		if agent != "" {
			if _, err := c.m.deps.Switch.API(ctx, "uuid_kill "+agent); err != nil && !isGone(err) {
				c.log.Warn("releasing the agent", "err", err)
			}
		}
		if !transferred && !c.isHungUp() {
			// After the conference the dialplan would go on (to its fallback
			// bridge): the call is over, so end it.
			if err := c.sock.Hangup(ctx, "NORMAL_CLEARING"); err != nil && !isGone(err) {
				c.log.Warn("hanging up the caller", "err", err)
			}
		}
	}
	c.setState(bus.StateClosed, reason)
}

func isGone(err error) bool {
	return errors.Is(err, esl.ErrNoSuchChannel) || errors.Is(err, esl.ErrOperationFailed) || errors.Is(err, esl.ErrClosed)
}

// forkJSON is the metadata mod_audio_fork sends first: compact, no spaces
// (a space truncates it and breaks the fork, FACTS).
func forkMetadata(callID string) string {
	b, _ := json.Marshal(map[string]string{"callId": callID})
	return string(b)
}

// Analytics is the data of a call's analytics events: the analyzer's
// measures and the coaching given so far.
type Analytics struct {
	Measures   analysis.Snapshot `json:"measures"`
	CoachLines int               `json:"coach_lines"`
	// Outcomes: did what each line's rule saw end soon after it (coaching.Outcome)?
	Outcomes []coaching.Outcome `json:"coaching_outcomes,omitempty"`
	Final    bool               `json:"final"` // the call has ended
}

func (c *Call) publishAnalytics(s analysis.Snapshot, outcomes []coaching.Outcome, final bool) {
	c.mu.Lock()
	a := Analytics{Measures: s, CoachLines: c.coachLines, Outcomes: outcomes, Final: final}
	c.mu.Unlock()
	if err := c.m.deps.Bus.Analytics(c.id, a); err != nil {
		c.log.Warn("publish analytics", "err", err)
	}
	if !final {
		c.changed()
	}
}
