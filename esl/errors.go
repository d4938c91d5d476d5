package esl

import (
	"errors"
	"fmt"
	"strings"
)

// Errors a caller can test with errors.Is.
var (
	// ErrProtocol: the peer sent something that is not the event socket protocol.
	ErrProtocol = errors.New("esl: protocol error")
	// ErrClosed: the connection is closed (see Conn.Err for why).
	ErrClosed = errors.New("esl: connection closed")
	// ErrAuth: the inbound socket refused the password.
	ErrAuth = errors.New("esl: authentication failed")
	// ErrAccessDenied: FreeSWITCH's ACL refused the connection (text/rude-rejection).
	ErrAccessDenied = errors.New("esl: access denied by FreeSWITCH")
	// ErrInvalidCommand: a command or argument contains a line break, which
	// would smuggle a second command onto the socket.
	ErrInvalidCommand = errors.New("esl: invalid command")
	// ErrHangup: the channel hung up before an application completed.
	ErrHangup = errors.New("esl: channel hung up")
	// ErrNotConnected: the inbound client is between connections.
	ErrNotConnected = errors.New("esl: not connected to FreeSWITCH")

	ErrCommandNotFound      = errors.New("esl: command not found")
	ErrNoSuchChannel        = errors.New("esl: no such channel")
	ErrInvalidUUID          = errors.New("esl: invalid uuid")
	ErrConferenceNotFound   = errors.New("esl: conference not found")
	ErrMemberNotFound       = errors.New("esl: conference member not found")
	ErrRelationshipNotFound = errors.New("esl: relationship not found")
	ErrOperationFailed      = errors.New("esl: operation failed")
	ErrNoReply              = errors.New("esl: command gave no reply")

	// Hangup causes FreeSWITCH answers originate with (-ERR <CAUSE>).
	ErrUserBusy           = &CauseError{Cause: "USER_BUSY"}
	ErrNoAnswer           = &CauseError{Cause: "NO_ANSWER"}
	ErrNoUserResponse     = &CauseError{Cause: "NO_USER_RESPONSE"}
	ErrCallRejected       = &CauseError{Cause: "CALL_REJECTED"}
	ErrNoRouteDestination = &CauseError{Cause: "NO_ROUTE_DESTINATION"}
	ErrChanNotImplemented = &CauseError{Cause: "CHAN_NOT_IMPLEMENTED"}
	ErrOriginatorCancel   = &CauseError{Cause: "ORIGINATOR_CANCEL"}
	ErrUserNotRegistered  = &CauseError{Cause: "USER_NOT_REGISTERED"}
	ErrSubscriberAbsent   = &CauseError{Cause: "SUBSCRIBER_ABSENT"}
	ErrNormalTemporary    = &CauseError{Cause: "NORMAL_TEMPORARY_FAILURE"}
)

// CauseError is a FreeSWITCH hangup cause returned as "-ERR <CAUSE>", as an
// originate does. Two CauseErrors match under errors.Is when the causes match,
// so errors.Is(err, esl.ErrUserBusy) works on any wrapping.
type CauseError struct{ Cause string }

func (e *CauseError) Error() string { return "esl: call failed: " + e.Cause }

func (e *CauseError) Is(target error) bool {
	t, ok := target.(*CauseError)
	return ok && t.Cause == e.Cause
}

// ReplyError is a "-ERR …" reply. It wraps a sentinel when the text is one
// FreeSWITCH is known to send, so errors.Is(err, ErrNoSuchChannel) works.
type ReplyError struct {
	Command string // the command as sent, without its arguments' secrets
	Text    string // the reply after "-ERR "
	kind    error
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("esl: %s: -ERR %s", e.Command, e.Text)
}

func (e *ReplyError) Unwrap() error { return e.kind }

// replyError classifies a reply text. It returns nil for anything that is not
// "-ERR …": some FreeSWITCH commands answer without a +OK prefix (usage texts,
// json_list, energy), and those are results, not errors.
func replyError(cmd, text string) error {
	t := strings.TrimRight(text, "\r\n")
	if !strings.HasPrefix(t, "-ERR") {
		return nil
	}
	msg := strings.TrimSpace(strings.TrimPrefix(t, "-ERR"))
	return &ReplyError{Command: commandName(cmd), Text: msg, kind: classify(msg)}
}

func classify(msg string) error {
	switch {
	case msg == "command not found", strings.HasSuffix(msg, " Command not found!"):
		return ErrCommandNotFound
	case msg == "No such channel!":
		return ErrNoSuchChannel
	case msg == "invalid uuid":
		return ErrInvalidUUID
	case msg == "Operation Failed":
		return ErrOperationFailed
	case msg == "no reply":
		return ErrNoReply
	case msg == "invalid" || strings.HasPrefix(msg, "invalid password"):
		return ErrAuth
	case strings.HasPrefix(msg, "Conference ") && strings.HasSuffix(msg, " not found"):
		return ErrConferenceNotFound
	case strings.HasPrefix(msg, "Non-Existant ID"), strings.HasPrefix(msg, "Non-Existent ID"):
		return ErrMemberNotFound
	case strings.HasPrefix(msg, "relationship ") && strings.HasSuffix(msg, "not found."):
		return ErrRelationshipNotFound
	case isCause(msg):
		return &CauseError{Cause: msg}
	}
	return nil
}

// isCause reports whether s looks like a hangup cause: USER_BUSY, NO_ANSWER…
func isCause(s string) bool {
	if len(s) < 3 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// commandName keeps the first two words of a command for error messages, so
// that passwords and long dial strings stay out of logs.
func commandName(cmd string) string {
	f := strings.Fields(cmd)
	switch {
	case len(f) == 0:
		return ""
	case f[0] == "auth" || f[0] == "userauth":
		return f[0]
	case len(f) == 1:
		return f[0]
	}
	return f[0] + " " + f[1]
}
