package fakefs

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/google/uuid"
)

// InboundCall is a call arriving at the fake whose dialplan runs
// `socket <Socket> async full`.
type InboundCall struct {
	From        string // caller id number
	FromName    string // caller id name (optional)
	To          string // destination number
	Context     string // dialplan context; default "default"
	Socket      string // the controller's outbound server, host:port
	Source      Source // what the caller says
	ChannelName string // default "loopback/<To>-b", as in the captures
	Vars        map[string]string
}

// PlaceCall creates the caller's channel and dials the controller's
// outbound socket. It returns once the TCP connection is up; the controller
// then drives the call (connect, myevents, sendmsg...). If the dial fails the
// channel hangs up with DESTINATION_OUT_OF_ORDER and the error is returned.
func (f *FS) PlaceCall(ctx context.Context, call InboundCall) (*Channel, error) {
	if call.Context == "" {
		call.Context = "default"
	}
	if call.ChannelName == "" {
		call.ChannelName = "loopback/" + call.To + "-b"
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil, fmt.Errorf("fakefs: place call: %w", net.ErrClosed)
	}
	var vars headers
	for k, v := range call.Vars {
		vars.add(k, v)
	}
	vars.add("origination_caller_id_number", call.From)
	vars.add("other_loopback_leg_uuid", uuid.NewString())
	vars.add("loopback_leg", "B")
	vars.add("DP_MATCH", "ARRAY::"+call.To+"|:"+call.To)
	sockArg := call.Socket + " async full"
	ch := f.newChannelLocked(channelSpec{
		name: call.ChannelName, direction: "inbound",
		cidName: call.FromName, cidNumber: call.From,
		calleeName: "Outbound Call", calleeNum: call.Context,
		dest: call.To, context: call.Context, source: "mod_loopback", hitDialplan: true,
		state: "CS_EXECUTE", stateNum: 4, callState: "RINGING", answerState: "ringing",
		vars: vars,
	})
	// The dialplan ran up to the socket app.
	ch.vars.setLast("current_application_data", sockArg)
	ch.vars.setLast("current_application", "socket")
	host, _, _ := net.SplitHostPort(call.Socket)
	ch.vars.setLast("socket_host", host)
	ch.loopback = strings.HasPrefix(call.ChannelName, "loopback/")
	ch.socketArg = sockArg
	ch.leg = f.media.NewLeg(ch.name)
	if call.Source != nil {
		ch.leg.SetSource(call.Source)
	}
	ch.emitLocked("CHANNEL_CREATE", callCreate)
	f.mu.Unlock()

	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", call.Socket)
	if err != nil {
		f.mu.Lock()
		ch.hangupLocked("DESTINATION_OUT_OF_ORDER", hangupLocal)
		f.mu.Unlock()
		return nil, fmt.Errorf("fakefs: dial outbound socket %s: %w", call.Socket, err)
	}
	f.mu.Lock()
	if ch.hungup {
		f.mu.Unlock()
		_ = nc.Close()
		return nil, fmt.Errorf("fakefs: call %s hung up while dialling", ch.uuid)
	}
	c := f.newConn(nc, ch)
	ch.socket = c
	ch.socketApp = true
	ch.startExecutorLocked()
	f.mu.Unlock()
	c.start(nil)
	return ch, nil
}

// sendmsg handles `sendmsg [uuid]` with call-command execute / hangup.
func (c *eslConn) sendmsg(arg string, cmd *command) string {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := c.ch
	if id := strings.TrimSpace(arg); id != "" {
		ch = f.channels[id]
	}
	if ch == nil || ch.hungup {
		return "-ERR invalid session id [" + strings.TrimSpace(arg) + "]"
	}
	h := cmd.headers
	switch strings.ToLower(h.get("call-command")) {
	case "execute":
		app := h.get("execute-app-name")
		if app == "" {
			return "-ERR no app specified"
		}
		argText := h.get("execute-app-arg")
		if len(cmd.body) > 0 && strings.Contains(h.get("Content-Type"), "text/plain") {
			argText = string(cmd.body)
		}
		r := &appReq{
			app: app, arg: argText, appUUID: h.get("Event-UUID"),
			locked: strings.EqualFold(h.get("event-lock"), "true"), loops: true,
		}
		if !r.locked && ch.running != nil && ch.running.app == "conference" && ch.member != nil {
			// Without event-lock it runs inside the conference loop (FACTS).
			ch.runInsideLocked(r)
			return "+OK"
		}
		ch.enqueueLocked(r)
	case "hangup":
		cause := h.get("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		// Queued like an app: it waits behind an event-locked app
		// (esl-outbound4).
		ch.enqueueLocked(&appReq{hangup: true, cause: cause})
	case "unicast", "nomedia", "xferext":
		return "-ERR fakefs does not implement " + h.get("call-command")
	default:
		return "-ERR invalid command"
	}
	return "+OK"
}
