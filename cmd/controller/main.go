// Command controller is callcoach's FreeSWITCH controller: `serve` runs it
// against a FreeSWITCH, `demo` runs one whole monitored call on a simulated
// FreeSWITCH.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

const usage = `callcoach controller — AI coaching and supervisor monitoring for FreeSWITCH calls

Usage:
  controller demo              run one monitored call on a simulated FreeSWITCH and print its timeline
  controller demo --live       keep two calls up on the simulated FreeSWITCH to try the supervisor commands
  controller serve [flags]     serve a real FreeSWITCH (see freeswitch/README.md)
  controller replay [--json] recording.wav
                               run the analyzer over a stereo recording and print its timeline
  controller help [command]

` + superviseUsage + `

Every serve flag can also be set with an environment variable CALLCOACH_<FLAG>
(e.g. CALLCOACH_ESL_ADDR=10.0.0.5:8021); a flag on the command line wins.
`

func main() {
	// go-redis logs its own dial failures; ours say it once, in context.
	redis.SetLogger(quietRedis{})
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "calls", "watch", "spy", "whisper", "barge", "leave", "coach", "hangup", "audit":
		return superviseCommand(ctx, args[0], args[1:], stdout, stderr)
	case "completion":
		return completionCommand(args[1:], stdout, stderr)
	case "__complete-calls":
		return completeCalls(ctx, stdout)
	case "serve":
		err = serveCommand(ctx, stop, args[1:], stderr)
	case "demo":
		err = demoCommand(ctx, args[1:], stdout, stderr)
	case "replay":
		err = replayCommand(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 && args[1] == "serve" {
			cfg := defaultConfig()
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(stdout)
			cfg.register(fs)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "controller: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "controller:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "controller:", err)
		return 1
	}
}

var errUsage = errors.New("usage")
