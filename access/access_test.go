package access

import (
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	d, err := Load("supervisors.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		supervisor, agent, dialplanGroup string
		err                              error
	}{
		{"alice", "1001", "", nil},
		{"alice", "1003", "", ErrNotPermitted},
		{"alice", "1003", "retention", nil}, // the dialplan's group wins
		{"bob", "1003", "", nil},
		{"bob", "1001", "", ErrNotPermitted},
		{"bob", "9999", "", ErrNotPermitted}, // unlisted agent, no default group
		{"carol", "9999", "", nil},
		{"mallory", "1001", "", ErrUnknownSupervisor},
	}
	for _, tc := range tests {
		err := d.Check(tc.supervisor, d.GroupOf(tc.agent, tc.dialplanGroup))
		if !errors.Is(err, tc.err) {
			t.Errorf("%s on %s (%q): %v, want %v", tc.supervisor, tc.agent, tc.dialplanGroup, err, tc.err)
		}
	}
	if s, _ := d.Supervisor("alice"); s.Phone != "user/2001" {
		t.Errorf("alice's phone %q", s.Phone)
	}
	var none *Directory
	if err := none.Check("alice", "sales"); !errors.Is(err, ErrUnknownSupervisor) {
		t.Errorf("no file: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	for name, y := range map[string]string{
		"typo":       "supervisors: {alice: {group: [sales]}}",
		"no groups":  "supervisors: {alice: {phone: user/1}}",
		"ai's name":  "supervisors: {ai: {groups: [x]}}",
		"space":      "supervisors: {\"al ice\": {groups: [x]}}",
		"not a list": "supervisors: [alice]",
	} {
		if _, err := Parse([]byte(y)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

func TestValidPhone(t *testing.T) {
	for dial, ok := range map[string]bool{
		"user/2001": true, "sofia/internal/2002@pbx.example.com": true, "sofia/gateway/gw1/+15551234567": true, "loopback/9001/default": true,
		"": false, "user/2001 &eavesdrop(all)": false, "user/2001,user/2002": false, "{a=b}user/2001": false,
		"[a=b]user/2001": false, "user/2001|user/2002": false, "user/2001'": false, "user/2001\n": false,
	} {
		if err := ValidPhone(dial); (err == nil) != ok {
			t.Errorf("ValidPhone(%q) = %v, want ok=%v", dial, err, ok)
		}
	}
	if _, err := Parse([]byte("supervisors: {alice: {groups: [x], phone: \"user/1 &park()\"}}")); !errors.Is(err, ErrConfig) {
		t.Errorf("a bad phone in the file: %v", err)
	}
}
