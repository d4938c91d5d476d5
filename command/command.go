// Package command carries supervisors' commands (spy, whisper, barge, leave,
// coach, hangup) through Redis to the controller that owns the call, and its
// reply back.
//
// A request is PUBLISHed on the owner's channel
// callcoach:controller:<id>:commands; PUBLISH says how many listen, so a
// controller that is down or cut off from Redis is known at once. The reply
// is LPUSHed to the request's own key callcoach:reply:<request id> (expiring
// after a minute), which the client waits on with BLPOP: a reply cannot be
// missed by subscribing late. A request carries its deadline; the controller
// drops requests whose client has given up, so a barge the CLI reported as
// failed never happens later.
package command

import (
	"errors"
	"fmt"
	"time"
)

// Op is what a supervisor asks for.
type Op string

// The operations.
const (
	Spy     Op = "spy"
	Whisper Op = "whisper"
	Barge   Op = "barge"
	Leave   Op = "leave"
	Coach   Op = "coach"
	Hangup  Op = "hangup"
)

// Ops lists them, for help and shell completion.
var Ops = []Op{Spy, Whisper, Barge, Leave, Coach, Hangup}

// IsMode says whether op joins or switches a monitoring mode.
func (op Op) IsMode() bool { return op == Spy || op == Whisper || op == Barge }

// Version is the wire format's version.
const Version = 1

// Request is one command.
type Request struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Call       string `json:"call"`
	Op         Op     `json:"op"`
	Supervisor string `json:"supervisor"`
	Phone      string `json:"phone,omitempty"` // dial string for the supervisor's phone
	Text       string `json:"text,omitempty"`  // coach
	// TimeoutMS is how long the client waits. The controller must be done
	// ReplyMargin sooner, by its own clock (clocks of different hosts
	// differ), or not act at all.
	TimeoutMS int64 `json:"timeout_ms"`
}

// Code classifies a reply.
type Code string

// Reply codes.
const (
	OK               Code = "ok"
	CodeUnknownCall  Code = "unknown_call"
	CodeClosed       Code = "closed"
	CodeNotPermitted Code = "not_permitted"
	CodeNotConnected Code = "not_connected" // the call is not (yet) connected to the agent
	CodeBadRequest   Code = "bad_request"
	CodeNoAudit      Code = "audit_unavailable" // refused: the action could not be audited
	CodeFailed       Code = "failed"
)

// Reply is the owner's answer.
type Reply struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Code       Code   `json:"code"`
	Error      string `json:"error,omitempty"`
	Controller string `json:"controller"`
	Call       string `json:"call"`                // the call's whole id
	MemberID   int    `json:"member_id,omitempty"` // the supervisor's conference member
	Mode       string `json:"mode,omitempty"`
	HeardBy    string `json:"heard_by,omitempty"` // coach
	// ConfirmedMS is how long FreeSWITCH took to confirm the change, as the
	// controller measured it.
	ConfirmedMS float64 `json:"confirmed_ms,omitempty"`
}

// Errors a command can end in; check with errors.Is.
var (
	ErrUnknownCall      = errors.New("unknown call")
	ErrCallClosed       = errors.New("call already closed")
	ErrOwnerUnreachable = errors.New("owner controller unreachable")
	ErrNotPermitted     = errors.New("not permitted")
	ErrNotConnected     = errors.New("call not connected")
	ErrBadRequest       = errors.New("bad request")
	ErrNoAudit          = errors.New("audit unavailable")
	ErrFailed           = errors.New("command failed")
	ErrRedis            = errors.New("redis unreachable")
)

// Error is a reply that is not OK.
type Error struct {
	Code       Code
	Message    string
	Controller string
}

func (e *Error) Error() string {
	if e.Controller != "" {
		return fmt.Sprintf("%s (controller %s)", e.Message, e.Controller)
	}
	return e.Message
}

// Is maps reply codes onto the package's errors.
func (e *Error) Is(target error) bool {
	return codeErr[e.Code] == target
}

var codeErr = map[Code]error{
	CodeUnknownCall: ErrUnknownCall, CodeClosed: ErrCallClosed, CodeNotPermitted: ErrNotPermitted,
	CodeNotConnected: ErrNotConnected, CodeBadRequest: ErrBadRequest, CodeNoAudit: ErrNoAudit, CodeFailed: ErrFailed,
}

// Channel is where a controller takes its commands.
func Channel(controller string) string { return "callcoach:controller:" + controller + ":commands" }

// ReplyKey is where a request's reply is pushed.
func ReplyKey(requestID string) string { return "callcoach:reply:" + requestID }

// ReplyMargin is what a reply may take from the controller to the client:
// the controller's time for a request is the client's timeout less it.
const ReplyMargin = 500 * time.Millisecond

// replyTTL keeps an unread reply around for a client that is slow to read it.
const replyTTL = time.Minute
