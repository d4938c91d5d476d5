package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/audit"
	"github.com/callcoach/callcoach/command"
	"github.com/callcoach/callcoach/registry"
)

// Exit codes of the supervisor commands, for scripts.
const (
	exitOK          = 0
	exitFailed      = 1 // the command failed on the controller, or anything else
	exitUsage       = 2
	exitUnknownCall = 3 // no such live call, or it has ended
	exitDenied      = 4 // not permitted (or the action could not be audited)
	exitUnreachable = 5 // the owning controller is down, cut off or did not answer
	exitRedis       = 6 // Redis unreachable
)

const superviseUsage = `Supervisor commands (any controller's calls, through Redis):
  controller calls [--json]                 the live calls: age, parties, state, sentiment, who monitors
  controller watch [call]                   follow one call (or all) live; Ctrl-C quits
  controller spy|whisper|barge <call> [--phone <dial-string>]
                                            join your phone to the call in that mode, or switch mode
  controller leave <call>                   hang up your monitoring leg
  controller coach <call> "text"            speak text to the agent alone
  controller hangup <call>                  end the call
  controller audit [--since 1h] [--json]    the audit stream: every monitoring action
  controller completion bash|zsh            shell completion script

<call> is a call id or any unique prefix of it (as ` + "`calls`" + ` shows it).
Flags (or environment): --redis-addr (CALLCOACH_REDIS_ADDR, default 127.0.0.1:6379),
--as <supervisor> (CALLCOACH_SUPERVISOR, default $USER), --timeout, --json.
On the phone: 1 spy, 2 whisper, 3 barge.

Examples:
  controller calls
  controller watch 3f2a
  controller whisper 3f2a --phone user/2001
  controller coach 3f2a "Offer the callback option"
  controller barge 3f2a && controller spy 3f2a
  controller leave 3f2a

Exit codes: 0 done, 1 failed or interrupted, 2 usage, 3 unknown or ended call, 4 not permitted,
5 owner controller unreachable (the call is orphaned or it did not answer), 6 Redis unreachable.
`

// cliFlags are the flags every supervisor command takes.
type cliFlags struct {
	redisAddr string
	as        string
	timeout   time.Duration
	json      bool
	phone     string
	since     time.Duration
}

func (f *cliFlags) register(fs *flag.FlagSet, name string) {
	fs.StringVar(&f.redisAddr, "redis-addr", envOr("redis-addr", "127.0.0.1:6379"), "Redis shared by the controllers")
	fs.StringVar(&f.as, "as", whoami(), "your supervisor name (as in the supervisors file)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
	def := 5 * time.Second
	if name == "spy" || name == "whisper" || name == "barge" {
		def = 45 * time.Second // the supervisor's phone rings first
	}
	fs.DurationVar(&f.timeout, "timeout", def, "how long to wait for the owning controller")
	switch name {
	case "spy", "whisper", "barge":
		fs.StringVar(&f.phone, "phone", "", "dial string of your phone (default: yours in the supervisors file)")
	case "audit":
		fs.DurationVar(&f.since, "since", time.Hour, "how far back")
	}
}

// whoami is the supervisor's name by default: CALLCOACH_SUPERVISOR, else
// the login name.
func whoami() string {
	if v, ok := env("supervisor"); ok {
		return v
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// parseInterspersed lets flags follow the positional arguments
// (`whisper 3f2a --phone user/2001`), as supervisors type them.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// superviseCommand runs one supervisor command and returns its exit code.
func superviseCommand(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	var f cliFlags
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stdout, superviseUsage) } // asked for with --help: not an error
	f.register(fs, name)
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	want := map[string][2]int{"calls": {0, 0}, "watch": {0, 1}, "spy": {1, 1}, "whisper": {1, 1}, "barge": {1, 1},
		"leave": {1, 1}, "coach": {2, 2}, "hangup": {1, 1}, "audit": {0, 0}}[name]
	if len(pos) < want[0] || len(pos) > want[1] {
		fmt.Fprintf(stderr, "controller %s: wrong number of arguments\n\n%s", name, superviseUsage)
		return exitUsage
	}
	if f.as == "" && name != "calls" && name != "watch" && name != "audit" {
		fmt.Fprintln(stderr, "controller: who are you? give --as <name> or set CALLCOACH_SUPERVISOR")
		return exitUsage
	}
	// ContextTimeoutEnabled: Ctrl-C ends a BLPOP at once.
	rdb := redis.NewClient(&redis.Options{Addr: f.redisAddr, MaxRetries: -1, DialTimeout: 2 * time.Second, ContextTimeoutEnabled: true})
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "controller: Redis at %s unreachable: %v\n", f.redisAddr, err)
		return exitRedis
	}
	switch name {
	case "calls":
		err = listCalls(ctx, rdb, f, stdout)
	case "watch":
		var call string
		if len(pos) == 1 {
			call = pos[0]
		}
		err = watchCommand(ctx, rdb, f, call, stdout)
	case "audit":
		err = auditCommand(ctx, rdb, f, stdout)
	default:
		err = sendCommand(ctx, rdb, f, command.Op(name), pos, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "controller:", err)
	}
	return exitCode(err)
}

func exitCode(err error) int {
	var refused *command.Error
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitFailed // interrupted: the outcome is unknown
	case errors.As(err, &refused) && refused.Code == command.CodeBadRequest:
		return exitFailed // the controller refused it (not on the call, no phone, busy)
	case errors.Is(err, command.ErrUnknownCall), errors.Is(err, command.ErrCallClosed):
		return exitUnknownCall
	case errors.Is(err, command.ErrNotPermitted), errors.Is(err, command.ErrNoAudit):
		return exitDenied
	case errors.Is(err, command.ErrOwnerUnreachable):
		return exitUnreachable
	case errors.Is(err, command.ErrRedis):
		return exitRedis
	case errors.Is(err, command.ErrBadRequest):
		return exitUsage
	}
	return exitFailed
}

func sendCommand(ctx context.Context, rdb *redis.Client, f cliFlags, op command.Op, pos []string, stdout io.Writer) error {
	req := command.Request{Call: pos[0], Op: op, Supervisor: f.as, Phone: f.phone}
	if op == command.Coach {
		req.Text = pos[1]
	}
	start := time.Now()
	rep, err := command.Client{Redis: rdb, Timeout: f.timeout}.Do(ctx, req)
	if err != nil {
		return err
	}
	took := time.Since(start)
	if f.json {
		return json.NewEncoder(stdout).Encode(rep)
	}
	switch {
	case op.IsMode():
		fmt.Fprintf(stdout, "%s: %s on call %s (member %d, controller %s, %s)\n", f.as, rep.Mode, shortID(rep.Call), rep.MemberID, rep.Controller, took.Round(time.Millisecond))
	case op == command.Leave:
		fmt.Fprintf(stdout, "%s left call %s\n", f.as, req.Call)
	case op == command.Coach:
		fmt.Fprintf(stdout, "spoken to the agent on call %s (heard by: %s)\n", req.Call, rep.HeardBy)
	case op == command.Hangup:
		fmt.Fprintf(stdout, "call %s hung up\n", req.Call)
	}
	return nil
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func listCalls(ctx context.Context, rdb *redis.Client, f cliFlags, stdout io.Writer) error {
	calls, err := registry.Reader{Client: rdb}.List(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", command.ErrRedis, err)
	}
	if f.json {
		return writeJSONList(stdout, calls)
	}
	if len(calls) == 0 {
		fmt.Fprintln(stdout, "no live calls")
		return nil
	}
	writeCalls(stdout, calls, time.Now())
	return nil
}

// writeCalls prints the calls table (also the overview of `watch`).
func writeCalls(w io.Writer, calls []registry.Record, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tAGE\tSTATE\tCALLER\tAGENT\tGROUP\tCUSTOMER MOOD\tAGENT MOOD\tAGENT TALK\tMONITORS\tOWNER")
	orphans := 0
	for _, c := range calls {
		state, owner := c.State, c.Owner
		if c.Orphaned {
			orphans++
			state = "ORPHANED"
			owner += " (gone)"
		}
		cust, agent, talk := "-", "-", "-"
		if c.Live != nil {
			cust, agent = mood(c.Live.Sentiment["customer"]), mood(c.Live.Sentiment["agent"])
			talk = fmt.Sprintf("%.0f%%", 100*c.Live.AgentTalkShare)
		}
		var mons []string
		for _, m := range c.Monitors {
			mons = append(mons, m.Name+":"+m.Mode)
		}
		if c.CoachMode != "" {
			mons = append(mons, "ai:"+c.CoachMode)
		}
		sort.Strings(mons)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortID(c.ID), age(now.Sub(c.Started)), state, dash(c.Caller), dash(c.Callee),
			dash(c.Group), cust, agent, talk, dash(strings.Join(mons, ",")), owner)
	}
	_ = tw.Flush()
	if orphans > 0 {
		fmt.Fprintf(w, "\n%d orphaned call(s): their controller is gone; they may still be up in FreeSWITCH, unmonitored.\n", orphans)
		for _, c := range calls {
			if c.Orphaned {
				seen := "never seen"
				if !c.OwnerLastSeen.IsZero() {
					seen = "last seen " + age(now.Sub(c.OwnerLastSeen)) + " ago"
				}
				fmt.Fprintf(w, "  %s  channel %s  owner %s %s\n", c.ID, c.Channel, c.Owner, seen)
			}
		}
	}
}

// mood shows a side's sentiment trend; "-" when nothing was transcribed.
func mood(m registry.Mood) string {
	if m.Direction == "" {
		return "-"
	}
	return fmt.Sprintf("%+.2f %s", m.Value, m.Direction)
}

// writeJSONList prints a listing as an indented JSON array; none is [],
// not null, for scripts.
func writeJSONList[T any](w io.Writer, list []T) error {
	if list == nil {
		list = []T{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func age(d time.Duration) string {
	d = d.Round(time.Second)
	if d < 0 {
		d = 0
	}
	if d >= time.Hour {
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func auditCommand(ctx context.Context, rdb *redis.Client, f cliFlags, stdout io.Writer) error {
	entries, err := audit.Read(ctx, rdb, time.Now().Add(-f.since), 10000)
	if err != nil {
		return fmt.Errorf("%w: %w", command.ErrRedis, err)
	}
	if f.json {
		return writeJSONList(stdout, entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tSUPERVISOR\tCALL\tAGENT\tACTION\tMODE\tSINCE\tUNTIL\tVIA\tDETAIL")
	for _, e := range entries {
		detail := e.Text
		if e.Reason != "" {
			detail = e.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Local().Format("2006-01-02 15:04:05"), e.Supervisor, shortID(e.Call), dash(e.Agent),
			e.Action, dash(e.Mode), clock(e.Since), clock(e.Until), dash(e.Via), detail)
	}
	return tw.Flush()
}

func clock(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.TimeOnly)
}

// completionCommand prints a shell completion script.
func completionCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprintln(stderr, "usage: controller completion bash|zsh   (e.g. source <(controller completion bash))")
		return exitUsage
	}
	script := bashCompletion
	if args[0] == "zsh" {
		script = "autoload -U +X bashcompinit && bashcompinit\n" + bashCompletion
	}
	fmt.Fprint(stdout, script)
	return exitOK
}

// The script completes subcommands, flags, and call ids from the registry
// (through `controller __complete-calls`).
const bashCompletion = `# callcoach controller completion
_callcoach_controller() {
    local cur prev cmd
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd="${COMP_WORDS[1]}"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=( $(compgen -W "calls watch spy whisper barge leave coach hangup audit serve demo replay completion help" -- "$cur") )
        return
    fi
    case "$prev" in
        --redis-addr|--as|--phone|--timeout|--since) return ;;
    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=( $(compgen -W "--redis-addr --as --json --timeout --phone --since --help" -- "$cur") )
        return
    fi
    case "$cmd" in
        watch|spy|whisper|barge|leave|coach|hangup)
            if [ "$COMP_CWORD" -eq 2 ]; then
                COMPREPLY=( $(compgen -W "$("${COMP_WORDS[0]}" __complete-calls 2>/dev/null)" -- "$cur") )
            fi ;;
        completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
    esac
}
complete -F _callcoach_controller controller
`

// completeCalls prints the live calls' short ids, for completion.
func completeCalls(ctx context.Context, stdout io.Writer) int {
	rdb := redis.NewClient(&redis.Options{Addr: envOr("redis-addr", "127.0.0.1:6379"), MaxRetries: -1, DialTimeout: time.Second})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	calls, err := registry.Reader{Client: rdb}.List(ctx)
	if err != nil {
		return exitRedis
	}
	for _, c := range calls {
		fmt.Fprintln(stdout, shortID(c.ID))
	}
	return exitOK
}
