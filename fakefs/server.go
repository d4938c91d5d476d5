package fakefs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configure a fake FreeSWITCH. Zero values give the defaults noted.
type Options struct {
	Password string       // ESL password; default "ClueCon"
	Hostname string       // FreeSWITCH-Hostname; default "fakefs"
	IPv4     string       // FreeSWITCH-IPv4 and Conference-Domain; default "127.0.0.1"
	IPv6     string       // FreeSWITCH-IPv6; default "::1"
	Logger   *slog.Logger // default: discard
	// ConnectTimeout bounds how long an outbound socket waits for `connect`
	// (FreeSWITCH: about 25 s).
	ConnectTimeout time.Duration
	// SpeakPerChar is how long the speak app talks per character of text
	// (no TTS in the fake: it plays silence); default 60 ms, as flite did.
	SpeakPerChar time.Duration
	// FirstMemberID is the first conference member id handed out
	// (FreeSWITCH counts members per process); default 1.
	FirstMemberID int
	// FirstPlayFile is the number of mod_audio_fork's first playAudio file
	// (<uuid>_<n>.tmp.r8; one counter per switch, from 0); default 0.
	FirstPlayFile uint32
	// Media is the audio engine; default: a new one from fakefs/media,
	// closed by Close. Tests inject their own through this field.
	Media mediaEngine
}

// FS is a running fake FreeSWITCH.
type FS struct {
	opts     Options
	log      *slog.Logger
	ln       net.Listener
	coreUUID string
	started  time.Time
	media    mediaEngine
	ownMedia bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	cb *callbackQueue

	mu          sync.Mutex
	closed      bool
	seq         uint64
	sessionID   int
	memberSeq   int
	conns       map[*eslConn]struct{}
	channels    map[string]*Channel
	endpoints   map[string]Party
	conferences map[string]*conference
	refuse      bool
	delay       time.Duration
}

// Start listens for inbound ESL on 127.0.0.1:0 and returns the running fake.
func Start(opts Options) (*FS, error) {
	if opts.Password == "" {
		opts.Password = "ClueCon"
	}
	if opts.Hostname == "" {
		opts.Hostname = "fakefs"
	}
	if opts.IPv4 == "" {
		opts.IPv4 = "127.0.0.1"
	}
	if opts.IPv6 == "" {
		opts.IPv6 = "::1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 25 * time.Second
	}
	if opts.SpeakPerChar <= 0 {
		opts.SpeakPerChar = 60 * time.Millisecond
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakefs: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &FS{
		opts:        opts,
		log:         opts.Logger,
		ln:          ln,
		coreUUID:    uuid.NewString(),
		started:     time.Now(),
		ctx:         ctx,
		cancel:      cancel,
		seq:         1000,
		memberSeq:   max(opts.FirstMemberID, 1) - 1,
		conns:       map[*eslConn]struct{}{},
		channels:    map[string]*Channel{},
		endpoints:   map[string]Party{},
		conferences: map[string]*conference{},
	}
	f.media = opts.Media
	if f.media == nil {
		f.media = newDefaultMedia(opts.Logger, opts.FirstPlayFile)
		f.ownMedia = true
	}
	f.cb = newCallbackQueue()
	f.wg.Add(2)
	go func() { defer f.wg.Done(); f.cb.run(ctx) }()
	go func() { defer f.wg.Done(); f.acceptLoop() }()
	return f, nil
}

// ESLAddr is the inbound event socket's host:port.
func (f *FS) ESLAddr() string { return f.ln.Addr().String() }

// Close hangs up every channel, ends every connection and waits for all of
// the fake's goroutines.
func (f *FS) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	for _, ch := range f.channels {
		ch.hangupLocked("SYSTEM_SHUTDOWN", hangupLocal)
	}
	conns := make([]*eslConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	err := f.ln.Close()
	f.cancel()
	for _, c := range conns {
		c.abort()
	}
	f.wg.Wait()
	if f.ownMedia {
		if merr := f.media.Close(); merr != nil && err == nil {
			err = merr
		}
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (f *FS) acceptLoop() {
	for {
		nc, err := f.ln.Accept()
		if err != nil {
			if f.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				f.log.Warn("fakefs: accept", "err", err)
			}
			return
		}
		f.mu.Lock()
		refuse := f.refuse || f.closed
		f.mu.Unlock()
		if refuse {
			_ = nc.Close()
			continue
		}
		c := f.newConn(nc, nil)
		c.start(func() {
			c.send([]byte("Content-Type: auth/request\n\n"))
		})
	}
}

// DropConnections closes every event-socket connection at once (inbound
// and outbound), without notices, as a crashed or restarted FreeSWITCH would.
func (f *FS) DropConnections() {
	f.mu.Lock()
	conns := make([]*eslConn, 0, len(f.conns))
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
}

// DelayReplies makes every connection wait d before answering each command
// (0 restores normal behaviour).
func (f *FS) DelayReplies(d time.Duration) {
	f.mu.Lock()
	f.delay = d
	f.mu.Unlock()
}

// RefuseConnections makes the inbound listener close new connections
// immediately while on.
func (f *FS) RefuseConnections(on bool) {
	f.mu.Lock()
	f.refuse = on
	f.mu.Unlock()
}

// go runs fn as a goroutine owned by f (Close waits for it).
func (f *FS) goOwned(fn func()) {
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		fn()
	}()
}

// emitLocked stamps e (sequence, time) and queues it on every connection
// that wants it. f.mu must be held: that keeps Event-Sequence and delivery
// order the same everywhere.
func (f *FS) emitLocked(e *event) {
	f.seq++
	e.seq = f.seq
	e.when = time.Now()
	frame := eventPlainFrame(plainBody(f.allHeaders(e), e.body))
	for c := range f.conns {
		if c.wantsLocked(e) {
			c.send(frame)
		}
	}
}

// callbackQueue runs callbacks from the media engine on one goroutine of
// ours, so the engine's locks are never held while we take f.mu.
type callbackQueue struct {
	mu   sync.Mutex
	fns  []func()
	wake chan struct{}
}

func newCallbackQueue() *callbackQueue { return &callbackQueue{wake: make(chan struct{}, 1)} }

func (q *callbackQueue) post(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *callbackQueue) run(ctx context.Context) {
	for {
		q.mu.Lock()
		fns := q.fns
		q.fns = nil
		q.mu.Unlock()
		for _, fn := range fns {
			fn()
		}
		if len(fns) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-q.wake:
		}
	}
}
