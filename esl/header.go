package esl

import (
	"net/url"
	"strings"
)

// Field is one header line. Names are kept exactly as FreeSWITCH sent them.
type Field struct {
	Name  string
	Value string
}

// Header is an ordered list of header lines, values URL-decoded.
type Header []Field

// Lookup returns the value of the first header with this name. An exact match
// is tried first; FreeSWITCH itself compares header names case-insensitively,
// so a case-insensitive match is accepted as well.
func (h Header) Lookup(name string) (string, bool) {
	for _, f := range h {
		if f.Name == name {
			return f.Value, true
		}
	}
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Get returns the value of the named header, or "".
func (h Header) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// decodeValue undoes FreeSWITCH's URL-encoding of header values. FreeSWITCH
// encodes '+' as %2B, so a literal '+' is a plus, not a space: PathUnescape,
// not QueryUnescape. A value that is not valid percent-encoding is kept as sent.
func decodeValue(v string) string {
	if strings.IndexByte(v, '%') < 0 {
		return v
	}
	d, err := url.PathUnescape(v)
	if err != nil {
		return v
	}
	return d
}

// parseHeaderBlock splits "Name: value\n" lines (a trailing '\r' tolerated)
// into fields. block must not contain the terminating blank line. Names and
// undecoded values are substrings of block, so parsing allocates only the
// slice and decoded values.
func parseHeaderBlock(block string, decode bool) (Header, error) {
	h := make(Header, 0, strings.Count(block, "\n")+1)
	for len(block) > 0 {
		var line string
		if i := strings.IndexByte(block, '\n'); i >= 0 {
			line, block = block[:i], block[i+1:]
		} else {
			line, block = block, ""
		}
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 {
			return nil, &FrameError{Reason: "header line without a name and colon", Line: truncate(line)}
		}
		name := line[:colon]
		value := strings.TrimLeft(line[colon+1:], " ")
		if decode {
			value = decodeValue(value)
		}
		h = append(h, Field{Name: name, Value: value})
	}
	return h, nil
}

func truncate(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
