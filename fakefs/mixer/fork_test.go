package mixer

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type wsCapture struct {
	proto, origin string
	metadata      string
	frames        [][]byte
	texts         []string
	closeCode     int
}

func TestForkStreamsLikeModAudioFork(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan wsCapture, 1)
	play := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{Subprotocols: []string{Subprotocol}, CheckOrigin: func(*http.Request) bool { return true }}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		var cap wsCapture
		cap.proto, cap.origin = c.Subprotocol(), r.Header.Get("Origin")
		for {
			typ, msg, err := c.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					cap.closeCode = ce.Code
				}
				got <- cap
				return
			}
			switch {
			case typ == websocket.TextMessage && cap.metadata == "":
				cap.metadata = string(msg)
			case typ == websocket.TextMessage:
				cap.texts = append(cap.texts, string(msg))
			default:
				cap.frames = append(cap.frames, msg)
				if len(cap.frames) == 50 {
					pcm := make([]byte, 1600)
					body, _ := json.Marshal(map[string]any{"type": "playAudio", "data": map[string]any{
						"audioContentType": "raw", "sampleRate": 8000, "audioContent": base64.StdEncoding.EncodeToString(pcm), "textContent": "hi"}})
					c.WriteMessage(websocket.TextMessage, body)
					close(play)
				}
			}
		}
	}))
	defer srv.Close()

	e := NewEngine(Options{Tick: time.Millisecond})
	defer e.Close()
	caller, agent := e.NewLeg("caller"), e.NewLeg("agent")
	caller.SetSource(Tone(440, amplitude))
	agent.SetSource(Tone(880, amplitude))
	conf := e.NewConference("c")
	conf.Add(caller, 1, true, true)
	conf.Add(agent, 2, true, true)
	connected := make(chan struct{})
	files := make(chan string, 1)
	dir := t.TempDir()
	f, err := caller.StartFork(ForkOptions{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/fork/x?token=t", Mix: "stereo", SampleRate: 16000,
		Metadata: `{"callId":"x"}`, ChannelUUID: "u1", TempDir: dir,
		Events: ForkEvents{
			Connect: func() { close(connected) },
			PlayAudio: func(body []byte) {
				var d struct{ File string }
				json.Unmarshal(body, &d)
				files <- d.File
			},
			Disconnect: func() { t.Error("disconnect event after our own stop") },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	<-connected
	var file string
	select {
	case file = <-files:
	case <-ctx.Done():
		t.Fatal("no play_audio")
	}
	<-play
	// mod_audio_fork numbers files from 0, per switch (playCount).
	if !strings.HasPrefix(file, dir+"/u1_0.tmp") || !strings.HasSuffix(file, ".r8") {
		t.Errorf("playAudio file %q", file)
	}
	if st, err := os.Stat(file); err != nil || st.Size() != 1600 {
		t.Errorf("playAudio file: %v", err)
	}
	if err := f.Stop(`{"bye":true}`); err != nil {
		t.Fatal(err)
	}
	c := <-got
	if c.proto != Subprotocol || c.origin != "http://127.0.0.1" || c.metadata != `{"callId":"x"}` {
		t.Errorf("handshake %+v", c)
	}
	if len(c.texts) != 1 || c.texts[0] != `{"bye":true}` || c.closeCode != websocket.CloseNormalClosure {
		t.Errorf("stop: texts %q close %d", c.texts, c.closeCode)
	}
	var ch0, ch1 []int16
	for _, fr := range c.frames {
		if len(fr) != 1280 {
			t.Fatalf("frame of %d bytes, want 1280", len(fr))
		}
		for i := 0; i < len(fr); i += 4 {
			ch0 = append(ch0, int16(binary.LittleEndian.Uint16(fr[i:])))
			ch1 = append(ch1, int16(binary.LittleEndian.Uint16(fr[i+2:])))
		}
	}
	if Level(ch0, Rate, 440) < 4500 || Level(ch0, Rate, 880) > 50 || Level(ch1, Rate, 880) < 4500 || Level(ch1, Rate, 440) > 50 {
		t.Errorf("channel 0: 440 %.0f 880 %.0f; channel 1: 440 %.0f 880 %.0f",
			Level(ch0, Rate, 440), Level(ch0, Rate, 880), Level(ch1, Rate, 440), Level(ch1, Rate, 880))
	}
}

func TestForkConnectFailed(t *testing.T) {
	e := NewEngine(Options{Manual: true})
	defer e.Close()
	l := e.NewLeg("a")
	failed := make(chan string, 1)
	if _, err := l.StartFork(ForkOptions{URL: "ws://127.0.0.1:1/x", Mix: "mono", SampleRate: 8000,
		Events: ForkEvents{ConnectFailed: func(r string) { failed <- r }}}); err != nil {
		t.Fatal(err)
	}
	if r := <-failed; r != "Unable to connect" {
		t.Errorf("reason %q", r)
	}
	if _, err := l.StartFork(ForkOptions{URL: "ws://x", Mix: "quad", SampleRate: 8000}); !errors.Is(err, ErrForkArgs) {
		t.Errorf("bad mix: %v", err)
	}
}
