package fakefs

import (
	"strings"
	"testing"
	"time"
)

func TestInboundReplies(t *testing.T) {
	f := startFS(t, Options{})
	tests := []struct {
		cmd  string
		want string // exact frame
	}{
		{"event plain CHANNEL_CREATE CUSTOM conference::maintenance", "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"},
		{"linger", "Content-Type: command/reply\nReply-Text: +OK will linger\n\n"},
		{"linger 5", "Content-Type: command/reply\nReply-Text: +OK will linger 5 seconds\n\n"},
		{"nolinger", "Content-Type: command/reply\nReply-Text: +OK will not linger\n\n"},
		{"noevents", "Content-Type: command/reply\nReply-Text: +OK no longer listening for events\n\n"},
		{"bogus command here", "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"},
		{"api", "Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"},
		{"api nosuchcommand", "Content-Type: api/response\nContent-Length: 38\n\n-ERR nosuchcommand Command not found!\n"},
		{"api uuid_kill 00000000-0000-0000-0000-000000000000", "Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n"},
		{"api uuid_broadcast 00000000-0000-0000-0000-000000000000 /tmp/x.wav aleg", "Content-Type: api/response\nContent-Length: 18\n\n-ERR invalid uuid\n"},
		{"api originate sofia/gateway/nosuch/123 &park()", "Content-Type: api/response\nContent-Length: 26\n\n-ERR CHAN_NOT_IMPLEMENTED\n"},
		{"api originate loopback/7440/nosuchcontext &park()", "Content-Type: api/response\nContent-Length: 26\n\n-ERR NO_ROUTE_DESTINATION\n"},
		{"api conference list", "Content-Type: api/response\nContent-Length: 27\n\n+OK No active conferences.\n"},
	}
	c := authed(t, f)
	ctx := testCtx(t, 5*time.Second)
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			fr, _ := c.cmd(ctx, tt.cmd)
			if fr.raw != tt.want {
				t.Errorf("reply to %q:\n got %q\nwant %q", tt.cmd, fr.raw, tt.want)
			}
		})
	}
	fr, _ := c.cmd(ctx, "exit")
	if fr.raw != "Content-Type: command/reply\nReply-Text: +OK bye\n\n" {
		t.Errorf("exit reply %q", fr.raw)
	}
	fr = c.mustNext(ctx)
	if want := "Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + goodbye; fr.raw != want {
		t.Errorf("exit notice %q", fr.raw)
	}
	if _, err := c.next(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("after exit: %v, want closed connection", err)
	}
}

func TestAuthRejected(t *testing.T) {
	f := startFS(t, Options{Password: "secret"})
	ctx := testCtx(t, 5*time.Second)
	c := dialRaw(t, f.ESLAddr())
	c.mustNext(ctx)
	fr, _ := c.cmd(ctx, "auth ClueCon")
	if fr.headers.get("Reply-Text") != "-ERR invalid" {
		t.Fatalf("reply %q", fr.raw)
	}
	if _, err := c.next(ctx); err == nil {
		t.Fatal("connection stays open after a wrong password")
	}
}

func TestBgapiJobUUIDAndBackgroundJob(t *testing.T) {
	f := startFS(t, Options{})
	f.AddEndpoint("loopback/6002/lab", Party{Behaviour: Busy})
	c := authed(t, f)
	ctx := testCtx(t, 5*time.Second)
	c.cmd(ctx, "event plain BACKGROUND_JOB CHANNEL_HANGUP_COMPLETE")
	c.write("bgapi originate {origination_caller_id_number=2001}loopback/6002/lab &park()\nJob-UUID: my-job-1\n\n")
	fr := c.mustNext(ctx)
	if want := "Content-Type: command/reply\nReply-Text: +OK Job-UUID: my-job-1\nJob-UUID: my-job-1\n\n"; fr.raw != want {
		t.Fatalf("bgapi reply %q", fr.raw)
	}
	var names []string
	for {
		ev := c.mustNext(ctx)
		names = append(names, ev.event.get("Event-Name")+":"+ev.event.get("Channel-Name"))
		if ev.event.get("Event-Name") == "BACKGROUND_JOB" {
			if ev.event.get("Job-UUID") != "my-job-1" || ev.evBody != "-ERR USER_BUSY\n" {
				t.Fatalf("job event %q", ev.body)
			}
			break
		}
	}
	want := "CHANNEL_HANGUP_COMPLETE:loopback/6002-b CHANNEL_HANGUP_COMPLETE:loopback/6002-a BACKGROUND_JOB:"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("events %s\nwant   %s", got, want)
	}
}
