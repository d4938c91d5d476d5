package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/callcoach/callcoach/phrases"
	"github.com/callcoach/callcoach/policy"
	"github.com/callcoach/callcoach/replay"
	"github.com/callcoach/callcoach/stt"
	"github.com/callcoach/callcoach/stt/pocketsphinx"
	"github.com/callcoach/callcoach/stt/vosk"
)

// replayCommand runs the analyzer over a recording and prints its timeline.
func replayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line: the events, then a summary")
	engine := fs.String("stt", "pocketsphinx", "speech-to-text engine: pocketsphinx, none, or a Vosk-protocol server as ws://host:port")
	partials := fs.Bool("partials", false, "include partial transcripts")
	policyFile := fs.String("policy", "", "coaching policy YAML (default: the built-in policy/default.yaml)")
	phrasesFile := fs.String("phrases", "", "YAML file of topics and compliance phrases (default: the built-in phrases/default.yaml)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: controller replay [--json] [--stt pocketsphinx|none|ws://host:port] [--policy f.yaml] [--phrases f.yaml] [--partials] recording.wav")
		fmt.Fprintln(stderr, "The recording is stereo 16 kHz 16-bit, channel 0 the customer, channel 1 the agent (as mod_audio_fork sends them).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: replay takes one recording", errUsage)
	}
	b, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	o := replay.Options{Partials: *partials}
	o.Coaching.Rules = policy.Default()
	if *policyFile != "" {
		if o.Coaching.Rules, err = policy.Load(*policyFile); err != nil {
			return err
		}
	}
	if *phrasesFile != "" {
		c, err := phrases.Load(*phrasesFile)
		if err != nil {
			return err
		}
		o.Phrases = &c
	}
	switch *engine {
	case "none", "":
	case "pocketsphinx":
		e, err := pocketsphinx.NewEngine(pocketsphinx.DefaultModel)
		if err != nil {
			return err
		}
		o.STT = e
	default:
		if !strings.HasPrefix(*engine, "ws://") && !strings.HasPrefix(*engine, "wss://") {
			return fmt.Errorf("%w: --stt %q (want pocketsphinx, none or ws://host:port)", errUsage, *engine)
		}
		o.STT = &vosk.Engine{URL: *engine}
	}
	res, err := replay.RunWAV(ctx, b, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	printTimeline(stdout, fs.Arg(0), o.STT, res)
	return nil
}

func printTimeline(w io.Writer, name string, e stt.Engine, res replay.Result) {
	engine := "no speech to text"
	if e != nil {
		engine = "speech to text by " + e.Name()
	}
	fmt.Fprintf(w, "replay of %s: %s of audio in %s (%.0f× real time), %s\n\n", name,
		res.Audio.Round(100*time.Millisecond), res.Took.Round(time.Millisecond), res.Audio.Seconds()/max(res.Took.Seconds(), 1e-6), engine)
	for _, ev := range res.Events {
		at := time.Duration(ev.AtMS) * time.Millisecond
		stamp := fmt.Sprintf("%02d:%05.2f", int(at.Minutes()), at.Seconds()-60*float64(int(at.Minutes())))
		switch ev.Kind {
		case "coaching":
			fmt.Fprintf(w, "  %s  coach     [%s] %q\n", stamp, ev.Rule, ev.Text)
		case "outcome":
			fmt.Fprintf(w, "  %s            └ [%s] %s\n", stamp, ev.Rule, ev.Text)
		case "topic":
			fmt.Fprintf(w, "  %s  topic     %s, said by the %s\n", stamp, ev.Text, ev.Side)
		case "alert":
			fmt.Fprintf(w, "  %s  ALERT     [%s] %s: %s\n", stamp, ev.Rule, ev.Side, ev.Text)
		case "disclosure":
			fmt.Fprintf(w, "  %s  ok        [%s] %s said %q\n", stamp, ev.Rule, ev.Side, ev.Text)
		case "partial":
			fmt.Fprintf(w, "  %s  %-8s  … %s\n", stamp, ev.Side, ev.Text)
		default:
			mood := ""
			if ev.Sentiment != nil {
				mood = fmt.Sprintf("  (%+.2f)", *ev.Sentiment)
			}
			fmt.Fprintf(w, "  %s  %-8s  %s%s\n", stamp, ev.Side, ev.Text, mood)
		}
	}
	s := res.Final
	cust, agent := s.Sides[0], s.Sides[1]
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	fmt.Fprintf(w, "\nsummary: customer talked %s, agent %s (agent share %.0f%%); overtalk %s (customer interrupted %d×, agent %d×); longest silence %s\n",
		r(cust.TalkTime), r(agent.TalkTime), 100*s.AgentShare, r(s.OvertalkTotal), cust.Interruptions, agent.Interruptions, r(s.LongestSilence))
	if e != nil {
		fmt.Fprintf(w, "sentiment: customer %+.2f %s, agent %+.2f %s\n",
			res.Sentiment[0].Value, res.Sentiment[0].Direction, res.Sentiment[1].Value, res.Sentiment[1].Direction)
		fmt.Fprintf(w, "topics: %s\n", strings.Join(res.Topics, ", "))
	}
}

func printJSON(w io.Writer, res replay.Result) error {
	enc := json.NewEncoder(w)
	for _, ev := range res.Events {
		if err := enc.Encode(ev); err != nil {
			return err
		}
	}
	return enc.Encode(struct {
		Kind      string                  `json:"kind"`
		AudioMS   int64                   `json:"audio_ms"`
		TookMS    int64                   `json:"took_ms"`
		Measures  any                     `json:"measures"`
		Sentiment [2]replay.SideSentiment `json:"sentiment"` // customer, agent
		Topics    []string                `json:"topics"`
	}{"summary", res.Audio.Milliseconds(), res.Took.Milliseconds(), res.Final, res.Sentiment, res.Topics})
}
