package vosk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callcoach/callcoach/stt"
)

// fakeServer speaks vosk-server's protocol: it "recognises" how many bytes
// of audio it got. behave changes its answer to the end of an utterance.
func fakeServer(t *testing.T, behave string) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_, cfg, err := c.ReadMessage()
		var m struct {
			Config struct {
				SampleRate int `json:"sample_rate"`
			} `json:"config"`
		}
		if err != nil || json.Unmarshal(cfg, &m) != nil || m.Config.SampleRate != 16000 {
			t.Errorf("config message %q", cfg)
			return
		}
		n, sent := 0, 0
		for {
			kind, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if kind == websocket.BinaryMessage {
				n += len(b)
				if n-sent >= 6400 {
					sent = n
					c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"partial" : "heard %d"}`, n)))
				}
				continue
			}
			if !strings.Contains(string(b), `"eof"`) {
				t.Errorf("text message %q", b)
			}
			switch behave {
			case "garbage":
				c.WriteMessage(websocket.TextMessage, []byte("<html>oops"))
			case "silent":
				c.ReadMessage() // never answers: waits for the client to give up
			default:
				c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`{"result": [], "text" : "heard %d bytes"}`, n)))
			}
			return
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestStreamsToAVoskServer(t *testing.T) {
	e := &Engine{URL: fakeServer(t, "")}
	rec, err := e.NewRecognizer()
	if err != nil {
		t.Fatal(err)
	}
	s := stt.NewStream(rec, 16000, stt.StreamOptions{})
	defer s.Close()
	var got []string
	frame := make([]int16, 320)
	for i := 0; i < 50+40; i++ { // 1 s of speech, then silence ends it
		rs, err := s.Feed(frame, i < 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			got = append(got, fmt.Sprintf("%v %s", r.Final, r.Text))
		}
	}
	// 1 s of speech + 300 ms of trailing silence = 41 600 bytes. (Partials
	// arrive when the server sends them: TestPartials.)
	if len(got) == 0 || got[len(got)-1] != "true heard 41600 bytes" {
		t.Fatalf("results %q", got)
	}
}

func TestPartials(t *testing.T) {
	rec, err := (&Engine{URL: fakeServer(t, "")}).NewRecognizer()
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if err := rec.StartUtterance(); err != nil {
		t.Fatal(err)
	}
	if err := rec.Process(make([]int16, 3200)); err != nil { // 6400 bytes: the fake answers a partial
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.Hypothesis() == "" { // the partial comes on the server's time
		if time.Now().After(deadline) {
			t.Fatal("no partial")
		}
		runtime.Gosched()
	}
	if h := rec.Hypothesis(); h != "heard 6400" {
		t.Errorf("partial %q", h)
	}
	if text, err := rec.EndUtterance(); err != nil || text != "heard 6400 bytes" {
		t.Errorf("final %q %v", text, err)
	}
}

func TestServerFailures(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"nobody listening", "ws://127.0.0.1:1"},
		{"garbage answer", fakeServer(t, "garbage")},
		{"no answer in time", fakeServer(t, "silent")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := (&Engine{URL: tt.url, Wait: 200 * time.Millisecond}).NewRecognizer()
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			err = rec.StartUtterance()
			if err == nil {
				if err = rec.Process(make([]int16, 320)); err == nil {
					_, err = rec.EndUtterance()
				}
			}
			if !errors.Is(err, ErrServer) {
				t.Fatalf("got %v, want ErrServer", err)
			}
		})
	}
	if _, err := (&Engine{}).NewRecognizer(); !errors.Is(err, ErrServer) {
		t.Fatalf("no URL: %v", err)
	}
}
