package esl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/internal/capture"
)

func loadCapture(t testing.TB, name string) []capture.Block {
	t.Helper()
	b, err := capture.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// replayPeer plays FreeSWITCH's side of a capture on conn: it expects each
// APP->FS command in turn and answers with the captured bytes. A Job-UUID the
// client chose replaces the captured one, as FreeSWITCH echoes it.
type replayPeer struct {
	blocks []capture.Block
	conn   net.Conn
	errc   chan error
	read   chan string // each command as it is read
}

func startReplay(blocks []capture.Block, conn net.Conn) *replayPeer {
	blocks = append([]capture.Block(nil), blocks...)
	// The capture tool logged its `auth` before FreeSWITCH's auth/request
	// (same millisecond); FreeSWITCH speaks first.
	if len(blocks) > 1 && bytes.HasPrefix(blocks[0].Data, []byte("auth ")) && bytes.Contains(blocks[1].Data, []byte("auth/request")) {
		blocks[0], blocks[1] = blocks[1], blocks[0]
	}
	// The capture tool's own pauses ("----\nsleep 1s") reached FreeSWITCH as
	// commands; they are not part of any client's conversation.
	var kept []capture.Block
	for i := 0; i < len(blocks); i++ {
		if blocks[i].Dir == capture.AppToFS && bytes.HasPrefix(blocks[i].Data, []byte("----")) {
			i++ // and its "-ERR command not found"
			continue
		}
		kept = append(kept, blocks[i])
	}
	p := &replayPeer{blocks: kept, conn: conn, errc: make(chan error, 1), read: make(chan string, len(kept))}
	go func() { p.errc <- p.run() }()
	return p
}

func (p *replayPeer) wait() error { return <-p.errc }

var (
	jobUUIDPattern = regexp.MustCompile(`Job-UUID: ([0-9a-f-]{36})`)
	eventUUIDLine  = regexp.MustCompile(`(?im)^Event-UUID: ([0-9a-f-]{36})\r?$`)
	appNameLine    = regexp.MustCompile(`(?im)^execute-app-name: (\S+)\r?$`)
	appUUIDLine    = regexp.MustCompile(`(?m)^Application-UUID: ([0-9a-f-]{36})$`)
	appLine        = regexp.MustCompile(`(?m)^Application: (\S+)$`)
)

type queuedApp struct{ app, eventUUID string }

func (p *replayPeer) run() error {
	defer p.conn.Close()
	br := bufio.NewReader(p.conn)
	// FreeSWITCH echoes identifiers the client chose; the capture holds the
	// ones FreeSWITCH made up. Map captured → ours.
	ids := map[string]string{}
	var ourJob string
	var apps []queuedApp // sendmsg execute with our Event-UUID, not yet started
	for i, bl := range p.blocks {
		switch bl.Dir {
		case capture.AppToFS:
			got, err := readCommand(br)
			if err != nil {
				return fmt.Errorf("block %d (+%dms): reading command %q: %w", i, bl.MS, bl.Data, err)
			}
			if g, w := capture.NormalizeCommand(got), capture.NormalizeCommand(bl.Data); g != w {
				return fmt.Errorf("block %d (+%dms): got command\n%q\nwant\n%q", i, bl.MS, g, w)
			}
			p.read <- string(got)
			ourJob = ""
			if m := jobUUIDPattern.FindSubmatch(got); m != nil {
				ourJob = string(m[1])
			}
			if m := eventUUIDLine.FindSubmatch(got); m != nil {
				if a := appNameLine.FindSubmatch(got); a != nil {
					apps = append(apps, queuedApp{app: string(a[1]), eventUUID: string(m[1])})
				}
			}
		case capture.FSToApp:
			data := bl.Data
			if m := jobUUIDPattern.FindSubmatch(data); m != nil && ourJob != "" && bytes.Contains(data, []byte("Reply-Text: +OK Job-UUID")) {
				ids[string(m[1])] = ourJob
			}
			if bytes.Contains(data, []byte("Event-Name: CHANNEL_EXECUTE\n")) {
				u, a := appUUIDLine.FindSubmatch(data), appLine.FindSubmatch(data)
				if u != nil && a != nil && ids[string(u[1])] == "" {
					for k, q := range apps {
						if q.app == string(a[1]) {
							ids[string(u[1])] = q.eventUUID
							apps = append(apps[:k], apps[k+1:]...)
							break
						}
					}
				}
			}
			for captured, ours := range ids {
				data = bytes.ReplaceAll(data, []byte(captured), []byte(ours))
			}
			if _, err := p.conn.Write(data); err != nil {
				return fmt.Errorf("block %d: write: %w", i, err)
			}
		case capture.Closed:
			return nil
		}
	}
	return nil
}

// readCommand reads one client command: lines up to a blank line, then a
// body if it has Content-Length.
func readCommand(br *bufio.Reader) ([]byte, error) {
	var b bytes.Buffer
	cl := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l := strings.TrimRight(line, "\r\n")
		if l == "" {
			if b.Len() == 0 {
				continue // stray blank line between commands
			}
			b.WriteString(line)
			break
		}
		b.WriteString(line)
		if name, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "content-length") {
			cl, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if cl > 0 {
		body := make([]byte, cl)
		if _, err := io.ReadFull(br, body); err != nil {
			return nil, err
		}
		b.Write(body)
	}
	return b.Bytes(), nil
}
