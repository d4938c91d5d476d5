package fakefs

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// api runs an api command and returns its text; after (may be nil) runs
// once the result has been delivered (reply sent or BACKGROUND_JOB emitted),
// for what FreeSWITCH does after returning (a NO_ANSWER leg's hangup, the
// originated leg's application).
func (f *FS) api(ctx context.Context, c *eslConn, name, args string) (string, func()) {
	switch name {
	case "originate":
		return f.originate(ctx, args)
	case "status":
		return f.status(), nil
	case "uuid_kill":
		return f.uuidKill(args)
	case "uuid_exists":
		id, _, _ := strings.Cut(args, " ")
		_, ok := f.Channel(id)
		if ok {
			return "true", nil
		}
		return "false", nil
	case "uuid_getvar":
		id, name, _ := strings.Cut(args, " ")
		ch, ok := f.Channel(id)
		if !ok {
			return "-ERR No such channel!\n", nil
		}
		if v := ch.Var(strings.TrimSpace(name)); v != "" {
			return v, nil
		}
		return "_undef_", nil
	case "uuid_setvar":
		fields := strings.SplitN(args, " ", 3)
		if len(fields) < 2 {
			return "-USAGE: <uuid> <var> [value]\n", nil
		}
		ch, ok := f.Channel(fields[0])
		if !ok {
			return "-ERR No such channel!\n", nil
		}
		f.mu.Lock()
		if len(fields) == 3 {
			ch.vars.setLast(fields[1], fields[2])
		} else {
			ch.vars.del(fields[1])
		}
		f.mu.Unlock()
		return "+OK\n", nil
	case "uuid_broadcast":
		return f.uuidBroadcast(args), nil
	case "uuid_audio_fork":
		return f.uuidAudioFork(args), nil
	case "hupall":
		cause, _, _ := strings.Cut(args, " ")
		if cause == "" {
			cause = "MANAGER_REQUEST"
		}
		f.mu.Lock()
		chans := make([]*Channel, 0, len(f.channels))
		for _, ch := range f.channels {
			chans = append(chans, ch)
		}
		// Newest first, as the capture shows for a loopback pair.
		sort.Slice(chans, func(i, j int) bool { return chans[i].serial > chans[j].serial })
		for _, ch := range chans {
			ch.hangupLocked(cause, hangupLocal)
		}
		f.mu.Unlock()
		return "+OK hangup all channels with cause " + cause + "\n", nil
	case "conference":
		return f.conferenceAPI(args), nil
	default:
		return "-ERR " + name + " Command not found!\n", nil
	}
}

func (f *FS) status() string {
	f.mu.Lock()
	live, total := len(f.channels), f.sessionID
	f.mu.Unlock()
	up := time.Since(f.started)
	return fmt.Sprintf("UP 0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n",
		int(up.Hours())/24, int(up.Hours())%24, int(up.Minutes())%60, int(up.Seconds())%60, up.Milliseconds()%1000, up.Microseconds()%1000) +
		"FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n" +
		fmt.Sprintf("%d session(s) since startup\n", total) +
		fmt.Sprintf("%d session(s) - peak %d, last 5min %d \n", live, live, live) +
		"0 session(s) per Sec out of max 30, peak 0, last 5min 0 \n" +
		"1000 session(s) max\n" +
		"min idle cpu 0.00/99.23\n" +
		"Current Stack Size/Max 240K/8192K\n"
}

// uuidKill answers first and hangs up after, as the capture shows (the
// reply precedes CHANNEL_HANGUP).
func (f *FS) uuidKill(args string) (string, func()) {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return "-USAGE: <uuid> [cause]\n", nil
	}
	cause := "NORMAL_CLEARING"
	if len(fields) > 1 {
		cause = fields[1]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.channels[fields[0]]
	if !ok || ch.hungup {
		return "-ERR No such channel!\n", nil
	}
	return "+OK\n", func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		ch.hangupLocked(cause, hangupLocal)
	}
}

// uuidBroadcast plays a file to a channel. Its argument is split on spaces
// like every api argument (FACTS: a path with a space breaks).
func (f *FS) uuidBroadcast(args string) string {
	fields := strings.Fields(args)
	if len(fields) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
	}
	ch, ok := f.Channel(fields[0])
	if !ok {
		return "-ERR invalid uuid\n"
	}
	f.mu.Lock()
	ch.enqueueLocked(&appReq{app: "playback", arg: fields[1]})
	f.mu.Unlock()
	return "+OK Message queued (" + uuid.NewString() + ")\n"
}

// Behaviour is how an endpoint answers an originate.
type Behaviour int

const (
	Answer      Behaviour = iota // answers after RingFor
	Busy                         // USER_BUSY after RingFor
	NoAnswer                     // rings until originate_timeout (or RingFor if shorter): NO_ANSWER
	Unreachable                  // fails at once with Cause (default NO_ROUTE_DESTINATION)
)

// Party is who answers when an originate dials an endpoint.
type Party struct {
	Behaviour      Behaviour
	RingFor        time.Duration
	Source         Source // what the party says once answered
	CallerIDName   string
	CallerIDNumber string
	Cause          string // Unreachable's cause
}

// AddEndpoint registers who answers dialString (e.g. "user/1001",
// "loopback/7880/lab"). Adding it again replaces it.
func (f *FS) AddEndpoint(dialString string, p Party) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.endpoints[dialString] = p
}

type originateReq struct {
	vars    headers
	dial    string
	app     string // "&app(args)" form: app and arg
	appArg  string
	exten   string // "<exten> [dialplan] [context]" form
	context string
}

// parseOriginate splits `{vars}dial &app(args)` or `dial exten [dp] [ctx]`.
// An &app(...) argument with spaces is rejoined up to its closing paren.
func parseOriginate(args string) (*originateReq, bool) {
	fields := strings.Fields(args)
	if len(fields) < 2 {
		return nil, false
	}
	r := &originateReq{}
	url := fields[0]
	if strings.HasPrefix(url, "{") {
		end := strings.Index(url, "}")
		if end < 0 {
			return nil, false
		}
		for _, kv := range strings.Split(url[1:end], ",") {
			k, v, ok := strings.Cut(kv, "=")
			if ok {
				r.vars.setLast(strings.TrimSpace(k), v)
			}
		}
		url = url[end+1:]
	}
	r.dial = url
	if strings.HasPrefix(fields[1], "&") {
		app := strings.Join(fields[1:], " ")
		app = strings.TrimPrefix(app, "&")
		name, rest, ok := strings.Cut(app, "(")
		if ok {
			rest = strings.TrimSuffix(rest, ")")
		}
		r.app, r.appArg = name, rest
		return r, r.app != ""
	}
	r.exten = fields[1]
	if len(fields) > 3 {
		r.context = fields[3]
	}
	return r, true
}

func (f *FS) originate(ctx context.Context, args string) (string, func()) {
	req, ok := parseOriginate(args)
	if !ok {
		return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n", nil
	}
	f.mu.Lock()
	party, known := f.endpoints[req.dial]
	f.mu.Unlock()
	module, rest, _ := strings.Cut(req.dial, "/")
	if !known {
		switch module {
		case "loopback":
			return "-ERR NO_ROUTE_DESTINATION\n", nil
		case "user":
			return "-ERR USER_NOT_REGISTERED\n", nil
		default:
			return "-ERR CHAN_NOT_IMPLEMENTED\n", nil
		}
	}
	if party.Behaviour == Unreachable {
		cause := party.Cause
		if cause == "" {
			cause = "NO_ROUTE_DESTINATION"
		}
		return "-ERR " + cause + "\n", nil
	}

	timeout := 60 * time.Second
	if t := req.vars.get("originate_timeout"); t != "" {
		if n, err := time.ParseDuration(t + "s"); err == nil {
			timeout = n
		}
	}
	cidNum := req.vars.get("origination_caller_id_number")
	if cidNum == "" {
		cidNum = "0000000000"
	}
	ext, calleeNum := rest, rest
	if parts := strings.Split(rest, "/"); len(parts) > 1 {
		ext, calleeNum = parts[0], parts[len(parts)-1]
	}
	aName := module + "/" + rest
	if module == "loopback" {
		aName = "loopback/" + ext + "-a"
	}

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return "-ERR SYSTEM_SHUTDOWN\n", nil
	}
	aUUID := req.vars.get("origination_uuid")
	if aUUID != "" {
		if _, busy := f.channels[aUUID]; busy {
			f.mu.Unlock()
			return "-ERR DESTINATION_OUT_OF_ORDER\n", nil
		}
	}
	var aVars headers
	for _, v := range req.vars {
		if v.name != "origination_uuid" {
			aVars.add(v.name, v.value)
		}
	}
	aVars.add("originate_early_media", "true")
	aVars.add("originate_endpoint", module)
	a := f.newChannelLocked(channelSpec{
		uuid: aUUID, name: aName, direction: "outbound",
		cidNumber: cidNum, calleeName: "Outbound Call", calleeNum: calleeNum,
		dest: ext, context: calleeNum, source: "mod_" + module,
		state: "CS_INIT", stateNum: 2, callState: "DOWN", answerState: "ringing",
		vars: aVars,
	})
	if module != "loopback" {
		a.source = "mod_sofia"
		a.context = "default"
	}
	var b *Channel
	if module == "loopback" {
		a.loopback = true
		b = f.newChannelLocked(channelSpec{
			name: "loopback/" + ext + "-b", direction: "inbound",
			cidNumber: cidNum, calleeName: "Outbound Call", calleeNum: calleeNum,
			dest: ext, context: calleeNum, source: "mod_loopback", hitDialplan: true,
			state: "CS_INIT", stateNum: 2, callState: "DOWN", answerState: "ringing",
		})
		b.loopback = true
		for _, v := range req.vars {
			if v.name != "origination_uuid" && v.name != "originate_timeout" {
				b.vars.setLast(v.name, v.value)
			}
		}
		a.vars.setLast("other_loopback_leg_uuid", b.uuid)
		a.vars.setLast("loopback_leg", "A")
		b.vars.setLast("other_loopback_leg_uuid", a.uuid)
		b.vars.setLast("loopback_leg", "B")
		a.partner, b.partner = b, a
	}
	a.emitLocked("CHANNEL_CREATE", callCreate)
	if b != nil {
		b.emitLocked("CHANNEL_CREATE", callCreate)
		b.callState = "RINGING"
	}
	a.progressAt = time.Now()
	f.mu.Unlock()

	wait := party.RingFor
	if party.Behaviour == NoAnswer && (wait <= 0 || timeout < wait) {
		wait = timeout
	}
	if party.Behaviour == Answer || party.Behaviour == Busy {
		if timeout < wait {
			wait = timeout
			party.Behaviour = NoAnswer
		}
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-a.killed:
		return "-ERR ORIGINATOR_CANCEL\n", nil
	case <-ctx.Done():
		f.mu.Lock()
		a.hangupLocked("ORIGINATOR_CANCEL", hangupLocal)
		f.mu.Unlock()
		return "-ERR ORIGINATOR_CANCEL\n", nil
	}

	switch party.Behaviour {
	case Busy:
		f.mu.Lock()
		if b != nil {
			b.lastApp, b.lastArg = "hangup", "USER_BUSY"
			b.vars.setLast("current_application_data", "USER_BUSY")
			b.vars.setLast("current_application", "hangup")
			b.hangupLocked("USER_BUSY", hangupLocal)
		} else {
			a.hangupLocked("USER_BUSY", hangupRemote)
		}
		f.mu.Unlock()
		if b != nil {
			<-b.done
		}
		<-a.done
		return "-ERR USER_BUSY\n", nil
	case NoAnswer:
		return "-ERR NO_ANSWER\n", func() {
			f.mu.Lock()
			a.hangupLocked("NO_ANSWER", hangupRemote)
			f.mu.Unlock()
		}
	}

	f.mu.Lock()
	if a.hungup {
		f.mu.Unlock()
		return "-ERR ORIGINATOR_CANCEL\n", nil
	}
	// States as captured: the A leg answers while consuming media, the B
	// leg while executing its dialplan.
	a.state, a.stateNum = "CS_CONSUME_MEDIA", 7
	if b != nil {
		b.state, b.stateNum = "CS_EXECUTE", 4
	}
	a.answerLocked()
	if b != nil {
		b.answerLocked()
	}
	a.state, a.stateNum, a.callState = "CS_EXECUTE", 4, "ACTIVE"
	// After the originate the A leg shows the callee as its caller.
	a.cidName, a.cidNumber, a.calleeName, a.calleeNumber = "Outbound Call", calleeNum, "", cidNum
	a.hitDialplan = true
	a.leg = f.media.NewLeg(a.name)
	if party.Source != nil {
		a.leg.SetSource(party.Source)
	}
	f.mu.Unlock()
	return "+OK " + a.uuid + "\n", func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if req.app != "" {
			a.hangupOnIdle = true
			a.enqueueLocked(&appReq{app: req.app, arg: req.appArg})
		} else {
			// The fake has no dialplan: an originate to an extension parks.
			a.enqueueLocked(&appReq{app: "park"})
		}
	}
}
