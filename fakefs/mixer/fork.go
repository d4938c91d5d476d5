package mixer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is what mod_audio_fork asks for.
const Subprotocol = "audio.drachtio.org"

// ForkOptions are uuid_audio_fork's start arguments and channel variables.
type ForkOptions struct {
	URL        string
	Mix        string // mono, mixed or stereo
	SampleRate int    // 8000 or 16000
	Metadata   string
	// Basic auth (MOD_AUDIO_BASIC_AUTH_USERNAME / _PASSWORD).
	User, Password string
	// ChannelUUID names playAudio files as mod_audio_fork does.
	ChannelUUID string
	TempDir     string
	Events      ForkEvents
}

// ForkEvents are what the fake turns into mod_audio_fork::* events. They are
// called from the fork's own goroutine.
type ForkEvents struct {
	Connect       func()
	ConnectFailed func(reason string)
	Disconnect    func()
	Message       func(kind string, body []byte) // killAudio, transcription, transfer, error, json…
	PlayAudio     func(jsonBody []byte)
	BufferOverrun func()
}

// Fork is mod_audio_fork on a leg.
type Fork struct {
	leg    *Leg
	o      ForkOptions
	stereo bool
	mixed  bool
	ratio  int // 1 at 16k, 2 at 8k

	queue   chan []byte
	dropped atomic.Uint64
	sentN   atomic.Uint64

	mu       sync.Mutex
	conn     *websocket.Conn
	ours     bool // we closed it (stop): no disconnect event
	files    []string
	stopOnce sync.Once
	stopped  chan struct{}
	done     chan struct{}
}

// ErrForkArgs: FreeSWITCH would refuse these start arguments.
var ErrForkArgs = errors.New("mixer: bad audio fork arguments")

// StartFork connects to the websocket in the background, as mod_audio_fork
// does: the result arrives as Connect or ConnectFailed.
func (l *Leg) StartFork(o ForkOptions) (*Fork, error) {
	f := &Fork{leg: l, o: o, queue: make(chan []byte, 50), stopped: make(chan struct{}), done: make(chan struct{})}
	switch o.Mix {
	case "mono":
	case "mixed":
		f.mixed = true
	case "stereo":
		f.stereo = true
	default:
		return nil, fmt.Errorf("%w: mix %q", ErrForkArgs, o.Mix)
	}
	switch o.SampleRate {
	case 16000:
		f.ratio = 1
	case 8000:
		f.ratio = 2
	default:
		return nil, fmt.Errorf("%w: rate %d", ErrForkArgs, o.SampleRate)
	}
	if o.TempDir == "" {
		f.o.TempDir = os.TempDir()
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, fmt.Errorf("%w: channel gone", ErrForkArgs)
	}
	l.forks = append(l.forks, f)
	l.allForks = append(l.allForks, f)
	l.mu.Unlock()
	l.e.forks.Add(1)
	go f.run()
	return f, nil
}

// Dropped counts frames lost because the server did not keep up.
func (f *Fork) Dropped() uint64 { return f.dropped.Load() }

// frame queues one 20 ms frame; never blocks the clock.
func (f *Fork) frame(read, write []int16) {
	n := FrameSamples / f.ratio
	chans := 1
	if f.stereo {
		chans = 2
	}
	b := make([]byte, 2*n*chans)
	for i := 0; i < n; i++ {
		r, w := avg(read, i, f.ratio), avg(write, i, f.ratio)
		switch {
		case f.stereo:
			binary.LittleEndian.PutUint16(b[4*i:], uint16(r))
			binary.LittleEndian.PutUint16(b[4*i+2:], uint16(w))
		case f.mixed:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(clip(int32(r)+int32(w))))
		default:
			binary.LittleEndian.PutUint16(b[2*i:], uint16(r))
		}
	}
	select {
	case f.queue <- b:
	default:
		if f.dropped.Add(1) == 1 && f.o.Events.BufferOverrun != nil {
			go f.o.Events.BufferOverrun()
		}
	}
}

func avg(s []int16, i, ratio int) int16 {
	if ratio == 1 {
		return s[i]
	}
	return int16((int32(s[2*i]) + int32(s[2*i+1])) / 2)
}

func (f *Fork) run() {
	defer f.leg.e.forks.Done()
	defer close(f.done)
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}, HandshakeTimeout: 5 * time.Second}
	// What mod_audio_fork sends: a fixed Origin, and a Host without the port.
	h := http.Header{"Origin": {"http://127.0.0.1"}}
	if u, err := url.Parse(f.o.URL); err == nil {
		h.Set("Host", u.Hostname())
	}
	if f.o.User != "" {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(f.o.User+":"+f.o.Password)))
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-f.stopped:
		case <-f.done:
		}
		cancel()
	}()
	conn, _, err := d.DialContext(ctx, f.o.URL, h)
	if err != nil {
		cancel()
		if ev := f.o.Events.ConnectFailed; ev != nil {
			ev("Unable to connect")
		}
		return
	}
	f.mu.Lock()
	f.conn = conn
	err = conn.WriteMessage(websocket.TextMessage, []byte(f.o.Metadata))
	f.mu.Unlock()
	if err != nil {
		conn.Close()
		cancel()
		return
	}
	if ev := f.o.Events.Connect; ev != nil {
		ev()
	}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		f.read(conn)
	}()
	for {
		select {
		case b := <-f.queue:
			// One writer at a time: frames, SendText and Stop share the conn.
			f.mu.Lock()
			err := errors.New("stopped")
			if !f.ours {
				_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
				err = conn.WriteMessage(websocket.BinaryMessage, b)
			}
			f.mu.Unlock()
			if err != nil {
				conn.Close()
				<-readerDone
				cancel()
				return
			}
			f.sentN.Add(1)
		case <-readerDone:
			conn.Close()
			cancel()
			return
		case <-f.stopped:
			<-readerDone
			cancel()
			return
		}
	}
}

// read handles the server's messages until the connection ends.
func (f *Fork) read(conn *websocket.Conn) {
	for {
		typ, msg, err := conn.ReadMessage()
		if err != nil {
			f.mu.Lock()
			ours := f.ours
			f.mu.Unlock()
			if !ours && f.o.Events.Disconnect != nil {
				f.o.Events.Disconnect()
			}
			return
		}
		if typ != websocket.TextMessage {
			continue
		}
		var m struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(msg, &m); err != nil {
			f.message("error", []byte(`{"error":"invalid JSON"}`))
			continue
		}
		switch m.Type {
		case "playAudio":
			f.playAudio(m.Data)
		case "disconnect":
			f.message("disconnect", m.Data)
			f.mu.Lock()
			f.ours = true // the disconnect event has been given
			f.mu.Unlock()
			_ = conn.Close()
			return
		case "killAudio", "transcription", "transfer", "error", "json":
			f.message(m.Type, m.Data)
		default:
			f.message("error", []byte(`{"error":"unsupported message type"}`))
		}
	}
}

func (f *Fork) message(kind string, body []byte) {
	if ev := f.o.Events.Message; ev != nil {
		ev(kind, body)
	}
}

// playAudio does what mod_audio_fork's processIncomingMessage does: it takes
// audioContent out of the data object, writes the audio to
// <temp>/<uuid>_<n>.tmp<ext> (n from one counter for the whole switch, the
// extension from audioContentType and sampleRate), appends "file" and fires
// play_audio with the object's other keys in their order. It does not play
// the file: the controller must. Audio it cannot use still fires the event,
// without "file".
func (f *Fork) playAudio(data json.RawMessage) {
	keys, vals, err := orderedObject(data)
	if err != nil {
		return // mod_audio_fork logs "missing data payload" and fires nothing
	}
	get := func(k string) json.RawMessage {
		for i, x := range keys {
			if x == k {
				return vals[i]
			}
		}
		return nil
	}
	var content string
	valid := json.Unmarshal(get("audioContent"), &content) == nil
	for i := 0; i < len(keys); i++ {
		if keys[i] == "audioContent" {
			keys, vals = append(keys[:i], keys[i+1:]...), append(vals[:i], vals[i+1:]...)
			break
		}
	}
	var ct string
	_ = json.Unmarshal(get("audioContentType"), &ct)
	ext := ""
	switch ct {
	case "raw":
		var rate int
		_ = json.Unmarshal(get("sampleRate"), &rate)
		ext = map[int]string{8000: ".r8", 16000: ".r16", 24000: ".r24", 32000: ".r32", 48000: ".r48", 64000: ".r64"}[rate]
		if ext == "" {
			ext = ".r16"
		}
	case "wave", "wav":
		ext = ".wav"
	default:
		valid = false
	}
	if valid {
		audio, _ := base64.StdEncoding.DecodeString(content)
		n := f.leg.e.playFiles.Add(1) - 1
		name := filepath.Join(f.o.TempDir, fmt.Sprintf("%s_%d.tmp%s", f.o.ChannelUUID, n, ext))
		f.mu.Lock()
		f.files = append(f.files, name)
		f.mu.Unlock()
		if err := os.WriteFile(name, audio, 0o644); err != nil {
			f.leg.e.log.Warn("mixer: playAudio file not written", "file", name, "err", err)
		}
		file, _ := json.Marshal(name)
		keys, vals = append(keys, "file"), append(vals, file)
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		_ = json.Compact(&b, vals[i])
	}
	b.WriteByte('}')
	if ev := f.o.Events.PlayAudio; ev != nil {
		ev(b.Bytes())
	}
}

// orderedObject splits a JSON object into its keys and raw values, in order
// (cJSON keeps the order; a Go map would not).
func orderedObject(data []byte) (keys []string, vals []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil, fmt.Errorf("mixer: playAudio data is not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, nil
}

// SendText sends a text frame.
func (f *Fork) SendText(text string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil || f.ours {
		return errors.New("mixer: fork not connected")
	}
	_ = f.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	return f.conn.WriteMessage(websocket.TextMessage, []byte(text))
}

// Stop sends text (if any) and closes with 1000; no disconnect event follows.
func (f *Fork) Stop(text string) error {
	var err error
	f.stopOnce.Do(func() {
		f.mu.Lock()
		conn := f.conn
		f.ours = true
		if conn != nil {
			_ = conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			if text != "" {
				err = conn.WriteMessage(websocket.TextMessage, []byte(text))
			}
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			_ = conn.Close()
		}
		f.mu.Unlock()
		close(f.stopped)
	})
	f.leg.mu.Lock()
	for i, x := range f.leg.forks {
		if x == f {
			f.leg.forks = append(f.leg.forks[:i], f.leg.forks[i+1:]...)
			break
		}
	}
	f.leg.mu.Unlock()
	return err
}

// hangup ends the fork because its channel went away.
func (f *Fork) hangup() { _ = f.Stop("") }

// Done is closed when the fork's goroutine has ended.
func (f *Fork) Done() <-chan struct{} { return f.done }

// RemoveFiles deletes the playAudio files; the fake calls it when the
// channel is destroyed ("the file is removed when the session ends").
func (f *Fork) RemoveFiles() {
	f.mu.Lock()
	files := f.files
	f.files = nil
	f.mu.Unlock()
	for _, name := range files {
		_ = os.Remove(name)
	}
}
