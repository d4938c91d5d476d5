package esl

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/percipia/eslgo/command"
)

// Call is one outbound-socket connection: a channel FreeSWITCH handed over.
type Call struct {
	*Conn
	data          *Event
	uuid          string
	events        *Subscription
	eventsEnabled atomic.Bool
	closeOnce     sync.Once
}

// connectCall sends `connect` and reads the channel data from its reply.
func connectCall(ctx context.Context, c *Conn, log *slog.Logger) (*Call, error) {
	// Subscribe before connect: events can follow the reply immediately.
	events := c.Subscribe(nil)
	f, err := c.roundTrip(ctx, command.Connect{}.BuildMessage()+"\n\n", nil)
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("esl: connect: %w", err)
	}
	data := make(Header, len(f.header))
	for i, fl := range f.header {
		data[i] = Field{Name: fl.Name, Value: decodeValue(fl.Value)}
	}
	if text := data.Get("Reply-Text"); !strings.HasPrefix(text, "+OK") {
		events.Close()
		return nil, fmt.Errorf("esl: connect: unexpected reply %q", text)
	}
	id := data.Get("Unique-ID")
	if id == "" {
		id = data.Get("Channel-Unique-ID")
	}
	if id == "" {
		events.Close()
		return nil, fmt.Errorf("esl: connect: reply has no channel Unique-ID")
	}
	log.Debug("esl: call connected", "uuid", id, "from", data.Get("Channel-Caller-ID-Number"), "to", data.Get("Channel-Destination-Number"))
	return &Call{Conn: c, data: &Event{ContentType: TypeCommandReply, Header: data}, uuid: id, events: events}, nil
}

// UUID is the channel's unique id.
func (c *Call) UUID() string { return c.uuid }

// Data is the channel data of the `connect` reply: Channel-Caller-ID-Number,
// Channel-Destination-Number (the number dialled: the original callee),
// variable_* and the rest, URL-decoded, names as sent.
func (c *Call) Data() *Event { return c.data }

// CallerIDNumber and DestinationNumber read the channel data.
func (c *Call) CallerIDNumber() string { return c.data.Get("Channel-Caller-ID-Number") }

// CallerIDName is the caller's name as presented.
func (c *Call) CallerIDName() string { return c.data.Get("Channel-Caller-ID-Name") }

// DestinationNumber is the number the caller dialled.
func (c *Call) DestinationNumber() string { return c.data.Get("Channel-Destination-Number") }

// Events delivers every event this connection receives, from connect on, in
// FreeSWITCH's order; nothing is dropped. It is closed when the connection
// ends or the handler returns.
func (c *Call) Events() <-chan *Event { return c.events.C() }

func (c *Call) closeEvents() { c.closeOnce.Do(c.events.Close) }

// MyEvents limits the connection to this channel's events and turns them on.
func (c *Call) MyEvents(ctx context.Context) error {
	text, err := c.Command(ctx, "myevents")
	if err != nil {
		return err
	}
	if !strings.HasPrefix(text, "+OK") {
		return fmt.Errorf("esl: myevents: unexpected reply %q", text)
	}
	c.eventsEnabled.Store(true)
	return nil
}

// Listen adds event names or CUSTOM subclasses (see Conn.Listen).
func (c *Call) Listen(ctx context.Context, names ...string) error {
	if err := c.Conn.Listen(ctx, names...); err != nil {
		return err
	}
	c.eventsEnabled.Store(true)
	return nil
}

// Linger keeps the socket open for d after the channel hangs up, so the
// hangup events are not lost. Always give a duration: a bare `linger` keeps
// the channel alive until the client exits.
func (c *Call) Linger(ctx context.Context, d time.Duration) error {
	secs := int(d / time.Second)
	if secs < 1 {
		secs = 1
	}
	// eslgo's Linger.Seconds is a time.Duration printed as a plain count.
	text, err := c.Command(ctx, command.Linger{Enabled: true, Seconds: time.Duration(secs)}.BuildMessage())
	if err != nil {
		return err
	}
	// "+OK will linger 5 seconds" (esl-outbound2).
	if !strings.HasPrefix(text, "+OK will linger") {
		return fmt.Errorf("esl: linger: unexpected reply %q", text)
	}
	return nil
}

// Execution is an application queued with sendmsg.
type Execution struct {
	App   string
	UUID  string // Application-UUID
	done  chan struct{}
	event *Event
	err   error
}

// Done is closed when the application has completed or can no longer.
func (e *Execution) Done() <-chan struct{} { return e.done }

// Result is the CHANNEL_EXECUTE_COMPLETE event, or why there is none. Valid
// after Done.
func (e *Execution) Result() (*Event, error) {
	<-e.done
	return e.event, e.err
}

// Wait waits for the application to complete.
func (e *Execution) Wait(ctx context.Context) (*Event, error) {
	select {
	case <-e.done:
		return e.event, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("esl: %s: %w", e.App, ctx.Err())
	}
}

// Execute runs a dialplan application with event-lock and waits for its
// CHANNEL_EXECUTE_COMPLETE. Do not use it for `conference`, which completes
// only when the member leaves: use ExecuteAsync.
func (c *Call) Execute(ctx context.Context, app, arg string) (*Event, error) {
	x, err := c.ExecuteAsync(ctx, app, arg)
	if err != nil {
		return nil, err
	}
	return x.Wait(ctx)
}

// ExecuteAsync queues an application (sendmsg execute, event-lock: true) and
// returns once FreeSWITCH has accepted it. The returned Execution completes
// with the application's CHANNEL_EXECUTE_COMPLETE (matched by the
// Application-UUID we choose), or fails with ErrHangup if the channel hangs
// up before the application ran, or when the connection ends.
func (c *Call) ExecuteAsync(ctx context.Context, app, arg string) (*Execution, error) {
	if err := validate(app, arg); err != nil {
		return nil, err
	}
	if !c.eventsEnabled.Load() {
		return nil, fmt.Errorf("esl: execute %s: events are off; call MyEvents first", app)
	}
	appUUID := uuid.NewString()
	x := &Execution{App: app, UUID: appUUID, done: make(chan struct{})}
	// Completed from the connection's reader, not by a goroutine of its own:
	// a call's `conference` execution lasts the whole call.
	w := c.hub.awaitFunc(func(ev *Event) bool {
		switch ev.Name() {
		case "CHANNEL_EXECUTE_COMPLETE":
			return ev.Get("Application-UUID") == appUUID
		case "CHANNEL_HANGUP_COMPLETE":
			return ev.UUID() == c.uuid
		}
		return false
	}, func(ev *Event) {
		switch {
		case ev == nil:
			x.err = fmt.Errorf("esl: %s: %w", app, c.closedError())
		case ev.Name() == "CHANNEL_HANGUP_COMPLETE":
			x.err = fmt.Errorf("esl: %s: %w before it ran (%s)", app, ErrHangup, ev.Get("Hangup-Cause"))
		default:
			x.event = ev
		}
		close(x.done)
	})
	text, err := c.command(ctx, executeMessage(c.uuid, app, arg, appUUID), "sendmsg "+app)
	if err == nil && !strings.HasPrefix(text, "+OK") {
		err = fmt.Errorf("esl: sendmsg %s: unexpected reply %q", app, text)
	}
	if err != nil {
		c.hub.cancel(w)
		return nil, err
	}
	return x, nil
}

// executeMessage builds sendmsg execute. eslgo's call.Execute is not used:
// it always sends execute-app-arg, even empty, and orders headers at random.
// A long argument goes in the body, as FreeSWITCH limits header values.
func executeMessage(channel, app, arg, appUUID string) string {
	var b strings.Builder
	b.WriteString("sendmsg " + channel + "\ncall-command: execute\nexecute-app-name: " + app + "\n")
	b.WriteString("event-lock: true\nEvent-UUID: " + appUUID + "\n")
	switch {
	case len(arg) > 2048:
		fmt.Fprintf(&b, "Content-Type: text/plain\nContent-Length: %d\n\n%s", len(arg), arg)
		return b.String()
	case arg != "":
		b.WriteString("execute-app-arg: " + arg + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// Hangup ends the channel, with a cause if one is given (FreeSWITCH's
// default is NORMAL_CLEARING). It uses `api uuid_kill`, not a queued sendmsg
// hangup: a sendmsg waits behind an event-locked application such as
// `conference` and would not hang up at all (esl-outbound4).
func (c *Call) Hangup(ctx context.Context, cause string) error {
	cmd := "uuid_kill " + c.uuid
	if cause != "" {
		cmd += " " + cause
	}
	_, err := c.API(ctx, cmd)
	return err
}

// Variable returns variable_<name> from the channel data.
func (c *Call) Variable(name string) string { return c.data.Var(name) }
