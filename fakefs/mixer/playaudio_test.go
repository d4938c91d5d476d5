package mixer

import (
	"os"
	"path/filepath"
	"testing"
)

// playAudio's event body, as mod_audio_fork's processIncomingMessage makes
// it: audioContent removed, the other keys in their order, "file" appended
// when the audio is usable, files numbered by one counter per switch.
func TestPlayAudioEventBody(t *testing.T) {
	e := NewEngine(Options{Manual: true, FirstPlayFile: 5})
	dir := t.TempDir()
	var got []string
	f := &Fork{leg: &Leg{e: e}, o: ForkOptions{TempDir: dir, ChannelUUID: "u1", Events: ForkEvents{
		PlayAudio: func(body []byte) { got = append(got, string(body)) },
	}}}
	tests := []struct {
		data, want, file string
	}{
		{`{"textContent":"hi","audioContentType":"raw","sampleRate":8000,"audioContent":"AAAA"}`,
			`{"textContent":"hi","audioContentType":"raw","sampleRate":8000,"file":"` + dir + `/u1_5.tmp.r8"}`, "u1_5.tmp.r8"},
		{`{"audioContentType":"raw","sampleRate":24000,"audioContent":"AAAA"}`,
			`{"audioContentType":"raw","sampleRate":24000,"file":"` + dir + `/u1_6.tmp.r24"}`, "u1_6.tmp.r24"},
		{`{"audioContentType":"raw","sampleRate":11025,"audioContent":"AAAA"}`,
			`{"audioContentType":"raw","sampleRate":11025,"file":"` + dir + `/u1_7.tmp.r16"}`, "u1_7.tmp.r16"},
		{`{"audioContentType":"wav","audioContent":"AAAA"}`,
			`{"audioContentType":"wav","file":"` + dir + `/u1_8.tmp.wav"}`, "u1_8.tmp.wav"},
		{`{"audioContentType":"mp3","audioContent":"AAAA","textContent":"x"}`, `{"audioContentType":"mp3","textContent":"x"}`, ""},
		{`{"audioContentType":"raw","sampleRate":8000}`, `{"audioContentType":"raw","sampleRate":8000}`, ""},
	}
	for i, tt := range tests {
		f.playAudio([]byte(tt.data))
		if len(got) != i+1 || got[i] != tt.want {
			t.Fatalf("%s\n got %q\nwant %q", tt.data, got[len(got)-1], tt.want)
		}
		if tt.file != "" {
			if b, err := os.ReadFile(filepath.Join(dir, tt.file)); err != nil || len(b) != 3 {
				t.Errorf("%s: file %v, %d bytes", tt.file, err, len(b))
			}
		}
	}
	f.playAudio([]byte(`not json`))
	if len(got) != len(tests) {
		t.Errorf("a message without a data object fired an event: %q", got[len(got)-1])
	}
}
