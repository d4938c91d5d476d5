package fakefs

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// eslConn is one event-socket connection: inbound (a client dialled us) or
// outbound (we dialled a controller for a channel, ch != nil).
type eslConn struct {
	f      *FS
	nc     net.Conn
	ch     *Channel
	ctx    context.Context
	cancel context.CancelFunc

	// Guarded by f.mu.
	authed     bool
	connected  bool // outbound: `connect` received
	allEvents  bool // every non-CUSTOM event
	allCustom  bool
	events     map[string]bool
	subclasses map[string]bool
	myUUID     string
	linger     bool
	lingerSecs int // -1: forever
	noticeSent bool

	qmu     sync.Mutex
	q       []outItem
	qclosed bool
	wake    chan struct{}
	done    chan struct{} // closed when the writer has closed the socket
}

type outItem struct {
	data       []byte
	closeAfter bool
}

func (f *FS) newConn(nc net.Conn, ch *Channel) *eslConn {
	ctx, cancel := context.WithCancel(f.ctx)
	return &eslConn{
		f: f, nc: nc, ch: ch, ctx: ctx, cancel: cancel,
		events: map[string]bool{}, subclasses: map[string]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// start registers c and runs its reader and writer; first runs before any
// command is read (the auth/request greeting).
func (c *eslConn) start(first func()) {
	c.f.mu.Lock()
	c.f.conns[c] = struct{}{}
	c.f.mu.Unlock()
	if first != nil {
		first()
	}
	c.f.goOwned(c.writeLoop)
	c.f.goOwned(c.readLoop)
}

// send queues a frame; it never blocks (a slow client only grows its own
// queue).
func (c *eslConn) send(data []byte) { c.push(outItem{data: data}) }

// sendAndClose queues a last frame and closes the socket after it.
func (c *eslConn) sendAndClose(data []byte) { c.push(outItem{data: data, closeAfter: true}) }

func (c *eslConn) push(it outItem) {
	c.qmu.Lock()
	if c.qclosed {
		c.qmu.Unlock()
		return
	}
	c.q = append(c.q, it)
	if it.closeAfter {
		c.qclosed = true
	}
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// abort closes the socket at once, dropping whatever is queued.
func (c *eslConn) abort() {
	c.qmu.Lock()
	c.qclosed = true
	c.qmu.Unlock()
	c.cancel()
	_ = c.nc.Close()
}

func (c *eslConn) writeLoop() {
	defer close(c.done)
	defer c.nc.Close()
	for {
		c.qmu.Lock()
		items := c.q
		c.q = nil
		c.qmu.Unlock()
		for _, it := range items {
			if _, err := c.nc.Write(it.data); err != nil {
				c.cancel()
				return
			}
			if it.closeAfter {
				c.cancel()
				return
			}
		}
		if len(items) > 0 {
			continue
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		}
	}
}

func (c *eslConn) readLoop() {
	defer c.closed()
	r := bufio.NewReader(c.nc)
	if c.ch != nil {
		// FreeSWITCH hangs up on a controller that does not send connect.
		_ = c.nc.SetReadDeadline(time.Now().Add(c.f.opts.ConnectTimeout))
	}
	for {
		cmd, err := readCommand(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
				c.f.log.Debug("fakefs: connection ends", "peer", c.nc.RemoteAddr(), "err", err)
			}
			return
		}
		c.f.mu.Lock()
		delay := c.f.delay
		c.f.mu.Unlock()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-c.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// closed unregisters c once its reader has stopped. Closing an outbound
// socket does not hang the call up.
func (c *eslConn) closed() {
	c.abortAfterQueue()
	f := c.f
	f.mu.Lock()
	delete(f.conns, c)
	if c.ch != nil && c.ch.socket == c {
		c.ch.socketGone()
	}
	f.mu.Unlock()
}

// abortAfterQueue stops the writer once it has flushed what is queued.
func (c *eslConn) abortAfterQueue() {
	c.qmu.Lock()
	done := c.qclosed
	c.qmu.Unlock()
	if done {
		// A close is already queued (exit, disconnect notice): let it flush.
		select {
		case <-c.done:
		case <-c.ctx.Done():
		}
	}
	c.abort()
}

// wantsLocked reports whether event e goes to this connection.
func (c *eslConn) wantsLocked(e *event) bool {
	if !c.authed {
		return false
	}
	if c.myUUID != "" && e.uuid != c.myUUID && e.ownerUUID != c.myUUID {
		return false
	}
	if e.name == "CUSTOM" {
		return c.allCustom || c.subclasses[e.subclass]
	}
	return c.allEvents || c.events[e.name]
}

// handle runs one command; false ends the connection.
func (c *eslConn) handle(cmd *command) bool {
	f := c.f
	verb, arg, _ := strings.Cut(cmd.line, " ")
	arg = strings.TrimSpace(arg)
	f.mu.Lock()
	authed, connected := c.authed, c.connected
	f.mu.Unlock()

	if c.ch != nil && !connected {
		if verb != "connect" {
			f.log.Debug("fakefs: outbound socket: command before connect", "cmd", cmd.line)
			return false
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		f.mu.Lock()
		c.connected, c.authed = true, true
		data := c.ch.channelDataLocked()
		f.mu.Unlock()
		c.send(data)
		return true
	}
	if !authed {
		if verb != "auth" {
			c.send(commandReply("-ERR command not found"))
			return true
		}
		if arg != f.opts.Password {
			c.sendAndClose(commandReply("-ERR invalid"))
			return false
		}
		f.mu.Lock()
		c.authed = true
		f.mu.Unlock()
		c.send(commandReply("+OK accepted"))
		return true
	}

	switch verb {
	case "event":
		c.send(c.subscribe(arg))
	case "myevents":
		c.send(c.myevents(arg))
	case "noevents":
		f.mu.Lock()
		c.allEvents, c.allCustom, c.myUUID = false, false, ""
		c.events, c.subclasses = map[string]bool{}, map[string]bool{}
		f.mu.Unlock()
		c.send(commandReply("+OK no longer listening for events"))
	case "nixevent":
		c.send(c.nixevent(arg))
	case "linger":
		secs := -1
		reply := "+OK will linger"
		if arg != "" {
			n, err := strconv.Atoi(arg)
			if err != nil || n < 0 {
				c.send(commandReply("-ERR invalid linger time"))
				return true
			}
			secs = n
			reply = "+OK will linger " + arg + " seconds"
		}
		f.mu.Lock()
		c.linger, c.lingerSecs = true, secs
		f.mu.Unlock()
		c.send(commandReply(reply))
	case "nolinger":
		f.mu.Lock()
		c.linger = false
		f.mu.Unlock()
		c.send(commandReply("+OK will not linger"))
	case "exit":
		c.send(commandReply("+OK bye"))
		sess := ""
		if c.ch != nil {
			sess = c.ch.uuid
		}
		disp := ""
		if sess != "" {
			disp = "disconnect"
		}
		c.sendAndClose(disconnectNotice(sess, disp, "", 0, goodbye))
		return false
	case "api":
		if arg == "" {
			c.send(commandReply("-ERR command not found"))
			return true
		}
		name, args, _ := strings.Cut(arg, " ")
		text, after := f.api(c.ctx, c, name, strings.TrimSpace(args))
		c.send(apiResponse(text))
		if after != nil {
			after()
		}
	case "bgapi":
		if arg == "" {
			c.send(commandReply("-ERR command not found"))
			return true
		}
		c.bgapi(cmd, arg)
	case "sendmsg":
		c.send(commandReply(c.sendmsg(arg, cmd)))
	default:
		c.send(commandReply("-ERR command not found"))
	}
	return true
}

func (c *eslConn) subscribe(arg string) []byte {
	words := strings.Fields(arg)
	if len(words) == 0 {
		return commandReply("-ERR missing event type")
	}
	format := strings.ToLower(words[0])
	if format != "plain" {
		// The fake renders text/event-plain only.
		return commandReply("-ERR fakefs supports only event plain")
	}
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	custom := false
	for _, w := range words[1:] {
		switch {
		case custom:
			// Every word after CUSTOM is a subclass, as in mod_event_socket.
			c.subclasses[w] = true
		case w == "CUSTOM":
			custom = true
		case w == "ALL" || w == "all":
			c.allEvents, c.allCustom = true, true
		default:
			c.events[strings.ToUpper(w)] = true
		}
	}
	return commandReply("+OK event listener enabled plain")
}

func (c *eslConn) nixevent(arg string) []byte {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	custom := false
	for _, w := range strings.Fields(arg) {
		switch {
		case custom:
			delete(c.subclasses, w)
		case w == "CUSTOM":
			custom = true
		case w == "ALL" || w == "all":
			c.allEvents, c.allCustom = false, false
			c.events, c.subclasses = map[string]bool{}, map[string]bool{}
		default:
			delete(c.events, strings.ToUpper(w))
		}
	}
	return commandReply("+OK events nixed")
}

func (c *eslConn) myevents(arg string) []byte {
	f := c.f
	f.mu.Lock()
	defer f.mu.Unlock()
	target := ""
	if c.ch != nil {
		target = c.ch.uuid
	} else {
		target, _, _ = strings.Cut(arg, " ")
		if target == "" {
			return commandReply("-ERR invalid uuid")
		}
	}
	c.myUUID = target
	// mod_event_socket's myevents turns on these channel events, not ALL:
	// a BACKGROUND_JOB of this connection's bgapi arrives only after an
	// explicit `event plain BACKGROUND_JOB` (esl-outbound1 never sees it,
	// esl-outbound3 subscribes and does).
	for _, name := range myEventsList {
		c.events[name] = true
	}
	return commandReply("+OK Events Enabled")
}

var myEventsList = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
	"CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
	"DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
}

func (c *eslConn) bgapi(cmd *command, arg string) {
	f := c.f
	jobUUID := cmd.headers.get("Job-UUID")
	if jobUUID == "" {
		jobUUID = uuid.NewString()
	}
	owner := ""
	if c.ch != nil {
		owner = c.ch.uuid
	}
	c.send(commandReply("+OK Job-UUID: "+jobUUID, header{"Job-UUID", jobUUID}))
	name, args, _ := strings.Cut(arg, " ")
	args = strings.TrimSpace(args)
	f.goOwned(func() {
		result, after := f.api(f.ctx, nil, name, args)
		e := &event{name: "BACKGROUND_JOB", calling: callBgJob, body: []byte(result), ownerUUID: owner}
		e.headers.add("Job-UUID", jobUUID)
		if owner != "" {
			e.headers.add("Job-Owner-UUID", owner)
		}
		e.headers.add("Job-Command", name)
		if args != "" {
			e.headers.add("Job-Command-Arg", args)
		}
		f.mu.Lock()
		f.emitLocked(e)
		f.mu.Unlock()
		if after != nil {
			after()
		}
	})
}
