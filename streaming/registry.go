package streaming

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Subprotocol is what mod_audio_fork asks for in its upgrade (unless
// MOD_AUDIO_FORK_SUBPROTOCOL_NAME overrides it on the FreeSWITCH host).
const Subprotocol = "audio.drachtio.org"

// DefaultPathPrefix is where forks are expected: <prefix><call-id>.
const DefaultPathPrefix = "/fork/"

var (
	// ErrNotConnected: the fork has not connected yet.
	ErrNotConnected = errors.New("streaming: fork not connected")
	// ErrClosed: the session or registry is closed.
	ErrClosed = errors.New("streaming: closed")
	// ErrBadAudio: audio PlayAudio will not send (FreeSWITCH would crash or play it wrong).
	ErrBadAudio = errors.New("streaming: unsupported audio")
	// ErrInvalidID: a call ID or token that cannot travel safely in a fork URL.
	ErrInvalidID = errors.New("streaming: invalid call id or token")
	// ErrDuplicate: a session is already expected for this call ID.
	ErrDuplicate = errors.New("streaming: call already expected")
)

// Options configure a Registry. Zero values give the defaults.
type Options struct {
	Logger *slog.Logger
	// PathPrefix defaults to DefaultPathPrefix.
	PathPrefix string
	// QueueFrames bounds each session's frame queue (default 50 = 1 s of
	// audio). A full queue drops the newest frame rather than block the reader.
	QueueFrames int
	// WriteTimeout bounds a write whose context has no earlier deadline (default 5 s).
	WriteTimeout time.Duration
	// CloseGrace is how long Close waits for the peer to answer our close
	// frame before dropping the connection (default 1 s).
	CloseGrace time.Duration
	// HandshakeTimeout bounds the upgrade (default 10 s).
	HandshakeTimeout time.Duration
}

// Registry authorizes and serves mod_audio_fork connections. It is an
// http.Handler; mount it at Options.PathPrefix.
type Registry struct {
	opts     Options
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	sessions map[string]*Session
	closed   bool
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PathPrefix == "" {
		opts.PathPrefix = DefaultPathPrefix
	}
	if opts.QueueFrames <= 0 {
		opts.QueueFrames = 50
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 5 * time.Second
	}
	if opts.CloseGrace <= 0 {
		opts.CloseGrace = time.Second
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	r := &Registry{
		opts:     opts,
		log:      opts.Logger.With("component", "streaming"),
		sessions: make(map[string]*Session),
	}
	r.upgrader = websocket.Upgrader{
		HandshakeTimeout: opts.HandshakeTimeout,
		// Zero sizes: reuse the HTTP server's buffers from the hijack instead
		// of 8 KiB more per call; writes (playAudio only) share a pool.
		WriteBufferPool: &sync.Pool{},
		Subprotocols:    []string{Subprotocol},
		// FreeSWITCH sends Origin http://127.0.0.1 whatever its host; the
		// per-call token is the authentication.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return r
}

// NewToken returns a random token for Expect (32 hex characters).
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("streaming: token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ForkURL builds the URL to give uuid_audio_fork: base is "ws://host:port"
// (or wss://), prefix the registry's PathPrefix ("" = default). The result has
// no spaces, as FreeSWITCH's command parser splits on them.
func ForkURL(base, prefix, callID, token string) string {
	if prefix == "" {
		prefix = DefaultPathPrefix
	}
	return strings.TrimRight(base, "/") + prefix + callID + "?token=" + url.QueryEscape(token)
}

// validID: the characters that survive a URL path, a query and FreeSWITCH's
// space-splitting command parser unchanged.
func validID(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Expect registers a call whose fork may connect with token (see NewToken).
// It returns the session and a cancel function (same as Session.Close). A
// call ID may be expected again once its previous session is over, which is
// how the controller restarts a fork (mod_audio_fork never reconnects).
func (r *Registry) Expect(callID, token string) (*Session, func(), error) {
	if !validID(callID, 128) || !validID(token, 256) {
		return nil, nil, fmt.Errorf("%w: %q", ErrInvalidID, callID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, ErrClosed
	}
	if _, ok := r.sessions[callID]; ok {
		return nil, nil, fmt.Errorf("%w: %s", ErrDuplicate, callID)
	}
	s := newSession(r, callID, token)
	r.sessions[callID] = s
	return s, func() { _ = s.Close() }, nil
}

func (r *Registry) remove(s *Session) {
	r.mu.Lock()
	if r.sessions[s.callID] == s {
		delete(r.sessions, s.callID)
	}
	r.mu.Unlock()
}

// Close closes every session and refuses new ones; it waits for their
// connections to end.
func (r *Registry) Close() error {
	r.mu.Lock()
	r.closed = true
	all := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	for _, s := range all {
		_ = s.Close()
	}
	return nil
}

// ServeHTTP authenticates and upgrades one fork, then reads it on this
// goroutine until the connection ends.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	log := r.log.With("remote", req.RemoteAddr, "path", req.URL.Path)
	callID, ok := strings.CutPrefix(req.URL.Path, r.opts.PathPrefix)
	if !ok || !validID(callID, 128) {
		log.Warn("fork refused: no call id in path")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	log = log.With("call", callID)
	r.mu.Lock()
	s := r.sessions[callID]
	r.mu.Unlock()
	if s == nil {
		log.Warn("fork refused: call not expected")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if !s.authorized(req) {
		log.Warn("fork refused: bad or missing token")
		w.Header().Set("WWW-Authenticate", `Basic realm="callcoach"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if !hasSubprotocol(req) {
		log.Warn("fork refused: subprotocol missing", "want", Subprotocol, "got", req.Header.Values("Sec-Websocket-Protocol"))
		http.Error(w, "subprotocol "+Subprotocol+" required", http.StatusBadRequest)
		return
	}
	if err := s.claim(); err != nil {
		log.Warn("fork refused", "err", err)
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	conn, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		log.Warn("fork upgrade failed", "err", err)
		s.unclaim()
		return
	}
	s.serve(conn, log)
}

func hasSubprotocol(req *http.Request) bool {
	for _, p := range websocket.Subprotocols(req) {
		if p == Subprotocol {
			return true
		}
	}
	return false
}

func (s *Session) authorized(req *http.Request) bool {
	tok := req.URL.Query().Get("token")
	if tok == "" {
		user, pass, ok := req.BasicAuth()
		if !ok || user != s.callID {
			return false
		}
		tok = pass
	}
	return subtle.ConstantTimeCompare([]byte(tok), []byte(s.token)) == 1
}
