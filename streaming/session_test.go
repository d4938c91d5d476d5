package streaming

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

type rig struct {
	reg *Registry
	srv *httptest.Server
}

func newRig(t *testing.T, opts Options) *rig {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.CloseGrace == 0 {
		// Most test peers never read, so never answer our close frame.
		opts.CloseGrace = 50 * time.Millisecond
	}
	r := &rig{reg: NewRegistry(opts)}
	r.srv = httptest.NewServer(r.reg)
	t.Cleanup(func() {
		_ = r.reg.Close()
		r.srv.Close()
	})
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (r *rig) wsURL(callID, token string) string {
	return ForkURL("ws"+strings.TrimPrefix(r.srv.URL, "http"), "", callID, token)
}

// dialFork connects as mod_audio_fork does (subprotocol, Origin).
func dialFork(ctx context.Context, t *testing.T, url string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Origin", "http://127.0.0.1")
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}}
	c, resp, err := d.DialContext(ctx, url, hdr)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func stereoFrame(ch0, ch1 int16) []byte {
	b := make([]byte, StereoFrameBytes16k)
	for i := 0; i < StereoFrameBytes16k/4; i++ {
		binary.LittleEndian.PutUint16(b[4*i:], uint16(ch0))
		binary.LittleEndian.PutUint16(b[4*i+2:], uint16(ch1))
	}
	return b
}

func nextFrame(ctx context.Context, t *testing.T, s *Session) (Frame, bool) {
	t.Helper()
	select {
	case f, ok := <-s.Frames():
		return f, ok
	case <-ctx.Done():
		t.Fatalf("no frame: %v", ctx.Err())
		return Frame{}, false
	}
}

func waitDone(ctx context.Context, t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-ctx.Done():
		t.Fatalf("session not done: %v", ctx.Err())
	}
}

func TestForkStereoFramesAndMetadata(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-1", "tok123")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, resp, err := dialFork(ctx, t, r.wsURL("call-1", "tok123"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Sec-Websocket-Protocol"); got != Subprotocol {
		t.Fatalf("negotiated subprotocol %q", got)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"callId":"call-1"}`)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := c.WriteMessage(websocket.BinaryMessage, stereoFrame(int16(100+i), -7)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := s.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Valid || m.CallID != "call-1" {
		t.Fatalf("metadata %+v", m)
	}
	for i := range 3 {
		f, ok := nextFrame(ctx, t, s)
		if !ok {
			t.Fatal("frames closed early")
		}
		if f.Seq != uint64(i) || f.Channels != 2 || f.SampleRate != 16000 || len(f.PCM) != 640 {
			t.Fatalf("frame %d: seq %d ch %d rate %d len %d", i, f.Seq, f.Channels, f.SampleRate, len(f.PCM))
		}
		if f.PCM[0] != int16(100+i) || f.PCM[1] != -7 || f.PCM[638] != int16(100+i) || f.PCM[639] != -7 {
			t.Fatalf("frame %d: samples %v %v", i, f.PCM[:2], f.PCM[638:])
		}
		f.Release()
		f.Release() // harmless
	}
	// FreeSWITCH's stop: text, then close 1000.
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"bye":true}`))
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitDone(ctx, t, s)
	if _, ok := <-s.Frames(); ok {
		t.Fatal("Frames not closed after the session ended")
	}
	if s.Err() != nil {
		t.Fatalf("normal close reported as %v", s.Err())
	}
	st := s.Stats()
	if st.FramesReceived != 3 || st.TextFrames != 1 || st.BadFrames != 0 || st.FramesDropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	if st.LatenessMax <= 0 || st.LatenessMean <= 0 || st.LatenessMean > st.LatenessMax {
		t.Fatalf("lateness not measured: %+v", st)
	}
	// Over: the call ID can be expected again (a restarted fork).
	s2, cancel2, err := r.reg.Expect("call-1", "tok456")
	if err != nil {
		t.Fatalf("re-expect after end: %v", err)
	}
	cancel2()
	waitDone(ctx, t, s2)
}

func TestForkRefused(t *testing.T) {
	r := newRig(t, Options{})
	if _, _, err := r.reg.Expect("call-2", "right-token"); err != nil {
		t.Fatal(err)
	}
	basic := func(user, pass string) http.Header {
		h := http.Header{}
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		return h
	}
	tests := []struct {
		name   string
		url    string
		hdr    http.Header
		noSub  bool
		status int
	}{
		{"unknown call", r.wsURL("nobody", "right-token"), nil, false, http.StatusNotFound},
		{"bad path", "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/other/call-2?token=right-token", nil, false, http.StatusNotFound},
		{"wrong token", r.wsURL("call-2", "wrong-token"), nil, false, http.StatusUnauthorized},
		{"no token", "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/fork/call-2", nil, false, http.StatusUnauthorized},
		{"basic auth wrong password", "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/fork/call-2", basic("call-2", "nope"), false, http.StatusUnauthorized},
		{"basic auth wrong user", "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/fork/call-2", basic("other", "right-token"), false, http.StatusUnauthorized},
		{"no subprotocol", r.wsURL("call-2", "right-token"), nil, true, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			var (
				resp *http.Response
				err  error
			)
			if tc.noSub {
				_, resp, err = websocket.DefaultDialer.DialContext(ctx, tc.url, tc.hdr)
			} else {
				_, resp, err = dialFork(ctx, t, tc.url, tc.hdr)
			}
			if !errors.Is(err, websocket.ErrBadHandshake) {
				t.Fatalf("err = %v, want bad handshake", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestForkBasicAuthAndSecondConnection(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-3", "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	hdr := http.Header{}
	hdr.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("call-3:secret")))
	url := "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/fork/call-3"
	c, _, err := dialFork(ctx, t, url, hdr)
	if err != nil {
		t.Fatalf("basic auth refused: %v", err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{}`))
	if _, err := s.Metadata(ctx); err != nil {
		t.Fatal(err)
	}
	_, resp, err := dialFork(ctx, t, url, hdr)
	if err == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("second connection: err %v status %v, want 409", err, resp)
	}
	if !s.Connected() {
		t.Fatal("first connection lost")
	}
}

func TestForkBadFramesCountedNeverFatal(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-4", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, _, err := dialFork(ctx, t, r.wsURL("call-4", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The metadata of a `start` whose metadata had a space: only the tail arrives.
	msgs := []struct {
		kind int
		data []byte
	}{
		{websocket.TextMessage, []byte(`a space"}`)},
		{websocket.BinaryMessage, make([]byte, 641)},
		{websocket.BinaryMessage, nil},
		{websocket.BinaryMessage, make([]byte, 5000)},
		{websocket.BinaryMessage, make([]byte, MonoFrameBytes16k)}, // fixes the format: mono 16k
		{websocket.BinaryMessage, make([]byte, StereoFrameBytes16k)},
		{websocket.BinaryMessage, make([]byte, 3)},
		{websocket.BinaryMessage, make([]byte, MonoFrameBytes16k)},
	}
	for _, m := range msgs {
		if err := c.WriteMessage(m.kind, m.data); err != nil {
			t.Fatal(err)
		}
	}
	md, err := s.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Valid || md.Raw != `a space"}` {
		t.Fatalf("garbage metadata taken as valid: %+v", md)
	}
	for i := range 2 {
		f, ok := nextFrame(ctx, t, s)
		if !ok || f.Channels != 1 || f.SampleRate != 16000 || len(f.PCM) != 320 || f.Seq != uint64(i) {
			t.Fatalf("frame %d: %+v ok=%v", i, f, ok)
		}
		f.Release()
	}
	if st := s.Stats(); st.BadFrames != 5 || st.FramesReceived != 2 {
		t.Fatalf("stats %+v", st)
	}
	if !s.Connected() {
		t.Fatal("bad frames ended the connection")
	}
}

func TestForkMetadataFixesFormat(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-5", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, _, err := dialFork(ctx, t, r.wsURL("call-5", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Stereo 8k frames are 640 bytes, the size of mono 16k: the metadata decides.
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"callId":"call-5","mix":"stereo","sampleRate":8000,"missing":true,"valid":false,"raw":"x"}`))
	_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, 640))
	f, ok := nextFrame(ctx, t, s)
	if !ok || f.Channels != 2 || f.SampleRate != 8000 || len(f.PCM) != 320 {
		t.Fatalf("frame %+v", f)
	}
	// Keys in the metadata cannot forge what we observed.
	if md, _ := s.Metadata(ctx); !md.Valid || md.Missing || !strings.HasPrefix(md.Raw, `{"callId"`) {
		t.Fatalf("metadata %+v", md)
	}
	f.Release()
}

func TestForkAudioWithoutMetadata(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-6", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, _, err := dialFork(ctx, t, r.wsURL("call-6", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, MonoFrameBytes8k))
	md, err := s.Metadata(ctx)
	if err != nil || !md.Missing {
		t.Fatalf("metadata %+v err %v", md, err)
	}
	f, ok := nextFrame(ctx, t, s)
	if !ok || f.SampleRate != 8000 || f.Channels != 1 {
		t.Fatalf("frame %+v", f)
	}
	f.Release()
}

func TestForkQueueFullDropsNeverBlocks(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{QueueFrames: 4})
	s, cancel, err := r.reg.Expect("call-7", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, _, err := dialFork(ctx, t, r.wsURL("call-7", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{}`))
	const sent = 40
	for range sent {
		if err := c.WriteMessage(websocket.BinaryMessage, stereoFrame(1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	// Closing after the flood: Done means the reader got past every frame
	// although nobody consumed any.
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	waitDone(ctx, t, s)
	st := s.Stats()
	if st.FramesReceived != sent || st.FramesDropped != sent-4 {
		t.Fatalf("stats %+v", st)
	}
	var seqs []uint64
	for range 4 {
		f, _ := nextFrame(ctx, t, s)
		seqs = append(seqs, f.Seq)
		f.Release()
	}
	if seqs[0] != 0 || seqs[3] != 3 {
		t.Fatalf("kept frames %v, want the first four", seqs)
	}
}

func TestPlayAudio(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-8", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if err := s.PlayAudio(ctx, Audio{PCM: []byte{1, 0}, SampleRate: 8000}, "x"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("before connect: %v", err)
	}
	c, _, err := dialFork(ctx, t, r.wsURL("call-8", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{}`))
	if _, err := s.Metadata(ctx); err != nil {
		t.Fatal(err)
	}
	pcm := []byte{1, 0, 0xff, 0x7f, 0, 0x80}
	wav := makeWAV(16000, 1, 16, pcm)
	bad := []struct {
		name string
		a    Audio
	}{
		{"rate 11025", Audio{PCM: pcm, SampleRate: 11025}},
		{"rate 0", Audio{PCM: pcm}},
		{"odd length", Audio{PCM: pcm[:5], SampleRate: 8000}},
		{"empty", Audio{SampleRate: 8000}},
	}
	for _, b := range bad {
		if err := s.PlayAudio(ctx, b.a, "x"); !errors.Is(err, ErrBadAudio) {
			t.Errorf("%s: err %v, want ErrBadAudio", b.name, err)
		}
	}
	a, err := ParseWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PlayAudio(ctx, a, "Let the customer finish."); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, body, err := c.ReadMessage()
	if err != nil || mt != websocket.TextMessage {
		t.Fatalf("read: %v %v", mt, err)
	}
	var m struct {
		Type string                     `json:"type"`
		Data map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var (
		ct, content, text string
		rate              int
	)
	_ = json.Unmarshal(m.Data["audioContentType"], &ct)
	_ = json.Unmarshal(m.Data["sampleRate"], &rate)
	_ = json.Unmarshal(m.Data["audioContent"], &content)
	_ = json.Unmarshal(m.Data["textContent"], &text)
	raw, _ := base64.StdEncoding.DecodeString(content)
	if m.Type != "playAudio" || ct != "raw" || rate != 16000 || string(raw) != string(pcm) || text != "Let the customer finish." {
		t.Fatalf("sent %s", body)
	}
	if _, ok := m.Data["audioContentType"]; !ok {
		t.Fatal("audioContentType missing: FreeSWITCH would crash")
	}
	s.Close()
	if err := s.PlayAudio(ctx, a, "late"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func makeWAV(rate, channels, bits int, pcm []byte) []byte {
	b := []byte("RIFF\x00\x00\x00\x00WAVE")
	b = append(b, "fmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, uint16(channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate))
	b = binary.LittleEndian.AppendUint32(b, uint32(rate*channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(channels*bits/8))
	b = binary.LittleEndian.AppendUint16(b, uint16(bits))
	b = append(b, "LIST"...)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = append(b, 'a', 'b', 'c', 0) // odd chunk, padded
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(pcm)))
	b = append(b, pcm...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

func TestParseWAV(t *testing.T) {
	pcm := []byte{1, 2, 3, 4}
	tests := []struct {
		name string
		wav  []byte
		ok   bool
		rate int
	}{
		{"mono 8k", makeWAV(8000, 1, 16, pcm), true, 8000},
		{"mono 16k", makeWAV(16000, 1, 16, pcm), true, 16000},
		{"stereo", makeWAV(16000, 2, 16, pcm), false, 0},
		{"8 bit", makeWAV(8000, 1, 8, pcm), false, 0},
		{"22050", makeWAV(22050, 1, 16, pcm), false, 0},
		{"not wav", []byte("hello world, not a wav"), false, 0},
		{"truncated", makeWAV(8000, 1, 16, pcm)[:20], false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseWAV(tc.wav)
			if tc.ok != (err == nil) {
				t.Fatalf("err %v", err)
			}
			if !tc.ok {
				if !errors.Is(err, ErrBadAudio) {
					t.Fatalf("err %v not ErrBadAudio", err)
				}
				return
			}
			if a.SampleRate != tc.rate || string(a.PCM) != string(pcm) {
				t.Fatalf("got %+v", a)
			}
		})
	}
}

func TestCloseBeforeAndDuringConnection(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, _, err := r.reg.Expect("call-9", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(ctx, t, s)
	if _, _, err := dialFork(ctx, t, r.wsURL("call-9", "tok"), nil); err == nil {
		t.Fatal("closed session accepted a fork")
	}

	// A connected fork: Close sends 1000 and waits for the reader.
	s2, _, err := r.reg.Expect("call-10", "tok")
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := dialFork(ctx, t, r.wsURL("call-10", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{}`))
	if _, err := s2.Metadata(ctx); err != nil {
		t.Fatal(err)
	}
	peerSawClose := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				peerSawClose <- err
				return
			}
		}
	}()
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s2.Done():
	default:
		t.Fatal("Close returned before the session was done")
	}
	select {
	case err := <-peerSawClose:
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("peer saw %v, want close 1000", err)
		}
	case <-ctx.Done():
		t.Fatal("peer never saw the close")
	}
	if s2.Err() != nil {
		t.Fatalf("Err after our Close: %v", s2.Err())
	}
}

func TestPeerDropReportsError(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-11", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	c, _, err := dialFork(ctx, t, r.wsURL("call-11", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.UnderlyingConn().Close() // no close frame
	waitDone(ctx, t, s)
	if s.Err() == nil {
		t.Fatal("abrupt drop reported as a normal close")
	}
}

func TestExpectValidation(t *testing.T) {
	r := newRig(t, Options{})
	for _, tc := range []struct{ id, tok string }{{"", "t"}, {"a b", "t"}, {"a/b", "t"}, {"ok", ""}, {"ok", "x y"}} {
		if _, _, err := r.reg.Expect(tc.id, tc.tok); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Expect(%q,%q) = %v", tc.id, tc.tok, err)
		}
	}
	if _, _, err := r.reg.Expect("dup", "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.reg.Expect("dup", "t"); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	_ = r.reg.Close()
	if _, _, err := r.reg.Expect("after", "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestNewTokenAndForkURL(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken()
	if a == b || len(a) != 32 || !validID(a, 256) {
		t.Fatalf("tokens %q %q", a, b)
	}
	if got := ForkURL("ws://10.0.0.5:8090/", "", "c1", a); got != "ws://10.0.0.5:8090/fork/c1?token="+a || strings.Contains(got, " ") {
		t.Fatalf("ForkURL %q", got)
	}
}

func TestForkOversizedMessages(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-12", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	other, cancelOther, err := r.reg.Expect("call-13", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancelOther()
	c, _, err := dialFork(ctx, t, r.wsURL("call-12", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := dialFork(ctx, t, r.wsURL("call-13", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 100<<10)
	_ = c.WriteMessage(websocket.TextMessage, []byte(big))            // metadata, cut at 64 KiB: not JSON
	_ = c.WriteMessage(websocket.TextMessage, []byte("\xff\xfe"+big)) // send_text garbage
	_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, MonoFrameBytes16k))
	f, ok := nextFrame(ctx, t, s)
	if !ok || len(f.PCM) != 320 {
		t.Fatalf("frame after big text frames: %+v", f)
	}
	f.Release()
	// Over the read limit: this connection ends with an error, nothing else does.
	_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, 2<<20))
	waitDone(ctx, t, s)
	if s.Err() == nil {
		t.Fatal("oversized message ended the session without an error")
	}
	_ = c2.WriteMessage(websocket.TextMessage, []byte(`{}`))
	_ = c2.WriteMessage(websocket.BinaryMessage, make([]byte, MonoFrameBytes16k))
	if f, ok := nextFrame(ctx, t, other); !ok {
		t.Fatal("the other call's fork was affected")
	} else {
		f.Release()
	}
}
