package esl

import (
	"fmt"
	"testing"
)

func confEvent(t *testing.T, conf, action string) *Event {
	t.Helper()
	ev, err := parseEventPlain([]byte(fmt.Sprintf("Event-Name: CUSTOM\nEvent-Subclass: conference%%3A%%3Amaintenance\nConference-Name: %s\nAction: %s\n\n", conf, action)))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// Indexed subscriptions get exactly their header value's events, in order,
// stop on Close without disturbing the others, and end with the hub.
func TestSubscribeHeader(t *testing.T) {
	h := &hub{}
	a1 := h.subscribeHeader("Conference-Name", "cc-a")
	a2 := h.subscribeHeader("Conference-Name", "cc-a")
	b := h.subscribeHeader("Conference-Name", "cc-b")
	all := h.subscribe(nil)

	sent := []struct{ conf, action string }{{"cc-a", "add-member"}, {"cc-b", "add-member"}, {"cc-a", "del-member"}, {"cc-c", "add-member"}}
	for _, s := range sent {
		h.dispatch(confEvent(t, s.conf, s.action))
	}
	tests := []struct {
		name string
		sub  *Subscription
		want []string
	}{
		{"first of cc-a", a1, []string{"cc-a add-member", "cc-a del-member"}},
		{"second of cc-a", a2, []string{"cc-a add-member", "cc-a del-member"}},
		{"cc-b", b, []string{"cc-b add-member"}},
		{"unfiltered", all, []string{"cc-a add-member", "cc-b add-member", "cc-a del-member", "cc-c add-member"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, want := range tt.want {
				ev := <-tt.sub.C()
				if got := ev.Get("Conference-Name") + " " + ev.Get("Action"); got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			if n := tt.sub.Len(); n != 0 {
				t.Fatalf("%d events more than expected", n)
			}
		})
	}

	a1.Close()
	h.dispatch(confEvent(t, "cc-a", "conference-destroy"))
	if ev := <-a2.C(); ev.Get("Action") != "conference-destroy" {
		t.Fatalf("a2 got %q after a1 closed", ev.Get("Action"))
	}
	if got := len(h.keyed["Conference-Name"]["cc-a"]); got != 1 {
		t.Fatalf("%d cc-a subscriptions indexed after one closed, want 1", got)
	}
	b.Close()
	if _, ok := h.keyed["Conference-Name"]["cc-b"]; ok {
		t.Fatal("a closed subscription's value stays indexed")
	}

	h.end()
	if _, ok := <-a2.C(); ok {
		t.Fatal("an indexed subscription outlived its connection")
	}
	all.Close()
}
