package wav

import (
	"bytes"
	"errors"
	"testing"
)

func TestRoundTripAndErrors(t *testing.T) {
	for _, a := range []Audio{
		{PCM: []int16{1, -2, 3, 32767, -32768}, Channels: 1, Rate: 8000},
		{PCM: []int16{1, 2, 3, 4}, Channels: 2, Rate: 16000},
	} {
		var b bytes.Buffer
		if err := Encode(&b, a); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b.Bytes())
		if err != nil || got.Channels != a.Channels || got.Rate != a.Rate || len(got.PCM) != len(a.PCM) {
			t.Fatalf("%+v %v", got, err)
		}
		for i := range a.PCM {
			if got.PCM[i] != a.PCM[i] {
				t.Fatalf("sample %d: %d, want %d", i, got.PCM[i], a.PCM[i])
			}
		}
	}
	var b bytes.Buffer
	_ = Encode(&b, Audio{PCM: []int16{1}, Channels: 3, Rate: 8000})
	for name, in := range map[string][]byte{"empty": nil, "not wav": []byte("RIFF....AVI LIST"), "three channels": b.Bytes()} {
		if _, err := Decode(in); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
