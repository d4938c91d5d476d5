package fakefs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// header is one header line; values are kept decoded and encoded on output.
type header struct{ name, value string }

// headers is an ordered header list: FreeSWITCH's order matters to readers
// that compare against the real thing, and names are case-sensitive.
type headers []header

func (h *headers) add(name, value string) { *h = append(*h, header{name, value}) }

// setLast deletes name and appends it, as FreeSWITCH's channel variables do
// when a variable is set again (it moves to the end).
func (h *headers) setLast(name, value string) {
	h.del(name)
	h.add(name, value)
}

func (h *headers) del(name string) {
	out := (*h)[:0]
	for _, x := range *h {
		if x.name != name {
			out = append(out, x)
		}
	}
	*h = out
}

func (h headers) get(name string) string {
	for _, x := range h {
		if x.name == name {
			return x.value
		}
	}
	return ""
}

func (h headers) has(name string) bool {
	for _, x := range h {
		if x.name == name {
			return true
		}
	}
	return false
}

// urlUnsafe is switch_url_encode's set of characters that get escaped
// (besides control characters and non-ASCII bytes).
const urlUnsafe = " \"#%&+:;<=>?@[\\]^`{|}"

// urlEncode escapes like FreeSWITCH's switch_url_encode.
func urlEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(urlUnsafe, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Limits on what a client may send: a bad client gets its own connection
// closed, nothing else is affected.
const (
	maxLineBytes   = 64 << 10
	maxHeaderLines = 256
	maxBodyBytes   = 1 << 20
)

var errFrameTooLarge = errors.New("fakefs: command frame too large")

// command is one frame a client sent: the command line, its header lines
// (sendmsg, bgapi Job-UUID) and an optional body.
type command struct {
	line    string
	headers headers
	body    []byte
}

func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		buf = append(buf, frag...)
		if len(buf) > maxLineBytes {
			return "", errFrameTooLarge
		}
		if !isPrefix {
			return strings.TrimSuffix(string(buf), "\r"), nil
		}
	}
}

// readCommand reads one command frame. Blank lines before a command are
// skipped, as mod_event_socket does.
func readCommand(r *bufio.Reader) (*command, error) {
	var cmd command
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			continue
		}
		cmd.line = strings.TrimSpace(line)
		break
	}
	for n := 0; ; n++ {
		if n > maxHeaderLines {
			return nil, errFrameTooLarge
		}
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		cmd.headers.add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	if cl := cmd.headers.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxBodyBytes {
			return nil, fmt.Errorf("fakefs: bad Content-Length %q: %w", cl, errFrameTooLarge)
		}
		cmd.body = make([]byte, n)
		if _, err := io.ReadFull(r, cmd.body); err != nil {
			return nil, err
		}
	}
	return &cmd, nil
}

// commandReply renders a command/reply frame with optional extra headers
// (Job-UUID after Reply-Text, as in the captures).
func commandReply(text string, extra ...header) []byte {
	var b strings.Builder
	b.WriteString("Content-Type: command/reply\nReply-Text: ")
	b.WriteString(text)
	b.WriteByte('\n')
	for _, h := range extra {
		b.WriteString(h.name + ": " + h.value + "\n")
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

func apiResponse(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// disconnectNotice renders a text/disconnect-notice. Lines are ordered as
// in the captures; a zero-value field is left out.
func disconnectNotice(sessionUUID, disposition, channelName string, lingerSecs int, body string) []byte {
	var b strings.Builder
	b.WriteString("Content-Type: text/disconnect-notice\n")
	if sessionUUID != "" {
		b.WriteString("Controlled-Session-UUID: " + sessionUUID + "\n")
	}
	if disposition != "" {
		b.WriteString("Content-Disposition: " + disposition + "\n")
	}
	if channelName != "" {
		b.WriteString("Channel-Name: " + channelName + "\n")
	}
	if disposition == "linger" {
		fmt.Fprintf(&b, "Linger-Time: %d\n", lingerSecs)
	}
	fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(body), body)
	return []byte(b.String())
}
