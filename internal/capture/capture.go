// Package capture holds the wire exchanges recorded on a real FreeSWITCH
// (ESL sessions, mod_audio_fork websocket sessions, the conference tone
// matrix) and parses them, so tests of the esl layer and of the fake
// FreeSWITCH are checked against the same ground truth. The files are a copy
// of the project's FreeSWITCH facts (files/FACTS.md explains them).
package capture

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

//go:embed files/*.txt files/FACTS.md
var files embed.FS

// Directions of a block.
const (
	AppToFS = "APP->FS"
	FSToApp = "FS->APP"
	Note    = "NOTE"
	Closed  = "CLOSED"
)

// Block is one entry of a capture: `=== DIR +MSms len=N` and N exact bytes.
type Block struct {
	Dir  string
	MS   int
	Data []byte
}

var blockWS = regexp.MustCompile(`^audiofork-ws\d\.txt$`)

var header = regexp.MustCompile(`^=== (\S+) \+(\d+)ms len=(\d+)\n`)

// Names lists the capture files made of blocks (the ESL and websocket
// sessions; tonematrix.txt and the metadata-with-space notes are free text,
// read with Raw).
func Names() []string {
	entries, _ := fs.ReadDir(files, "files")
	var out []string
	for _, e := range entries {
		if n := e.Name(); strings.HasPrefix(n, "esl-") || blockWS.MatchString(n) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Raw returns a file's bytes.
func Raw(name string) ([]byte, error) { return files.ReadFile("files/" + name) }

// Load parses a capture file into blocks.
func Load(name string) ([]Block, error) {
	data, err := Raw(name)
	if err != nil {
		return nil, err
	}
	var out []Block
	for pos := 0; pos < len(data); {
		m := header.FindSubmatch(data[pos:])
		if m == nil {
			return nil, fmt.Errorf("capture %s: no block header at byte %d", name, pos)
		}
		ms, _ := strconv.Atoi(string(m[2]))
		n, _ := strconv.Atoi(string(m[3]))
		start := pos + len(m[0])
		if start+n > len(data) {
			return nil, fmt.Errorf("capture %s: block at byte %d runs past the end", name, pos)
		}
		out = append(out, Block{Dir: string(m[1]), MS: ms, Data: data[start : start+n]})
		pos = start + n
		if pos < len(data) && data[pos] == '\n' {
			pos++
		}
	}
	return out, nil
}

// FSBytes is everything FreeSWITCH sent, in order.
func FSBytes(blocks []Block) []byte {
	var b bytes.Buffer
	for _, bl := range blocks {
		if bl.Dir == FSToApp {
			b.Write(bl.Data)
		}
	}
	return b.Bytes()
}

// NormalizeCommand makes a client command comparable with a captured one:
// line endings, header order and case, and what differs by nature (a
// client-chosen Job-UUID or Event-UUID, sendmsg's target uuid, a loops: 1
// header) are normalised away.
func NormalizeCommand(raw []byte) string {
	s := strings.ReplaceAll(string(raw), "\r\n", "\n")
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	first := lines[0]
	if strings.HasPrefix(first, "sendmsg") {
		first = "sendmsg"
	}
	var hs []string
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "job-uuid", "event-uuid", "loops":
			continue
		}
		hs = append(hs, name+": "+strings.TrimSpace(value))
	}
	sort.Strings(hs)
	return strings.Join(append([]string{first}, hs...), "\n")
}
