package esl

import (
	"strconv"
	"strings"
)

// Content types FreeSWITCH sends.
const (
	TypeAuthRequest      = "auth/request"
	TypeCommandReply     = "command/reply"
	TypeAPIResponse      = "api/response"
	TypeEventPlain       = "text/event-plain"
	TypeDisconnectNotice = "text/disconnect-notice"
	TypeRudeRejection    = "text/rude-rejection"
)

// Event is one event from FreeSWITCH, or a disconnect notice
// (ContentType == TypeDisconnectNotice; see Disconnect).
type Event struct {
	ContentType string
	Header      Header // URL-decoded, names as sent
	Body        []byte // the event's own body (BACKGROUND_JOB result, play_audio JSON)
}

// Get returns a header value.
func (e *Event) Get(name string) string { return e.Header.Get(name) }

// Var returns the channel variable name (header variable_<name>).
func (e *Event) Var(name string) string { return e.Header.Get("variable_" + name) }

// Name is Event-Name (CHANNEL_ANSWER, CUSTOM…).
func (e *Event) Name() string { return e.Header.Get("Event-Name") }

// Subclass is Event-Subclass of CUSTOM events (conference::maintenance…).
func (e *Event) Subclass() string { return e.Header.Get("Event-Subclass") }

// UUID is the channel the event is about (Unique-ID).
func (e *Event) UUID() string { return e.Header.Get("Unique-ID") }

// JobUUID is the Job-UUID of a BACKGROUND_JOB.
func (e *Event) JobUUID() string { return e.Header.Get("Job-UUID") }

// Sequence is Event-Sequence, FreeSWITCH's global event counter (0 if absent).
func (e *Event) Sequence() uint64 {
	n, _ := strconv.ParseUint(e.Header.Get("Event-Sequence"), 10, 64)
	return n
}

// Is reports whether the event has this name, or for CUSTOM events this
// subclass.
func (e *Event) Is(name string) bool {
	n := e.Name()
	return n == name || (n == "CUSTOM" && e.Subclass() == name)
}

// ConferenceEvent is a conference::maintenance event.
type ConferenceEvent struct {
	Conference  string // Conference-Name
	ConfUUID    string // Conference-Unique-ID
	Action      string // add-member, del-member, mute-member, play-file-member-done…
	MemberID    int    // 0 for conference-wide actions
	MemberType  string // member / moderator
	ChannelUUID string // the member's channel (Unique-ID)
	File        string // play-file* actions
	Error       string // play-file* that failed (no such file)
}

// Conference decodes a conference::maintenance event.
func (e *Event) Conference() (ConferenceEvent, bool) {
	if !e.Is("conference::maintenance") {
		return ConferenceEvent{}, false
	}
	id, _ := strconv.Atoi(e.Get("Member-ID"))
	return ConferenceEvent{
		Conference:  e.Get("Conference-Name"),
		ConfUUID:    e.Get("Conference-Unique-ID"),
		Action:      e.Get("Action"),
		MemberID:    id,
		MemberType:  e.Get("Member-Type"),
		ChannelUUID: e.UUID(),
		File:        e.Get("File"),
		Error:       e.Get("Error"),
	}, true
}

// AudioForkEvent is a mod_audio_fork::<kind> event.
type AudioForkEvent struct {
	Kind        string // connect, connect_failed, disconnect, play_audio, transcription…
	ChannelUUID string
	Body        []byte // JSON, when the event has one
}

// AudioFork decodes a mod_audio_fork::* event.
func (e *Event) AudioFork() (AudioForkEvent, bool) {
	const prefix = "mod_audio_fork::"
	sub := e.Subclass()
	if e.Name() != "CUSTOM" || !strings.HasPrefix(sub, prefix) {
		return AudioForkEvent{}, false
	}
	return AudioForkEvent{Kind: sub[len(prefix):], ChannelUUID: e.UUID(), Body: e.Body}, true
}

// Disposition of a disconnect notice.
const (
	DispositionLinger     = "linger"
	DispositionDisconnect = "disconnect"
)

// DisconnectNotice is FreeSWITCH telling an outbound socket that its channel
// has hung up (linger: events still follow for LingerTime seconds) or that the
// socket is about to close (disconnect).
type DisconnectNotice struct {
	ChannelUUID string // Controlled-Session-UUID; empty on an inbound `exit`
	Disposition string // DispositionLinger or DispositionDisconnect; empty on an inbound `exit`
	LingerTime  int    // seconds, for DispositionLinger
}

// Disconnect decodes a text/disconnect-notice.
func (e *Event) Disconnect() (DisconnectNotice, bool) {
	if e.ContentType != TypeDisconnectNotice {
		return DisconnectNotice{}, false
	}
	lt, _ := strconv.Atoi(e.Get("Linger-Time"))
	return DisconnectNotice{
		ChannelUUID: e.Get("Controlled-Session-UUID"),
		Disposition: e.Get("Content-Disposition"),
		LingerTime:  lt,
	}, true
}

// parseEventPlain parses a text/event-plain body: URL-encoded headers, a blank
// line, and the event's own body when it carries Content-Length.
func parseEventPlain(b []byte) (*Event, error) {
	s := string(b)
	headers, rest := s, ""
	if i := strings.Index(s, "\n\n"); i >= 0 {
		headers, rest = s[:i+1], s[i+2:]
	}
	h, err := parseHeaderBlock(headers, true)
	if err != nil {
		return nil, err
	}
	ev := &Event{ContentType: TypeEventPlain, Header: h}
	if cl, ok := h.Lookup("Content-Length"); ok {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > len(rest) {
			return nil, &FrameError{Reason: "event body shorter than its Content-Length", Line: cl}
		}
		ev.Body = []byte(rest[:n])
	}
	return ev, nil
}
