package esl

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/internal/capture"
)

func TestReadFrame(t *testing.T) {
	small := Limits{MaxHeaderBytes: 256, MaxBodyBytes: 64}
	tests := []struct {
		name     string
		in       string
		wantType string
		wantBody string
		wantErr  error
	}{
		{"reply", "Content-Type: command/reply\nReply-Text: +OK accepted\n\n", TypeCommandReply, "", nil},
		{"api with body", "Content-Type: api/response\nContent-Length: 6\n\n+OK 5\n", TypeAPIResponse, "+OK 5\n", nil},
		{"crlf lines", "Content-Type: api/response\r\nContent-Length: 3\r\n\r\n+OK", TypeAPIResponse, "+OK", nil},
		{"blank lines before a frame", "\n\nContent-Type: command/reply\nReply-Text: +OK\n\n", TypeCommandReply, "", nil},
		{"empty body", "Content-Type: text/disconnect-notice\nContent-Length: 0\n\n", TypeDisconnectNotice, "", nil},
		{"bad content-length", "Content-Type: api/response\nContent-Length: 12x\n\nxx", "", "", ErrProtocol},
		{"negative content-length", "Content-Type: api/response\nContent-Length: -1\n\n", "", "", ErrProtocol},
		{"body over the limit", "Content-Type: api/response\nContent-Length: 65\n\n", "", "", ErrProtocol},
		{"header over the limit", "Content-Type: api/response\nX: " + strings.Repeat("a", 300) + "\n\n", "", "", ErrProtocol},
		{"line without colon", "Content-Type: api/response\ngarbage\n\n", "", "", ErrProtocol},
		{"NUL in header", "Content-Type: api/response\nX: a\x00b\n\n", "", "", ErrProtocol},
		{"binary junk", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n", "", "", ErrProtocol},
		{"eof mid-header", "Content-Type: api/resp", "", "", io.ErrUnexpectedEOF},
		{"eof without blank line", "Content-Type: api/response\n", "", "", io.ErrUnexpectedEOF},
		{"eof mid-body", "Content-Type: api/response\nContent-Length: 10\n\n+OK", "", "", io.ErrUnexpectedEOF},
		{"clean eof", "", "", "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := newFrameReader(strings.NewReader(tt.in), small).read()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.contentType() != tt.wantType || string(f.body) != tt.wantBody {
				t.Errorf("got %q %q", f.contentType(), f.body)
			}
		})
	}
}

func TestParseEventPlain(t *testing.T) {
	body := "Event-Name: CUSTOM\nEvent-Subclass: mod_audio_fork%3A%3Aplay_audio\nUnique-ID: abc\n" +
		"variable_DP_MATCH: ARRAY%3A%3A5001%7C%3A5001\nvariable_sip_h_X-Odd(Name)@x: v%2Bw\nContent-Length: 14\n\n{\"file\":\"/tmp\"}"
	ev, err := parseEventPlain([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	af, ok := ev.AudioFork()
	if !ok || af.Kind != "play_audio" || af.ChannelUUID != "abc" || string(af.Body) != `{"file":"/tmp"` {
		t.Errorf("audio fork event %+v %v", af, ok)
	}
	// Header names are kept as sent — eslgo's textproto would mangle the
	// first and reject the second.
	if got := ev.Var("DP_MATCH"); got != "ARRAY::5001|:5001" {
		t.Errorf("variable_DP_MATCH = %q", got)
	}
	if got := ev.Get("variable_sip_h_X-Odd(Name)@x"); got != "v+w" {
		t.Errorf("odd header = %q", got)
	}
	if _, err := parseEventPlain([]byte("Event-Name: X\nContent-Length: 99\n\nshort")); !errors.Is(err, ErrProtocol) {
		t.Errorf("short body: %v", err)
	}
}

// Every frame FreeSWITCH sent in every capture parses, back to back, as one
// stream, with nothing left over.
func TestCaptureStreamsParse(t *testing.T) {
	for _, name := range capture.Names() {
		if !strings.HasPrefix(name, "esl-") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			blocks := loadCapture(t, name)
			data := capture.FSBytes(blocks)
			want := bytes.Count(data, []byte("Content-Type: "))
			fr := newFrameReader(bytes.NewReader(data), Limits{})
			frames := 0
			for {
				f, err := fr.read()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("frame %d: %v", frames, err)
				}
				frames++
				if f.contentType() == TypeEventPlain {
					ev, err := parseEventPlain(f.body)
					if err != nil {
						t.Fatalf("frame %d: %v", frames, err)
					}
					if ev.Name() == "" {
						t.Errorf("frame %d: event without a name", frames)
					}
					if cl := ev.Get("Content-Length"); cl != "" && len(ev.Body) == 0 {
						t.Errorf("frame %d: event body lost", frames)
					}
				}
			}
			// Every frame has exactly one outer Content-Type; an event's own
			// headers never do.
			if frames != want {
				t.Errorf("%d frames, %d Content-Type lines", frames, want)
			}
		})
	}
}

func FuzzReadFrame(f *testing.F) {
	for _, name := range capture.Names() {
		if !strings.HasPrefix(name, "esl-") {
			continue
		}
		blocks, err := capture.Load(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, b := range blocks {
			if b.Dir == capture.FSToApp {
				f.Add(b.Data)
			}
		}
	}
	f.Add([]byte("Content-Length: 99999999999999999999\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), Limits{MaxHeaderBytes: 4096, MaxBodyBytes: 4096})
		for range 64 {
			fr, err := fr.read()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unclassified error %v", err)
				}
				return
			}
			if len(fr.body) > 4096 {
				t.Fatalf("body of %d bytes passed a 4096 limit", len(fr.body))
			}
			if fr.contentType() == TypeEventPlain {
				ev, err := parseEventPlain(fr.body)
				if err == nil {
					_, _ = ev.Conference()
					_, _ = ev.AudioFork()
					_ = ev.Sequence()
				} else if !errors.Is(err, ErrProtocol) {
					t.Fatalf("unclassified event error %v", err)
				}
			}
		}
	})
}
