package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/bus"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/registry"
)

// Terminal control: the view is redrawn from the top-left corner, each line
// cleared to its end, the rest of the screen cleared after it — no flicker,
// and the last frame stays on screen when watch ends.
const (
	termHome      = "\x1b[H"
	termClearEOL  = "\x1b[K"
	termClearDown = "\x1b[J"
	termHide      = "\x1b[?25l"
	termShow      = "\x1b[?25h"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// screen draws frames in place on a terminal, or appends only what is new
// elsewhere (a pipe, a log).
type screen struct {
	w    io.Writer
	tty  bool
	last string
}

func (s *screen) draw(frame string) {
	if frame == s.last {
		return
	}
	s.last = frame
	if !s.tty {
		fmt.Fprintln(s.w, frame)
		return
	}
	var b bytes.Buffer
	b.WriteString(termHome)
	for _, line := range strings.Split(strings.TrimRight(frame, "\n"), "\n") {
		b.WriteString(line)
		b.WriteString(termClearEOL + "\r\n")
	}
	b.WriteString(termClearDown)
	_, _ = s.w.Write(b.Bytes())
}

func watchCommand(ctx context.Context, rdb *redis.Client, f cliFlags, call string, stdout io.Writer) error {
	scr := &screen{w: stdout, tty: isTerminal(stdout)}
	if scr.tty {
		fmt.Fprint(stdout, termHide+"\x1b[2J")
		defer fmt.Fprint(stdout, termShow)
	}
	if call == "" {
		return watchAll(ctx, rdb, scr)
	}
	rec, err := command.Client{Redis: rdb}.Resolve(ctx, call)
	if err != nil {
		return err
	}
	sub, err := bus.Subscribe(ctx, rdb, rec.ID)
	if err != nil {
		return fmt.Errorf("%w: %w", command.ErrRedis, err)
	}
	defer sub.Close()
	v := newCallView(rec)
	// The latest measures, for a watcher who joins mid-call.
	if latest, err := bus.LatestAnalytics(ctx, rdb, rec.ID); err == nil {
		v.apply(latest.Event)
	}
	events := make(chan bus.Event, 64)
	evErr := make(chan error, 1)
	ectx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			ev, err := sub.Next(ectx)
			if errors.Is(err, bus.ErrMalformed) {
				continue
			}
			if err != nil {
				evErr <- err
				return
			}
			select {
			case events <- ev:
			case <-ectx.Done():
				evErr <- ectx.Err()
				return
			}
		}
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	reader := registry.Reader{Client: rdb}
	for {
		scr.draw(v.render(time.Now()))
		if v.ended {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // Ctrl-C: a clean quit
		case err := <-evErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%w: following the call: %w", command.ErrRedis, err)
		case ev := <-events:
			v.apply(ev)
		case <-tick.C:
			if r, err := reader.Get(ctx, rec.ID); err == nil {
				v.rec = r
			} else if errors.Is(err, registry.ErrUnknownCall) && !v.ended {
				// Gone from the registry without our seeing CLOSED.
				if sum, err := bus.ReadSummary(ctx, rdb, rec.ID); err == nil {
					v.ended, v.reason = true, sum.Reason
				}
			}
		}
	}
}

func watchAll(ctx context.Context, rdb *redis.Client, scr *screen) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	reader := registry.Reader{Client: rdb}
	for {
		calls, err := reader.List(ctx)
		if ctx.Err() != nil {
			return nil // Ctrl-C: the last frame stays as it was
		}
		if err != nil {
			return fmt.Errorf("%w: %w", command.ErrRedis, err)
		}
		var b strings.Builder
		now := time.Now()
		fmt.Fprintf(&b, "callcoach: %d live call(s) at %s   (Ctrl-C quits)\n\n", len(calls), now.Format(time.TimeOnly))
		if len(calls) > 0 {
			writeCalls(&b, calls, now)
		}
		scr.draw(b.String())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// callView folds a call's events into what `watch` shows.
type callView struct {
	rec      registry.Record
	measures struct {
		AgentShare       float64 `json:"agent_share"`
		OvertalkMS       int64   `json:"overtalk_ms"`
		CurrentSilenceMS int64   `json:"current_silence_ms"`
		ElapsedMS        int64   `json:"elapsed_ms"`
		BothSpoke        bool    `json:"both_spoke"`
	}
	analysed   bool
	sentiment  map[string]float64
	transcript []string
	coaching   []string
	alerts     []string
	ended      bool
	reason     string
}

const viewLines = 8 // transcript and coaching lines kept on screen

func newCallView(rec registry.Record) *callView {
	return &callView{rec: rec, sentiment: map[string]float64{}}
}

func keep(lines []string, l string) []string {
	lines = append(lines, l)
	if len(lines) > viewLines {
		lines = lines[len(lines)-viewLines:]
	}
	return lines
}

func (v *callView) apply(ev bus.Event) {
	at := ev.At.Local().Format(time.TimeOnly)
	switch ev.Type {
	case bus.TypeCallState:
		var d bus.StateData
		if ev.DecodeData(&d) == nil {
			v.rec.State = string(d.State)
			if d.State == bus.StateClosed {
				v.ended, v.reason = true, d.Reason
			}
		}
	case bus.TypeAnalytics:
		var d struct {
			Measures   json.RawMessage `json:"measures"`
			CoachLines int             `json:"coach_lines"`
		}
		if ev.DecodeData(&d) == nil && json.Unmarshal(d.Measures, &v.measures) == nil {
			v.analysed = true
		}
	case bus.TypeSpeech:
		var d bus.SpeechData
		if ev.DecodeData(&d) == nil {
			v.sentiment[d.Side] = d.Sentiment
			v.transcript = keep(v.transcript, fmt.Sprintf("%s %-8s %+.2f  %s", at, d.Side, d.Sentiment, d.Text))
		}
	case bus.TypeCoachLine:
		var d bus.CoachLineData
		if ev.DecodeData(&d) == nil {
			who := d.Source
			if d.Rule != "" {
				who += " (" + d.Rule + ")"
			}
			v.coaching = keep(v.coaching, fmt.Sprintf("%s %s -> %s: %s", at, who, dash(d.HeardBy), d.Text))
		}
	case bus.TypeAlert:
		var d bus.AlertData
		if ev.DecodeData(&d) == nil {
			v.alerts = keep(v.alerts, fmt.Sprintf("%s %s %s %s %q", at, d.Kind, d.Rule, d.Side, d.Phrase))
		}
	case bus.TypeCallMode:
		var d bus.ModeData
		if ev.DecodeData(&d) == nil && d.Member == "ai" {
			v.rec.CoachMode = d.Mode
		}
	}
}

func (v *callView) render(now time.Time) string {
	r := v.rec
	var b strings.Builder
	fmt.Fprintf(&b, "callcoach watch: call %s   (Ctrl-C quits)\n", r.ID)
	state := r.State
	if r.Orphaned {
		state = "ORPHANED (controller " + r.Owner + " is gone)"
	}
	fmt.Fprintf(&b, "caller %s -> agent %s (group %s)   %s   %s   controller %s\n", dash(r.Caller), dash(r.Callee), dash(r.Group), state, age(now.Sub(r.Started)), r.Owner)
	var mons []string
	for _, m := range r.Monitors {
		mons = append(mons, fmt.Sprintf("%s %s since %s", m.Name, m.Mode, m.Since.Local().Format(time.TimeOnly)))
	}
	if r.CoachMode != "" {
		mons = append(mons, "ai coach "+r.CoachMode)
	}
	fmt.Fprintf(&b, "monitoring: %s\n\n", dash(strings.Join(mons, ", ")))
	if v.analysed {
		m := v.measures
		fmt.Fprintf(&b, "talk: agent %.0f%% / customer %.0f%%   overtalk %.1f s   silence now %.1f s\n",
			100*m.AgentShare, 100*(1-m.AgentShare), float64(m.OvertalkMS)/1000, float64(m.CurrentSilenceMS)/1000)
	} else {
		b.WriteString("talk: (no measures yet)\n")
	}
	sent := func(side string) string {
		if r.Live != nil {
			if md, ok := r.Live.Sentiment[side]; ok {
				return fmt.Sprintf("%+.2f %s", md.Value, md.Direction)
			}
		}
		if s, ok := v.sentiment[side]; ok {
			return fmt.Sprintf("%+.2f", s)
		}
		return "-"
	}
	fmt.Fprintf(&b, "sentiment: customer %s   agent %s\n\n", sent("customer"), sent("agent"))
	b.WriteString("transcript:\n")
	if len(v.transcript) == 0 {
		b.WriteString("  (nothing yet)\n")
	}
	for _, l := range v.transcript {
		b.WriteString("  " + l + "\n")
	}
	b.WriteString("\ncoaching given:\n")
	if len(v.coaching) == 0 {
		b.WriteString("  (none yet)\n")
	}
	for _, l := range v.coaching {
		b.WriteString("  " + l + "\n")
	}
	if len(v.alerts) > 0 {
		b.WriteString("\nalerts:\n")
		for _, l := range v.alerts {
			b.WriteString("  " + l + "\n")
		}
	}
	if v.ended {
		fmt.Fprintf(&b, "\ncall ended: %s\n", dash(v.reason))
	}
	return b.String()
}
