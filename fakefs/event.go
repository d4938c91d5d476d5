package fakefs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// event is one FreeSWITCH event before the base headers are stamped on it.
type event struct {
	name     string // Event-Name
	subclass string // Event-Subclass for CUSTOM
	calling  calling
	headers  headers // event-specific headers after the base block
	body     []byte

	// Filled by emit.
	seq  uint64
	when time.Time
	// uuid is the channel the event belongs to (myevents filter), ownerUUID
	// the session a bgapi job was started from.
	uuid      string
	ownerUUID string
}

// calling is the source location FreeSWITCH stamps on each event; the values
// are the real ones from the captures.
type calling struct {
	file, function string
	line           int
}

var (
	callCreate       = calling{"switch_core_state_machine.c", "switch_core_session_run", 626}
	callAnswer       = calling{"switch_channel.c", "switch_channel_perform_mark_answered", 3848}
	callExecute      = calling{"switch_core_session.c", "switch_core_session_exec", 2949}
	callExecComplete = calling{"switch_core_session.c", "switch_core_session_exec", 2972}
	callHangup       = calling{"switch_channel.c", "switch_channel_perform_hangup", 3447}
	callHangupDone   = calling{"switch_core_state_machine.c", "switch_core_session_reporting_state", 943}
	callState        = calling{"switch_channel.c", "switch_channel_perform_set_running_state", 2409}
	callUnpark       = calling{"switch_ivr.c", "switch_ivr_park", 1213}
	callDestroy      = calling{"switch_core_session.c", "switch_core_session_perform_destroy", 1611}
	callBgJob        = calling{"mod_event_socket.c", "api_exec", 1580}
	callChannelData  = calling{"mod_event_socket.c", "parse_command", 2029}
	callForkResponse = calling{"mod_audio_fork.c", "responseHandler", 22}
	callDTMF         = calling{"switch_channel.c", "switch_channel_dequeue_dtmf", 678}
)

// base renders the headers every event starts with.
func (f *FS) baseHeaders(e *event) headers {
	var h headers
	if e.subclass != "" {
		h.add("Event-Subclass", e.subclass)
	}
	h.add("Event-Name", e.name)
	h.add("Core-UUID", f.coreUUID)
	h.add("FreeSWITCH-Hostname", f.opts.Hostname)
	h.add("FreeSWITCH-Switchname", f.opts.Hostname)
	h.add("FreeSWITCH-IPv4", f.opts.IPv4)
	h.add("FreeSWITCH-IPv6", f.opts.IPv6)
	h.add("Event-Date-Local", e.when.Local().Format("2006-01-02 15:04:05"))
	h.add("Event-Date-GMT", e.when.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	h.add("Event-Date-Timestamp", strconv.FormatInt(e.when.UnixMicro(), 10))
	h.add("Event-Calling-File", e.calling.file)
	h.add("Event-Calling-Function", e.calling.function)
	h.add("Event-Calling-Line-Number", strconv.Itoa(e.calling.line))
	h.add("Event-Sequence", strconv.FormatUint(e.seq, 10))
	return h
}

// allHeaders is the event as FreeSWITCH would serialise it.
func (f *FS) allHeaders(e *event) headers {
	return append(f.baseHeaders(e), e.headers...)
}

// plainBody renders the inner text/event-plain text (headers URL-encoded,
// optional Content-Length and body).
func plainBody(h headers, body []byte) []byte {
	var b strings.Builder
	for _, x := range h {
		b.WriteString(x.name)
		b.WriteString(": ")
		b.WriteString(urlEncode(x.value))
		b.WriteByte('\n')
	}
	if len(body) > 0 {
		fmt.Fprintf(&b, "Content-Length: %d\n\n", len(body))
		b.Write(body)
	} else {
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func eventPlainFrame(inner []byte) []byte {
	return append([]byte(fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n", len(inner))), inner...)
}

func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}
