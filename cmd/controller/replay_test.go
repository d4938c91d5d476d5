package main

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callcoach/callcoach/internal/logbuf"
	"github.com/callcoach/callcoach/internal/wav"
)

// toneCall writes a stereo recording: the agent talks from 0 to 5 s, the
// customer talks over from 1 s to 4 s, then 8 s of silence.
func toneCall(t *testing.T) string {
	t.Helper()
	const rate = 16000
	pcm := make([]int16, 2*13*rate)
	for i := range 13 * rate {
		sec := float64(i) / rate
		if sec >= 1 && sec < 4 {
			pcm[2*i] = int16(7000 * math.Sin(2*math.Pi*440*sec))
		}
		if sec < 5 {
			pcm[2*i+1] = int16(7000 * math.Sin(2*math.Pi*880*sec))
		}
	}
	path := filepath.Join(t.TempDir(), "call.wav")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := wav.Encode(f, wav.Audio{PCM: pcm, Channels: 2, Rate: rate}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayCommand(t *testing.T) {
	path := toneCall(t)

	var out, errb logbuf.Buffer
	if code := run([]string{"replay", "--stt", "none", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{"13s of audio", "coach     [customer-overtalk]", "└ [customer-overtalk] worked: it ended 1.3 s later", "coach     [dead-air]", "customer interrupted 1×"} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline lacks %q:\n%s", want, text)
		}
	}

	out, errb = logbuf.Buffer{}, logbuf.Buffer{}
	if code := run([]string{"replay", "--json", "--stt", "none", path}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var kinds []string
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var ev struct {
			Kind     string          `json:"kind"`
			Rule     string          `json:"rule"`
			AtMS     int64           `json:"at_ms"`
			Measures json.RawMessage `json:"measures"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		kinds = append(kinds, ev.Kind+":"+ev.Rule)
		if ev.Kind == "coaching" && ev.Rule == "customer-overtalk" && (ev.AtMS < 3000 || ev.AtMS > 3600) {
			t.Errorf("overtalk coaching at %d ms, want 3.0–3.6 s", ev.AtMS)
		}
		if ev.Kind == "summary" && !strings.Contains(string(ev.Measures), `"overtalk_ms":3`) {
			t.Errorf("summary measures %s", ev.Measures)
		}
	}
	if strings.Join(kinds, " ") != "coaching:customer-overtalk outcome:customer-overtalk coaching:dead-air outcome:dead-air summary:" {
		t.Errorf("events %v", kinds)
	}

	for _, args := range [][]string{{"replay"}, {"replay", "--stt", "whisper", path}, {"replay", filepath.Join(t.TempDir(), "missing.wav")}} {
		out, errb = logbuf.Buffer{}, logbuf.Buffer{}
		if code := run(args, &out, &errb); code == 0 {
			t.Errorf("%v: exit 0", args)
		}
	}
}
