package capture

import "testing"

func TestEveryCaptureParses(t *testing.T) {
	names := Names()
	if len(names) != 12 {
		t.Fatalf("found %d capture files, want the 12 block-format ones", len(names))
	}
	for _, name := range names {
		blocks, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(blocks) == 0 {
			t.Errorf("%s: no blocks", name)
		}
	}
}

func TestNormalizeCommand(t *testing.T) {
	tests := []struct{ a, b string }{
		{"sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n\n",
			"sendmsg 1234\r\nEvent-Lock: true\r\nCall-Command: execute\r\nLoops: 1\r\nExecute-App-Name: answer\r\nEvent-Uuid: x\r\n\r\n"},
		{"bgapi status\n\n", "bgapi status\nJob-UUID: 5b33155f-1e1a-4007-8686-6b14084add6c\n\n"},
	}
	for _, tt := range tests {
		if NormalizeCommand([]byte(tt.a)) != NormalizeCommand([]byte(tt.b)) {
			t.Errorf("%q and %q should compare equal", tt.a, tt.b)
		}
	}
	if NormalizeCommand([]byte("api status\n\n")) == NormalizeCommand([]byte("api uptime\n\n")) {
		t.Error("different commands compare equal")
	}
}
