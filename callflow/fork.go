package callflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/coaching"
	"github.com/callcoach/callcoach/conference"
	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/llmcoach"
	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/sentiment"
	"github.com/callcoach/callcoach/streaming"
	"github.com/callcoach/callcoach/transcript"
)

// startFork streams the caller's leg (stereo: the caller in channel 0, what
// the caller hears — the agent — in channel 1) to the analyzer. A call whose
// fork cannot start goes on unmonitored.
func (c *Call) startFork(ctx context.Context) bool {
	if c.m.deps.Forks == nil || c.m.cfg.ForkURL == "" {
		c.log.Info("no analyzer configured; call is not analysed")
		return false
	}
	token, err := streaming.NewToken()
	if err != nil {
		c.log.Error("fork token", "err", err)
		return false
	}
	sess, unregister, err := c.m.deps.Forks.Expect(c.id, token)
	if err != nil {
		c.log.Error("fork registration", "err", err)
		return false
	}
	url := streaming.ForkURL(c.m.cfg.ForkURL, c.m.cfg.ForkPathPrefix, c.id, token)
	cmd := fmt.Sprintf("uuid_audio_fork %s start %s stereo 16k %s", c.sock.UUID(), url, forkMetadata(c.id))
	if _, err := c.m.deps.Switch.API(ctx, cmd); err != nil {
		unregister()
		c.log.Error("audio fork not started; call continues unmonitored", "err", err)
		return false
	}
	timer := time.NewTimer(c.m.cfg.ForkConnectTimeout)
	defer timer.Stop()
	for {
		select {
		case af := <-c.forkEv:
			switch af.Kind {
			case "connect":
				pcfg := c.m.cfg.Pipeline
				if c.m.cfg.CoachingRules != nil {
					// The policy as it is now: a reload applies to calls connected after it.
					pcfg.Coaching.Rules = c.m.cfg.CoachingRules()
				}
				if tc := c.m.cfg.Transcripts; tc != nil {
					// One follower for the call, across fork restarts.
					c.mu.Lock()
					if c.follower == nil {
						c.follower = transcript.Start(*tc, c.log.With("component", "transcript"))
					}
					fol := c.follower
					c.mu.Unlock()
					pcfg.OnFrame = func(pcm []int16, channels int, talking [2]bool) {
						if channels == 2 {
							fol.Frame(pcm, talking)
						}
					}
				}
				p, err := streaming.NewPipeline(context.WithoutCancel(ctx), sess, pcfg)
				if err != nil {
					unregister()
					c.log.Error("analysis pipeline", "err", err)
					return false
				}
				c.mu.Lock()
				c.fork, c.pipeline, c.unregisterFork = sess, p, unregister
				p.SetMood(c.moods) // what was said before a fork restart still counts
				c.mu.Unlock()
				c.log.Info("audio fork connected")
				return true
			case "connect_failed":
				unregister()
				c.log.Error("audio fork could not reach the analyzer; call continues unmonitored", "detail", string(af.Body))
				return false
			}
		case <-timer.C:
			unregister()
			c.stopFork()
			c.log.Error("audio fork did not connect in time; call continues unmonitored", "timeout", c.m.cfg.ForkConnectTimeout)
			return false
		case <-c.hungUp:
			unregister()
			return false
		}
	}
}

func (c *Call) stopFork() {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := c.m.deps.Switch.API(ctx, "uuid_audio_fork "+c.sock.UUID()+" stop"); err != nil && !isGone(err) {
		c.log.Warn("stopping the audio fork", "err", err)
	}
}

// forkEvent handles mod_audio_fork events during the conversation.
func (c *Call) forkEvent(ctx context.Context, af esl.AudioForkEvent) {
	switch af.Kind {
	case "play_audio":
		var body struct {
			File string `json:"file"`
		}
		if err := json.Unmarshal(af.Body, &body); err != nil || body.File == "" {
			c.log.Warn("play_audio without a file", "body", string(af.Body))
			c.coachDone()
			return
		}
		c.mu.Lock()
		cue := c.pendingCue
		c.pendingCue = cueNone
		c.mu.Unlock()
		c.playCue(ctx, cue, body.File)
	case "disconnect", "error":
		c.mu.Lock()
		p, unregister := c.pipeline, c.unregisterFork
		c.fork, c.pipeline, c.unregisterFork = nil, nil, nil
		c.mu.Unlock()
		if p != nil {
			_ = p.Close()
		}
		if unregister != nil {
			unregister()
		}
		// mod_audio_fork never reconnects by itself: stop, then start afresh once.
		c.log.Warn("analyzer websocket lost; restarting the fork once", "kind", af.Kind)
		c.stopFork()
		if !c.startFork(ctx) {
			c.log.Error("analyzer websocket lost for good; call continues unmonitored")
		}
	}
}

var cueNone = cue{}

// playCue plays a coaching file as the AI coach's mode decides and reports
// who heard it.
func (c *Call) playCue(ctx context.Context, cu cue, file string) {
	c.mu.Lock()
	conf := c.conf
	c.mu.Unlock()
	if conf == nil || cu == cueNone {
		c.coachDone()
		return
	}
	audience, err := conf.Coach(ctx, file)
	if err != nil || audience == conference.HeardByNobody {
		if err != nil {
			c.log.Warn("coaching line not played", "err", err)
		} else {
			c.log.Info("coaching line held back: the coach is in spy", "text", cu.text)
		}
		c.coachDone()
		return
	}
	latency := time.Duration(0)
	if !cu.at.IsZero() {
		latency = time.Since(cu.at)
	}
	c.log.Info("coaching line played", "text", cu.text, "heard_by", audience, "latency", latency)
	c.publishCoachLine(bus.CoachLineData{Text: cu.text, Source: cu.source, Rule: cu.rule, Priority: cu.priority, HeardBy: string(audience)})
}

// speakToAgent sends a coaching line: over the fork as playAudio when the
// analyzer is connected (works when FreeSWITCH is on another host), else as
// a prompt file played directly.
func (c *Call) speakToAgent(ctx context.Context, source, rule string, priority int, text string) (conference.Audience, error) {
	c.mu.Lock()
	conf, fork := c.conf, c.fork
	c.mu.Unlock()
	if conf == nil {
		return conference.HeardByNobody, ErrNotConnected
	}
	if conf.CoachMode() == conference.Spy {
		c.log.Info("coaching line held back: the coach is in spy", "text", text)
		return conference.HeardByNobody, nil
	}
	cu := cue{text: text, source: source, rule: rule, priority: priority, at: time.Now()}
	if fork != nil && source == "ai" {
		sp, err := c.m.deps.TTS.Synthesize(ctx, text)
		if err != nil {
			return conference.HeardByNobody, fmt.Errorf("callflow: synthesise coaching line: %w", err)
		}
		c.mu.Lock()
		c.coaching, c.pendingCue = true, cu
		c.mu.Unlock()
		if err := fork.PlayAudio(ctx, streaming.Audio{PCM: sp.PCM(), SampleRate: sp.Rate}, text); err != nil {
			c.mu.Lock()
			c.coaching, c.pendingCue = false, cueNone
			c.mu.Unlock()
			return conference.HeardByNobody, err
		}
		return conference.HeardByNobody, nil // played when FreeSWITCH reports the file
	}
	file, err := c.m.prompt(ctx, text)
	if err != nil {
		return conference.HeardByNobody, err
	}
	audience, err := conf.Coach(ctx, file)
	if err != nil {
		return audience, err
	}
	c.publishCoachLine(bus.CoachLineData{Text: text, Source: source, Rule: rule, Priority: priority, HeardBy: string(audience)})
	return audience, nil
}

// addMonitor dials a supervisor into the conference, muted, then sets mode.
func (c *Call) addMonitor(ctx context.Context, name, dial string, mode conference.Mode) (int, error) {
	c.mu.Lock()
	conf := c.conf
	connected := c.state == bus.StateConnected
	c.mu.Unlock()
	if conf == nil || !connected {
		return 0, ErrNotConnected
	}
	leg := uuid.NewString()
	sub := c.m.deps.Switch.SubscribeHeader("Conference-Name", c.name)
	defer sub.Close()
	cmd := fmt.Sprintf("originate {origination_uuid=%s,originate_timeout=30,cc_call=%s,cc_role=monitor}%s &conference(%s@%s+flags{mute})",
		leg, c.id, dial, c.name, c.m.cfg.ConferenceProfile)
	if _, err := c.m.deps.Switch.BgAPI(ctx, cmd); err != nil {
		// The originate may go on in FreeSWITCH (we stopped waiting, or the
		// connection dropped): its phone must not ring on, or join unseen.
		_, _ = c.m.deps.Switch.API(context.WithoutCancel(ctx), "uuid_kill "+leg)
		return 0, fmt.Errorf("callflow: dialling supervisor %s: %w", name, err)
	}
	var id int
	for id == 0 {
		select {
		case ev, ok := <-sub.C():
			if !ok {
				return 0, fmt.Errorf("callflow: supervisor %s: %w", name, esl.ErrClosed)
			}
			if ce, ok := ev.Conference(); ok && ce.Action == "add-member" && ce.ChannelUUID == leg {
				id = ce.MemberID
			}
		case <-ctx.Done():
			_, _ = c.m.deps.Switch.API(context.WithoutCancel(ctx), "uuid_kill "+leg)
			return 0, ctx.Err()
		}
	}
	if err := conf.Join(ctx, conference.Member{ID: id, ChannelUUID: leg, Role: conference.RoleMonitor}); err != nil {
		return id, err
	}
	digits := c.m.deps.Switch.SubscribeHeader("Unique-ID", leg)
	c.mu.Lock()
	select {
	case <-c.ended: // the call ended while the supervisor's phone rang
		c.mu.Unlock()
		digits.Close()
		_, _ = c.m.deps.Switch.API(context.WithoutCancel(ctx), "uuid_kill "+leg)
		return id, ErrNotConnected
	default:
	}
	m := &monitor{leg: leg, name: name, since: time.Now().UTC(), digits: digits}
	c.monitors[id] = m
	c.digitsWG.Add(1)
	c.mu.Unlock()
	go c.watchDigits(digits, id)
	if mode != conference.Spy {
		if err := conf.SetMode(ctx, id, mode); err != nil {
			// Reported as failed: then they must not stay on the call.
			_, _ = c.m.deps.Switch.API(context.WithoutCancel(ctx), "uuid_kill "+leg)
			return id, err
		}
		c.mu.Lock()
		m.since = time.Now().UTC()
		c.mu.Unlock()
	}
	c.publishMode(name, id, mode)
	return id, nil
}

// watchDigits hands a supervisor's DTMF digits to the observer until the
// subscription closes (they left, or the call ended).
func (c *Call) watchDigits(sub *esl.Subscription, member int) {
	defer c.digitsWG.Done()
	for ev := range sub.C() {
		if ev.Name() != "DTMF" {
			continue
		}
		digit := ev.Get("DTMF-Digit")
		o := c.m.deps.Observer
		if o == nil || digit == "" {
			continue
		}
		for _, mi := range c.Info().Monitors {
			if mi.MemberID == member {
				o.MonitorDigit(c.id, mi, digit)
			}
		}
	}
}

// removeMonitor hangs up a supervisor's leg; the conference's del-member
// then takes them off the call.
func (c *Call) removeMonitor(ctx context.Context, memberID int) error {
	c.mu.Lock()
	m, ok := c.monitors[memberID]
	c.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: member %d", conference.ErrNotMonitor, memberID)
	}
	_, err := c.m.deps.Switch.API(ctx, "uuid_kill "+m.leg+" NORMAL_CLEARING")
	switch {
	case err == nil:
		return nil // its del-member takes them off the call
	case errors.Is(err, esl.ErrNoSuchChannel):
		// Already gone, and its del-member came before we knew the leg.
		c.forgetMember(memberID)
		return nil
	}
	return fmt.Errorf("callflow: hanging up supervisor leg: %w", err)
}

// monitor is a supervisor on the call.
type monitor struct {
	leg    string // the supervisor's channel
	name   string
	since  time.Time         // in the current mode since
	digits *esl.Subscription // the leg's DTMF
}

// forgetMember takes a member that left off the conference's books, and a
// supervisor off the call's.
func (c *Call) forgetMember(memberID int) {
	c.mu.Lock()
	m, ok := c.monitors[memberID]
	delete(c.monitors, memberID)
	conf := c.conf
	c.mu.Unlock()
	if conf != nil {
		conf.Leave(memberID)
	}
	if ok {
		m.digits.Close()
		c.publishMode(m.name, memberID, "off")
	}
}

// whisperToAgent plays text to the agent alone.
func (c *Call) whisperToAgent(ctx context.Context, source, text string) (conference.Audience, error) {
	c.mu.Lock()
	conf := c.conf
	c.mu.Unlock()
	if conf == nil {
		return conference.HeardByNobody, ErrNotConnected
	}
	agent, ok := conf.Agent()
	if !ok {
		return conference.HeardByNobody, conference.ErrNoAgent
	}
	file, err := c.m.prompt(ctx, text)
	if err != nil {
		return conference.HeardByNobody, err
	}
	if err := conf.PlayTo(ctx, file, agent.ID); err != nil {
		return conference.HeardByNobody, err
	}
	c.publishCoachLine(bus.CoachLineData{Text: text, Source: source, HeardBy: string(conference.HeardByAgent)})
	return conference.HeardByAgent, nil
}

func (c *Call) setMode(ctx context.Context, memberID int, mode conference.Mode) error {
	c.mu.Lock()
	conf := c.conf
	c.mu.Unlock()
	if conf == nil {
		return ErrNotConnected
	}
	if memberID == 0 {
		if err := conf.SetCoachMode(mode); err != nil {
			return err
		}
		c.publishMode("ai", 0, mode)
		return nil
	}
	if err := conf.SetMode(ctx, memberID, mode); err != nil {
		return err
	}
	name := "supervisor"
	c.mu.Lock()
	if m, ok := c.monitors[memberID]; ok {
		name, m.since = m.name, time.Now().UTC()
	}
	c.mu.Unlock()
	c.publishMode(name, memberID, mode)
	return nil
}

func (c *Call) publishCoachLine(l bus.CoachLineData) {
	c.mu.Lock()
	c.coachLines++
	c.mu.Unlock()
	if err := c.m.deps.Bus.CoachLine(c.id, l); err != nil {
		c.log.Warn("publish coach line", "err", err)
	}
}

// publishHeard publishes what the transcript follower reported.
func (c *Call) publishHeard(ev transcript.Event) {
	found := ev.Found
	if u := ev.Utterance; u != nil {
		found = u.Found
		sd := bus.SpeechData{Side: u.Side.String(), Text: u.Text, StartMS: u.Start.Milliseconds(), EndMS: u.End.Milliseconds(),
			Sentiment: u.Sentiment, WPM: math.Round(u.WordsPerMinute)}
		for _, f := range found {
			switch f.Kind {
			case phrases.Topic:
				sd.Topics = append(sd.Topics, f.Name)
			case phrases.Disclosed:
				sd.Disclosed = append(sd.Disclosed, f.Name)
			}
		}
		if err := c.m.deps.Bus.Speech(c.id, sd); err != nil {
			c.log.Warn("publish speech", "err", err)
		}
		// The coach's rules may look at how the sides' sentiment goes.
		c.mu.Lock()
		c.moods[u.Side] = coaching.Mood{Known: true, Value: u.Trend, Falling: u.Direction == sentiment.Falling, Rising: u.Direction == sentiment.Rising}
		moods, p := c.moods, c.pipeline
		c.mu.Unlock()
		if p != nil {
			p.SetMood(moods)
		}
	}
	for _, f := range found {
		if f.Kind != phrases.Said && f.Kind != phrases.Missing {
			continue
		}
		c.log.Warn("compliance alert", "rule", f.Name, "kind", f.Kind, "side", f.Side, "phrase", f.Phrase)
		if err := c.m.deps.Bus.Alert(c.id, bus.AlertData{Rule: f.Name, Kind: f.Kind, Side: f.Side, Phrase: f.Phrase, AtMS: f.At.Milliseconds()}); err != nil {
			c.log.Warn("publish alert", "err", err)
		}
	}
}

func (c *Call) currentFollower() *transcript.Follower {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.follower
}

// askLLM asks the LLM coach, if there is one, after a customer utterance:
// one question at a time, at most every LLMCooldown, within the client's
// own budget. The answer comes back on llmLines.
func (c *Call) askLLM(ev transcript.Event) {
	u := ev.Utterance
	if u == nil {
		return
	}
	c.heardTurns = append(c.heardTurns, llmcoach.Turn{Side: u.Side.String(), Text: u.Text})
	if n := len(c.heardTurns); n > 12 {
		c.heardTurns = append(c.heardTurns[:0], c.heardTurns[n-12:]...)
	}
	llm := c.m.cfg.LLM
	if llm == nil || u.Side != analysis.Customer || c.llmBusy || time.Since(c.llmAsked) < c.m.cfg.LLMCooldown {
		return
	}
	c.llmBusy, c.llmAsked = true, time.Now()
	turns := append([]llmcoach.Turn(nil), c.heardTurns...)
	out := c.llmLines
	go func() { // ends within the client's time budget
		line, err := llm.Suggest(context.Background(), turns)
		if err != nil {
			c.log.Warn("LLM coach", "err", err)
		}
		out <- line // buffered: never blocks
	}()
}
