package fakefs

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Channel is one call leg inside the fake.
type Channel struct {
	f    *FS
	uuid string
	name string

	// Caller profile and state; guarded by f.mu.
	direction    string // inbound | outbound
	cidName      string
	cidNumber    string
	origCIDNum   string
	calleeName   string
	calleeNumber string
	ani          string
	dest         string
	context      string
	source       string
	hitDialplan  bool
	created      time.Time
	answeredAt   time.Time
	progressAt   time.Time
	hangupAt     time.Time
	state        string
	stateNum     int
	callState    string
	answerState  string
	hangupCause  string
	vars         headers
	loopback     bool
	partner      *Channel

	leg    mediaLeg
	fork   *forkState
	member *member

	// Application queue; guarded by f.mu.
	queue        []*appReq
	running      *appReq
	wake         chan struct{}
	hangupOnIdle bool // originate &app: the channel ends when its app ends
	started      bool

	// Outbound socket control; guarded by f.mu.
	socket      *eslConn
	socketArg   string // "host:port async full"
	socketApp   bool   // the socket app is still running (channel parked in it)
	noticeEarly bool   // the kill came from outside the session thread

	killed chan struct{} // closed when hangup starts
	done   chan struct{} // closed when the channel is destroyed
	hungup bool

	lastApp, lastArg string
	serial           int      // creation order
	waitFor          *Channel // finish the hangup after this leg's (loopback pair)
}

type appReq struct {
	app, arg string
	appUUID  string
	locked   bool
	hangup   bool // call-command: hangup
	cause    string
	loops    bool // came from sendmsg: current_loop/total_loops are set
}

type hangupInitiator int

const (
	hangupLocal  hangupInitiator = iota // api/sendmsg/app on this channel (uuid_kill, hangup app)
	hangupRemote                        // the far end hung up
)

// UUID is the channel's Unique-ID.
func (ch *Channel) UUID() string { return ch.uuid }

// Name is the channel name (e.g. loopback/5001-b).
func (ch *Channel) Name() string { return ch.name }

// Done is closed when the channel has been destroyed.
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// Answered reports whether the channel was answered.
func (ch *Channel) Answered() bool {
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	return !ch.answeredAt.IsZero()
}

// HangupCause is the cause once the channel hung up, else "".
func (ch *Channel) HangupCause() string {
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	return ch.hangupCause
}

// Var returns a channel variable.
func (ch *Channel) Var(name string) string {
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	return ch.vars.get(name)
}

// Vars returns a copy of the channel variables in FreeSWITCH's order.
func (ch *Channel) Vars() map[string]string {
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	m := make(map[string]string, len(ch.vars))
	for _, v := range ch.vars {
		m[v.name] = v.value
	}
	return m
}

// Hangup hangs the channel up as if its far end did (the caller put the
// phone down). It returns at once; wait on Done.
func (ch *Channel) Hangup(cause string) {
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	ch.hangupLocked(cause, hangupRemote)
}

// Channel finds a live channel by UUID.
func (f *FS) Channel(uuid string) (*Channel, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch, ok := f.channels[uuid]
	return ch, ok
}

// Channels lists the live channels.
func (f *FS) Channels() []*Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*Channel, 0, len(f.channels))
	for _, ch := range f.channels {
		out = append(out, ch)
	}
	return out
}

// channelSpec describes a new channel.
type channelSpec struct {
	uuid, name, direction  string
	cidName, cidNumber     string
	calleeName, calleeNum  string
	dest, context, source  string
	hitDialplan            bool
	vars                   headers // set after the standard ones
	state                  string
	stateNum               int
	callState, answerState string
}

func (f *FS) newChannelLocked(s channelSpec) *Channel {
	if s.uuid == "" {
		s.uuid = uuid.NewString()
	}
	f.sessionID++
	now := time.Now()
	ch := &Channel{
		f: f, uuid: s.uuid, name: s.name, direction: s.direction,
		cidName: s.cidName, cidNumber: s.cidNumber, origCIDNum: s.cidNumber,
		calleeName: s.calleeName, calleeNumber: s.calleeNum, ani: s.cidNumber,
		dest: s.dest, context: s.context, source: s.source, hitDialplan: s.hitDialplan,
		created: now, state: s.state, stateNum: s.stateNum, callState: s.callState, answerState: s.answerState,
		wake: make(chan struct{}, 1), killed: make(chan struct{}), done: make(chan struct{}),
		serial: f.sessionID,
	}
	// The variable order of each direction, as captured.
	ch.vars.add("direction", s.direction)
	if s.direction == "outbound" {
		ch.vars.add("is_outbound", "true")
		ch.vars.add("uuid", ch.uuid)
		ch.vars.add("call_uuid", ch.uuid)
		ch.vars.add("session_id", strconv.Itoa(f.sessionID))
		ch.addCodecVars()
		ch.vars.add("channel_name", s.name)
	} else {
		ch.vars.add("uuid", ch.uuid)
		ch.vars.add("session_id", strconv.Itoa(f.sessionID))
		ch.vars.add("channel_name", s.name)
		ch.addCodecVars()
	}
	for _, v := range s.vars {
		ch.vars.setLast(v.name, v.value)
	}
	if s.direction != "outbound" {
		ch.vars.setLast("call_uuid", ch.uuid)
	}
	f.channels[ch.uuid] = ch
	return ch
}

func (ch *Channel) addCodecVars() {
	ch.vars.add("read_codec", "L16")
	ch.vars.add("read_rate", "8000")
	ch.vars.add("write_codec", "L16")
	ch.vars.add("write_rate", "8000")
}

// basicHeadersLocked is switch_channel_event_set_basic_data plus the caller
// profile, in FreeSWITCH's order.
func (ch *Channel) basicHeadersLocked(h *headers) {
	h.add("Channel-State", ch.state)
	h.add("Channel-Call-State", ch.callState)
	h.add("Channel-State-Number", strconv.Itoa(ch.stateNum))
	h.add("Channel-Name", ch.name)
	h.add("Unique-ID", ch.uuid)
	h.add("Call-Direction", ch.direction)
	h.add("Presence-Call-Direction", ch.direction)
	h.add("Channel-HIT-Dialplan", strconv.FormatBool(ch.hitDialplan))
	h.add("Channel-Call-UUID", ch.uuid)
	h.add("Answer-State", ch.answerState)
	if ch.hungup {
		h.add("Hangup-Cause", ch.hangupCause)
	}
	h.add("Channel-Read-Codec-Name", "L16")
	h.add("Channel-Read-Codec-Rate", "8000")
	h.add("Channel-Read-Codec-Bit-Rate", "128000")
	h.add("Channel-Write-Codec-Name", "L16")
	h.add("Channel-Write-Codec-Rate", "8000")
	h.add("Channel-Write-Codec-Bit-Rate", "128000")
	ch.profileHeadersLocked(h, "Caller")
}

// profileHeadersLocked is switch_caller_profile_event_set_data: empty
// fields are left out.
func (ch *Channel) profileHeadersLocked(h *headers, prefix string) {
	p := prefix + "-"
	opt := func(name, v string) {
		if v != "" {
			h.add(p+name, v)
		}
	}
	h.add(p+"Direction", ch.direction)
	h.add(p+"Logical-Direction", ch.direction)
	h.add(p+"Dialplan", "xml")
	opt("Caller-ID-Name", ch.cidName)
	opt("Caller-ID-Number", ch.cidNumber)
	opt("Orig-Caller-ID-Number", ch.origCIDNum)
	opt("Callee-ID-Name", ch.calleeName)
	opt("Callee-ID-Number", ch.calleeNumber)
	opt("ANI", ch.ani)
	opt("Destination-Number", ch.dest)
	h.add(p+"Unique-ID", ch.uuid)
	opt("Source", ch.source)
	opt("Context", ch.context)
	h.add(p+"Channel-Name", ch.name)
	h.add(p+"Profile-Index", "1")
	h.add(p+"Profile-Created-Time", micros(ch.created))
	h.add(p+"Channel-Created-Time", micros(ch.created))
	h.add(p+"Channel-Answered-Time", micros(ch.answeredAt))
	h.add(p+"Channel-Progress-Time", micros(ch.progressAt))
	h.add(p+"Channel-Progress-Media-Time", "0")
	h.add(p+"Channel-Hangup-Time", micros(ch.hangupAt))
	for _, n := range []string{"Transfer-Time", "Resurrect-Time", "Bridged-Time", "Last-Hold", "Hold-Accum"} {
		h.add(p+"Channel-"+n, "0")
	}
	h.add(p+"Screen-Bit", "true")
	h.add(p+"Privacy-Hide-Name", "false")
	h.add(p+"Privacy-Hide-Number", "false")
}

func (ch *Channel) varHeadersLocked(h *headers) {
	for _, v := range ch.vars {
		h.add("variable_"+v.name, v.value)
	}
}

// eventLocked builds a channel event: basic data, profile, variables.
func (ch *Channel) eventLocked(name string, at calling, withVars bool) *event {
	e := &event{name: name, calling: at, uuid: ch.uuid}
	ch.basicHeadersLocked(&e.headers)
	if withVars {
		ch.varHeadersLocked(&e.headers)
	}
	return e
}

func (ch *Channel) emitLocked(name string, at calling, extra ...header) {
	e := ch.eventLocked(name, at, true)
	e.headers = append(e.headers, extra...)
	ch.f.emitLocked(e)
}

// channelDataLocked is the reply to an outbound socket's `connect`.
func (ch *Channel) channelDataLocked() []byte {
	e := &event{name: "CHANNEL_DATA", calling: callChannelData, uuid: ch.uuid}
	f := ch.f
	f.seq++
	e.seq = f.seq
	e.when = time.Now()
	h := f.baseHeaders(e)
	ch.profileHeadersLocked(&h, "Channel")
	ch.basicHeadersLocked(&h)
	ch.varHeadersLocked(&h)
	var b strings.Builder
	for _, x := range h {
		b.WriteString(x.name + ": " + urlEncode(x.value) + "\n")
	}
	b.WriteString("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n")
	return []byte(b.String())
}

func (ch *Channel) answerLocked() {
	if !ch.answeredAt.IsZero() || ch.hungup {
		return
	}
	ch.answeredAt = time.Now()
	ch.answerState = "answered"
	ch.emitLocked("CHANNEL_ANSWER", callAnswer)
	if ch.callState != "DOWN" {
		ch.callState = "ACTIVE"
	}
}

// hangupLocked starts the hangup: CHANNEL_HANGUP now, the rest when the
// running application has returned (see finishHangup).
func (ch *Channel) hangupLocked(cause string, who hangupInitiator) {
	if ch.hungup {
		return
	}
	ch.hungup = true
	ch.hangupCause = cause
	ch.answerState = "hangup"
	ch.stateNum = 10
	ch.vars.setLast("hangup_cause", cause)
	ch.vars.setLast("hangup_cause_q850", strconv.Itoa(q850(cause)))
	ch.emitLocked("CHANNEL_HANGUP", callHangup)
	ch.vars.del("hangup_cause")
	ch.vars.del("hangup_cause_q850")
	if ch.socket != nil && who == hangupLocal {
		// mod_event_socket's listener sees the channel go down at once.
		ch.noticeEarly = true
		ch.socket.disconnectNoticeLocked()
	}
	close(ch.killed)
	if p := ch.partner; p != nil && !p.hungup {
		p.waitFor = ch
		p.hangupLocked(cause, hangupRemote)
	}
	if !ch.started {
		ch.startExecutorLocked()
	}
}

func q850(cause string) int {
	switch cause {
	case "NORMAL_CLEARING":
		return 16
	case "USER_BUSY":
		return 17
	case "NO_USER_RESPONSE":
		return 18
	case "NO_ANSWER":
		return 19
	case "CALL_REJECTED":
		return 21
	case "NO_ROUTE_DESTINATION":
		return 3
	case "DESTINATION_OUT_OF_ORDER":
		return 27
	case "NORMAL_TEMPORARY_FAILURE":
		return 41
	case "ORIGINATOR_CANCEL":
		return 487
	default:
		return 0
	}
}

// startExecutorLocked runs the channel's session thread: it executes the
// application queue and finishes the hangup.
func (ch *Channel) startExecutorLocked() {
	if ch.started {
		return
	}
	ch.started = true
	ch.f.goOwned(ch.run)
}

func (ch *Channel) enqueueLocked(r *appReq) {
	ch.queue = append(ch.queue, r)
	ch.startExecutorLocked()
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

func (ch *Channel) run() {
	f := ch.f
	for {
		f.mu.Lock()
		if ch.hungup {
			f.mu.Unlock()
			break
		}
		if len(ch.queue) == 0 {
			if ch.hangupOnIdle || (ch.socketArg != "" && !ch.socketApp) {
				// Nothing left in the dialplan.
				ch.hangupLocked("NORMAL_CLEARING", hangupLocal)
				f.mu.Unlock()
				break
			}
			f.mu.Unlock()
			select {
			case <-ch.wake:
			case <-ch.killed:
			}
			continue
		}
		r := ch.queue[0]
		ch.queue = ch.queue[1:]
		f.mu.Unlock()
		ch.execute(r)
	}
	ch.finishHangup()
}

// execute runs one application with its CHANNEL_EXECUTE /
// CHANNEL_EXECUTE_COMPLETE events.
func (ch *Channel) execute(r *appReq) {
	f := ch.f
	f.mu.Lock()
	if r.hangup {
		ch.hangupLocked(r.cause, hangupLocal)
		f.mu.Unlock()
		return
	}
	if r.appUUID == "" {
		r.appUUID = uuid.NewString()
	}
	if r.loops {
		ch.vars.setLast("current_loop", "1")
		ch.vars.setLast("total_loops", "1")
	}
	ch.vars.del("current_application_data")
	if r.arg != "" {
		ch.vars.add("current_application_data", r.arg)
	}
	ch.vars.setLast("current_application", r.app)
	ch.running = r
	extra := headers{{"Application", r.app}}
	if r.arg != "" {
		extra.add("Application-Data", r.arg)
	}
	extra.add("Application-UUID", r.appUUID)
	ch.emitLocked("CHANNEL_EXECUTE", callExecute, extra...)
	f.mu.Unlock()

	response := ch.runApp(r)

	f.mu.Lock()
	ch.running = nil
	// last_app/last_arg only show up in the final report.
	ch.lastApp, ch.lastArg = r.app, r.arg
	extra = headers{{"Application", r.app}}
	if r.arg != "" {
		extra.add("Application-Data", r.arg)
	}
	extra.add("Application-Response", response)
	extra.add("Application-UUID", r.appUUID)
	ch.emitLocked("CHANNEL_EXECUTE_COMPLETE", callExecComplete, extra...)
	f.mu.Unlock()
}

// finishHangup emits the rest of the hangup and destroys the channel.
func (ch *Channel) finishHangup() {
	f := ch.f
	f.mu.Lock()
	waitFor := ch.waitFor
	f.mu.Unlock()
	if waitFor != nil {
		select {
		case <-waitFor.done:
		case <-f.ctx.Done():
		}
	}
	f.mu.Lock()
	if ch.socketApp {
		ch.socketApp = false
		ch.emitLocked("CHANNEL_UNPARK", callUnpark)
		ch.emitLocked("CHANNEL_EXECUTE_COMPLETE", callExecComplete,
			header{"Application", "socket"}, header{"Application-Data", ch.socketArg},
			header{"Application-Response", "_none_"}, header{"Application-UUID", uuid.NewString()})
	}
	ch.state = "CS_HANGUP"
	f.emitLocked(ch.eventLocked("CHANNEL_STATE", callState, false))
	ch.state, ch.stateNum, ch.callState = "CS_REPORTING", 11, "HANGUP"
	ch.hangupAt = time.Now()
	f.emitLocked(ch.eventLocked("CHANNEL_STATE", callState, false))
	ch.addReportVarsLocked()
	e := &event{name: "CHANNEL_HANGUP_COMPLETE", calling: callHangupDone, uuid: ch.uuid}
	e.headers.add("Hangup-Cause", ch.hangupCause)
	ch.basicHeadersLocked(&e.headers)
	ch.varHeadersLocked(&e.headers)
	f.emitLocked(e)
	sock := ch.socket
	var lingerFor time.Duration
	lingering, lingerForever := false, false
	if sock != nil {
		if !ch.noticeEarly {
			sock.disconnectNoticeLocked()
		}
		lingering = sock.linger
		if lingering {
			if sock.lingerSecs < 0 {
				lingerForever = true
			}
			lingerFor = time.Duration(sock.lingerSecs) * time.Second
		}
	}
	f.mu.Unlock()

	if sock != nil {
		if lingering {
			// The socket stays open for the remaining events, then
			// FreeSWITCH says goodbye and closes it.
			var timeout <-chan time.Time
			if !lingerForever {
				t := time.NewTimer(lingerFor)
				defer t.Stop()
				timeout = t.C
			}
			select {
			case <-timeout:
			case <-sock.ctx.Done():
			}
		}
		sock.sendAndClose(disconnectNotice(ch.uuid, "disconnect", "", 0, goodbye))
		select {
		case <-sock.done:
		case <-f.ctx.Done():
		}
	}

	f.mu.Lock()
	ch.state, ch.stateNum = "CS_DESTROY", 12
	ch.emitLocked("CHANNEL_DESTROY", callDestroy)
	delete(f.channels, ch.uuid)
	leg := ch.leg
	f.mu.Unlock()
	if leg != nil {
		leg.Close()
	}
	close(ch.done)
}

// disconnectNoticeLocked sends the first notice when the controlled
// channel goes down: linger, or disconnect-and-close.
func (c *eslConn) disconnectNoticeLocked() {
	if c.noticeSent {
		return
	}
	c.noticeSent = true
	if c.linger {
		c.send(disconnectNotice(c.ch.uuid, "linger", c.ch.name, c.lingerSecs, ""))
	}
}

// socketGone runs when the controller closes its outbound socket: the socket
// app ends, the running app goes on, then the dialplan (empty here) ends.
func (ch *Channel) socketGone() {
	ch.socket = nil
	if ch.socketApp && !ch.hungup {
		ch.socketApp = false
		select {
		case ch.wake <- struct{}{}:
		default:
		}
	}
}

func (ch *Channel) waitKilled(ctx context.Context) {
	select {
	case <-ch.killed:
	case <-ctx.Done():
	}
}

func (ch *Channel) addReportVarsLocked() {
	v := &ch.vars
	v.setLast("hangup_cause", ch.hangupCause)
	v.setLast("hangup_cause_q850", strconv.Itoa(q850(ch.hangupCause)))
	v.setLast("digits_dialed", "none")
	stamp := func(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
	epoch := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return strconv.FormatInt(t.Unix(), 10)
	}
	v.setLast("start_stamp", stamp(ch.created))
	v.setLast("profile_start_stamp", stamp(ch.created))
	if !ch.answeredAt.IsZero() {
		v.setLast("answer_stamp", stamp(ch.answeredAt))
	}
	if !ch.progressAt.IsZero() {
		v.setLast("progress_stamp", stamp(ch.progressAt))
	}
	v.setLast("end_stamp", stamp(ch.hangupAt))
	v.setLast("start_epoch", epoch(ch.created))
	v.setLast("start_uepoch", micros(ch.created))
	v.setLast("profile_start_epoch", epoch(ch.created))
	v.setLast("profile_start_uepoch", micros(ch.created))
	v.setLast("answer_epoch", epoch(ch.answeredAt))
	v.setLast("answer_uepoch", micros(ch.answeredAt))
	for _, n := range []string{"bridge", "last_hold"} {
		v.setLast(n+"_epoch", "0")
		v.setLast(n+"_uepoch", "0")
	}
	v.setLast("hold_accum_seconds", "0")
	v.setLast("hold_accum_usec", "0")
	v.setLast("hold_accum_ms", "0")
	v.setLast("resurrect_epoch", "0")
	v.setLast("resurrect_uepoch", "0")
	v.setLast("progress_epoch", epoch(ch.progressAt))
	v.setLast("progress_uepoch", micros(ch.progressAt))
	v.setLast("progress_media_epoch", "0")
	v.setLast("progress_media_uepoch", "0")
	v.setLast("end_epoch", epoch(ch.hangupAt))
	v.setLast("end_uepoch", micros(ch.hangupAt))
	if ch.lastApp != "" {
		// FreeSWITCH reports them here, after the epochs.
		v.setLast("last_app", ch.lastApp)
		if ch.lastArg != "" {
			v.setLast("last_arg", ch.lastArg)
		}
	}
	v.setLast("caller_id", ch.cidNumber)
	total := ch.hangupAt.Sub(ch.created)
	var bill time.Duration
	if !ch.answeredAt.IsZero() {
		bill = ch.hangupAt.Sub(ch.answeredAt)
	}
	var wait time.Duration
	if !ch.answeredAt.IsZero() {
		wait = ch.answeredAt.Sub(ch.created)
	}
	v.setLast("duration", strconv.Itoa(int(total.Seconds())))
	v.setLast("billsec", strconv.Itoa(int(bill.Seconds())))
	v.setLast("progresssec", "0")
	v.setLast("answersec", strconv.Itoa(int(wait.Seconds())))
	v.setLast("waitsec", strconv.Itoa(int(wait.Seconds())))
	v.setLast("progress_mediasec", "0")
	v.setLast("flow_billsec", strconv.Itoa(int(bill.Seconds())))
	v.setLast("mduration", strconv.FormatInt(total.Milliseconds(), 10))
	v.setLast("billmsec", strconv.FormatInt(bill.Milliseconds(), 10))
	v.setLast("progressmsec", "0")
	v.setLast("answermsec", strconv.FormatInt(wait.Milliseconds(), 10))
	v.setLast("waitmsec", strconv.FormatInt(wait.Milliseconds(), 10))
	v.setLast("progress_mediamsec", "0")
	v.setLast("flow_billmsec", strconv.FormatInt(bill.Milliseconds(), 10))
	v.setLast("uduration", strconv.FormatInt(total.Microseconds(), 10))
	v.setLast("billusec", strconv.FormatInt(bill.Microseconds(), 10))
	v.setLast("progressusec", "0")
	v.setLast("answerusec", strconv.FormatInt(wait.Microseconds(), 10))
	v.setLast("waitusec", strconv.FormatInt(wait.Microseconds(), 10))
	v.setLast("progress_mediausec", "0")
	v.setLast("flow_billusec", strconv.FormatInt(bill.Microseconds(), 10))
	if ch.loopback {
		v.setLast("is_loopback", "1")
	}
}

// PressDigit is a DTMF digit pressed on the channel's phone (RFC 2833).
// FreeSWITCH fires DTMF when the digit is read off the channel's queue
// (switch_channel_dequeue_dtmf, switch_channel.c:678) — a conference member's
// digits are read by the conference loop whether or not the profile has
// caller controls (conference_loop.c, switch_channel_dequeue_dtmf_string) —
// with the channel's headers, then DTMF-Digit, DTMF-Duration (samples; the
// default 2000) and DTMF-Source; no variables (DTMF is not among the events
// switch_channel_event_set_extended_data adds them to).
func (ch *Channel) PressDigit(digit byte) {
	ch.f.mu.Lock()
	defer ch.f.mu.Unlock()
	if ch.hungup {
		return
	}
	e := ch.eventLocked("DTMF", callDTMF, false)
	e.headers.add("DTMF-Digit", string(digit))
	e.headers.add("DTMF-Duration", "2000")
	e.headers.add("DTMF-Source", "RTP")
	ch.f.emitLocked(e)
}
