package fakefs

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/callcoach/callcoach/internal/capture"
)

type capBlock struct {
	dir  string // APP->FS, FS->APP, NOTE, CLOSED
	ms   int
	data string
}

var capHeaderRE = regexp.MustCompile(`^=== (\S+) \+(\d+)ms len=(\d+)\n`)

// parseCapture reads `=== DIRECTION +MS len=BYTES` blocks followed by exactly
// BYTES bytes (NOTE blocks are followed by a newline).
func parseCapture(data []byte) ([]capBlock, error) {
	var out []capBlock
	for len(data) > 0 {
		if data[0] == '\n' {
			data = data[1:]
			continue
		}
		m := capHeaderRE.FindSubmatch(data)
		if m == nil {
			return nil, fmt.Errorf("bad block header at %q", data[:min(60, len(data))])
		}
		ms, _ := strconv.Atoi(string(m[2]))
		n, _ := strconv.Atoi(string(m[3]))
		data = data[len(m[0]):]
		if n > len(data) {
			return nil, fmt.Errorf("block of %d bytes runs past the end", n)
		}
		out = append(out, capBlock{dir: string(m[1]), ms: ms, data: string(data[:n])})
		data = data[n:]
	}
	return out, nil
}

func TestParseCapture(t *testing.T) {
	in := "=== APP->FS +1ms len=6\nexit\n\n=== NOTE +2ms len=2\nhi\n=== FS->APP +3ms len=4\nab\n\n"
	got, err := parseCapture([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []capBlock{{"APP->FS", 1, "exit\n\n"}, {"NOTE", 2, "hi"}, {"FS->APP", 3, "ab\n\n"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if _, err := parseCapture([]byte("=== APP->FS +1ms len=60\nexit\n")); err == nil {
		t.Fatal("short block accepted")
	}
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

var socketRE = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)

var (
	talkingRE       = regexp.MustCompile(`\|talking`)
	jsonTimeRE      = regexp.MustCompile(`"(run_time|join_time|last_talking)":\t[0-9]+`)
	jsonTalkingRE   = regexp.MustCompile(`"talking":\t(true|false)`)
	contentLengthRE = regexp.MustCompile(`(?m)^Content-Length: [0-9]+$`)
)

var digitsRE = regexp.MustCompile(`[0-9]+`)

func normUUIDs(s string) string { return uuidRE.ReplaceAllString(s, "<uuid>") }

// ignoredValue: headers whose values differ by nature (time, sequence,
// identity of the running switch, measured energy).
func ignoredValue(name string) bool {
	switch name {
	case "Core-UUID", "Event-Sequence", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp",
		"Current-Energy", "Talking", "seconds", "milliseconds", "samples", "Content-Length":
		return true
	}
	return strings.HasSuffix(name, "-Time") || strings.HasSuffix(name, "-Hold") || strings.HasSuffix(name, "-Accum")
}

// eventKey renders what must match for an event: every non-variable header
// name in order with its normalised value, and the body.
func eventKey(h headers, body string) string {
	var b strings.Builder
	for _, x := range h {
		if strings.HasPrefix(x.name, "variable_") {
			continue
		}
		b.WriteString(x.name)
		if !ignoredValue(x.name) {
			b.WriteString("=" + socketRE.ReplaceAllString(normUUIDs(x.value), "127.0.0.1:PORT"))
		}
		b.WriteByte('\n')
	}
	if h.get("Job-Command") == "status" {
		body = digitsRE.ReplaceAllString(body, "N") // uptime and counters
	}
	b.WriteString("BODY:" + normUUIDs(body))
	return b.String()
}

func eventLabel(h headers) string {
	s := h.get("Event-Name")
	if s == "CUSTOM" {
		s += " " + h.get("Event-Subclass") + " " + h.get("Action")
	}
	return s + " " + h.get("Channel-Name")
}

func isEvent(fr *frame) bool { return fr.contentType() == "text/event-plain" }

// frameKey is what must match for a frame: events by eventKey, every other
// frame byte for byte once UUIDs are normalised.
func frameKey(fr *frame) string {
	switch {
	case isEvent(fr):
		return "EVENT\n" + eventKey(fr.event, fr.evBody)
	case fr.headers.get("Event-Name") == "CHANNEL_DATA":
		return "CHANNEL_DATA\n" + eventKey(fr.event, "")
	}
	raw := normUUIDs(fr.raw)
	// Talk state and times depend on audio energy and timing, not commands.
	raw = talkingRE.ReplaceAllString(raw, "")
	raw = jsonTimeRE.ReplaceAllString(raw, `"$1":<n>`)
	raw = jsonTalkingRE.ReplaceAllString(raw, `"talking":<b>`)
	raw = contentLengthRE.ReplaceAllString(raw, "Content-Length: <n>")
	return "RAW\n" + raw
}

func label(fr *frame) string {
	if isEvent(fr) || len(fr.event) > 0 {
		return eventLabel(fr.event)
	}
	return fmt.Sprintf("%q", fr.raw)
}

type captureCase struct {
	file        string
	endpoints   map[string]Party
	outbound    bool
	firstMember int    // the captured switch's next conference member id
	firstPlay   uint32 // and its next playAudio file number
	// stopBefore ends the replay at the first APP->FS block containing it
	// (what follows needs something the fake does not reproduce).
	stopBefore string
	// skip marks frames the fake does not reproduce (documented gaps); they
	// are dropped from both sides.
	skip func(*frame) bool
	// beforeExpect runs before the block at index i is expected.
	beforeExpect func(t *testing.T, i int, b capBlock, call *Channel)
	// rewrite adapts a captured command to this test (an address of ours
	// in place of the captured one); it gets the test to start what it needs.
	rewrite func(t *testing.T) func(cmd string) string
}

// capturedForkServer stands in for the websocket server of esl-outbound1:
// it takes mod_audio_fork's connection, reads the metadata and answers with
// one playAudio ("coaching test", raw 8 kHz), as the server did then. The
// captured fork URL is replaced by this server's.
func capturedForkServer(t *testing.T) func(string) string {
	up := websocket.Upgrader{Subprotocols: []string{"audio.drachtio.org"}, CheckOrigin: func(*http.Request) bool { return true }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		if _, _, err := c.ReadMessage(); err != nil { // the metadata
			return
		}
		audio := base64.StdEncoding.EncodeToString(make([]byte, 1600)) // 100 ms of 8 kHz silence
		msg := `{"type":"playAudio","data":{"audioContentType":"raw","sampleRate":8000,"audioContent":"` + audio + `","textContent":"coaching test"}}`
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/cap"
	return func(cmd string) string { return strings.ReplaceAll(cmd, "ws://127.0.0.1:8099/cap", url) }
}

// farEndHangsUp makes the caller hang up when the capture shows a
// CHANNEL_HANGUP no command of ours caused.
func farEndHangsUp(cause string) func(*testing.T, int, capBlock, *Channel) {
	done := false
	return func(t *testing.T, i int, b capBlock, call *Channel) {
		if !done && strings.Contains(b.data, "Event-Name: CHANNEL_HANGUP\n") {
			done = true
			call.Hangup(cause)
		}
	}
}

func TestCaptures(t *testing.T) {
	cases := []captureCase{
		{file: "esl-inbound1.txt", endpoints: map[string]Party{
			"loopback/7440/lab": {Behaviour: Answer},
			"loopback/7880/lab": {Behaviour: Answer},
		}, skip: conferenceGaps, firstMember: 5},
		{file: "esl-inbound2.txt", endpoints: map[string]Party{
			"loopback/6002/lab": {Behaviour: Busy},
			"loopback/6001/lab": {Behaviour: NoAnswer},
		}},
		{file: "esl-inbound3.txt", endpoints: map[string]Party{
			"loopback/6001/lab": {Behaviour: NoAnswer},
		}},
		{file: "esl-outbound1.txt", outbound: true, skip: conferenceGaps, firstMember: 11, firstPlay: 2,
			endpoints: map[string]Party{"loopback/7880/lab": {Behaviour: Answer}},
			rewrite:   capturedForkServer},
		{file: "esl-outbound2.txt", outbound: true, beforeExpect: farEndHangsUp("NORMAL_CLEARING")},
		{file: "esl-outbound3.txt", outbound: true},
		{file: "esl-outbound4-hangup-queued.txt", outbound: true},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			data, err := capture.Raw(tc.file) // the captures, embedded in the module
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := parseCapture(data)
			if err != nil {
				t.Fatal(err)
			}
			replayCapture(t, tc, blocks)
		})
	}
}

// conferenceGaps are what the fake does not reproduce of mod_conference:
// the profile's sounds (enter/alone/exit, which fail without sound files) and
// talk detection (it depends on the audio's energy, not on commands).
func conferenceGaps(fr *frame) bool {
	if fr.event.get("Event-Subclass") != "conference::maintenance" {
		return false
	}
	switch fr.event.get("Action") {
	case "start-talking", "stop-talking":
		return true
	case "play-file", "play-file-done":
		file := fr.event.get("File")
		return strings.HasPrefix(file, "/usr/share/freeswitch/sounds/") || strings.HasPrefix(file, "local_stream://") ||
			file == "tone_stream://%(200,0,500,600,700)" || file == "tone_stream://%(500,0,300,200,100,50,25)"
	}
	return false
}

// captureOptions make the fake look like the captured switch so that
// lengths and values line up.
var captureOptions = Options{Hostname: "vm", IPv4: "192.0.2.2", IPv6: "fd00::2"}

func replayCapture(t *testing.T, tc captureCase, blocks []capBlock) {
	opts := captureOptions
	opts.FirstMemberID = tc.firstMember
	opts.FirstPlayFile = tc.firstPlay
	f := startFS(t, opts)
	for dial, p := range tc.endpoints {
		f.AddEndpoint(dial, p)
	}
	ctx := testCtx(t, 30*time.Second)
	var c *rawClient
	var call *Channel
	uuids := map[string]string{}
	if tc.outbound {
		c, call = placeCapturedCall(t, ctx, f, blocks)
	} else {
		c = dialRaw(t, f.ESLAddr())
	}
	rewrite := func(cmd string) string { return cmd }
	if tc.rewrite != nil {
		rewrite = tc.rewrite(t)
	}
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		switch b.dir {
		case "APP->FS":
			if tc.stopBefore != "" && strings.Contains(b.data, tc.stopBefore) {
				t.Logf("replay stops at block %d (%s): not reproduced", i, tc.stopBefore)
				return
			}
			c.write(rewrite(uuidRE.ReplaceAllStringFunc(b.data, func(u string) string {
				if m, ok := uuids[u]; ok {
					return m
				}
				return u
			})))
		case "NOTE":
		case "CLOSED":
			if strings.HasPrefix(b.data, "EOF") {
				if fr, err := c.next(ctx); err == nil {
					t.Fatalf("block %d: capture shows FreeSWITCH closing; the fake sent %s", i, label(fr))
				}
			}
			return
		case "FS->APP":
			// Events FreeSWITCH emits from several threads may come in
			// another order: match a run of consecutive frames as a set.
			j := i
			for j < len(blocks) && blocks[j].dir == "FS->APP" {
				j++
			}
			want := make([]*frame, 0, j-i)
			wantBlock := make([]int, 0, j-i)
			for k, wb := range blocks[i:j] {
				fr, err := readRawFrame(bufioReader(wb.data))
				if err != nil {
					t.Fatalf("block %d: capture frame: %v", i, err)
				}
				if tc.skip != nil && tc.skip(fr) {
					continue
				}
				want = append(want, fr)
				wantBlock = append(wantBlock, i+k)
			}
			got := make([]*frame, 0, len(want))
			for k := range want {
				if tc.beforeExpect != nil {
					tc.beforeExpect(t, wantBlock[k], blocks[wantBlock[k]], call)
				}
				fr, err := c.next(ctx)
				for err == nil && tc.skip != nil && tc.skip(fr) {
					fr, err = c.next(ctx)
				}
				if err != nil {
					var gl []string
					for _, g := range got {
						gl = append(gl, label(g))
					}
					t.Fatalf("block %d: waiting for %d frames (%s ...): got %d (%s): %v", i, len(want), label(want[len(got)]), len(got), strings.Join(gl, " | "), err)
				}
				got = append(got, fr)
			}
			compareFrames(t, i, want, got, uuids)
			if t.Failed() {
				return
			}
			i = j - 1
		}
	}
}

// compareFrames checks got against want as ordered where the order is the
// same and as a multiset otherwise; per-channel order is checked too.
func compareFrames(t *testing.T, at int, want, got []*frame, uuids map[string]string) {
	t.Helper()
	wk := make([]string, len(want))
	gk := make([]string, len(got))
	for i := range want {
		wk[i], gk[i] = frameKey(want[i]), frameKey(got[i])
	}
	ws, gs := append([]string(nil), wk...), append([]string(nil), gk...)
	sort.Strings(ws)
	sort.Strings(gs)
	for i := range ws {
		if ws[i] != gs[i] {
			var wl, gl []string
			for k := range want {
				wl = append(wl, label(want[k]))
				gl = append(gl, label(got[k]))
			}
			t.Errorf("block %d: frames differ\nwant: %s\ngot:  %s\nfirst difference:\n%s", at, strings.Join(wl, " | "), strings.Join(gl, " | "), diffKeys(ws[i], gs[i]))
			return
		}
	}
	// Per channel, events keep the capture's order.
	perChan := func(keys []string, frames []*frame) map[string][]string {
		m := map[string][]string{}
		for i, fr := range frames {
			if n := fr.event.get("Channel-Name"); n != "" {
				m[n] = append(m[n], keys[i])
			}
		}
		return m
	}
	// Learn which of the fake's UUIDs stands for which captured one, so
	// later commands can name the fake's channels.
	used := make([]bool, len(got))
	for i := range want {
		for j := range got {
			if !used[j] && wk[i] == gk[j] {
				used[j] = true
				if len(want[i].event) > 0 {
					for _, h := range want[i].event {
						if uuidRE.MatchString(h.value) && got[j].event.has(h.name) {
							uuids[h.value] = got[j].event.get(h.name)
						}
					}
				} else if wu, gu := uuidRE.FindAllString(want[i].raw, -1), uuidRE.FindAllString(got[j].raw, -1); len(wu) == len(gu) {
					for k := range wu {
						uuids[wu[k]] = gu[k]
					}
				}
				break
			}
		}
	}
	wm, gm := perChan(wk, want), perChan(gk, got)
	for name, seq := range wm {
		if fmt.Sprint(seq) != fmt.Sprint(gm[name]) {
			t.Errorf("block %d: events of %s in another order than the capture", at, name)
		}
	}
}

func diffKeys(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: want %q got %q (in %q)", i, x, y, strings.SplitN(a, "\n", 3)[:2])
		}
	}
	return "(equal)"
}

// placeCapturedCall plays the switch's part of `socket … async full`: the
// fake dials a listener of ours that stands in for the controller.
func placeCapturedCall(t *testing.T, ctx context.Context, f *FS, blocks []capBlock) (*rawClient, *Channel) {
	t.Helper()
	var data *frame
	for _, b := range blocks {
		if b.dir == "FS->APP" && strings.HasPrefix(b.data, "Event-Name: CHANNEL_DATA") {
			fr, err := readRawFrame(bufioReader(b.data))
			if err != nil {
				t.Fatal(err)
			}
			data = fr
			break
		}
	}
	if data == nil {
		t.Fatal("no CHANNEL_DATA in the capture")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			accepted <- nc
		}
		close(accepted)
	}()
	call, err := f.PlaceCall(ctx, InboundCall{
		From:    data.event.get("Channel-Caller-ID-Number"),
		To:      data.event.get("Channel-Destination-Number"),
		Context: data.event.get("Channel-Context"),
		Socket:  ln.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case nc, ok := <-accepted:
		if !ok {
			t.Fatal("accept failed")
		}
		return newRawClient(t, nc), call
	case <-ctx.Done():
		t.Fatal("the fake did not dial the outbound socket")
	}
	return nil, nil
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
