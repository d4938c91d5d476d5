// Command dashboard is an example consumer of callcoach's bus (schema:
// bus/schema.json): it prints every live event of every call, or of one
// call — after replaying that call's analytics stream, as a dashboard that
// joins late would.
//
//	go run ./scripts/dashboard --redis 127.0.0.1:6379 [--call <call id>]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/redis/go-redis/v9"

	"github.com/callcoach/callcoach/bus"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "Redis address")
	call := flag.String("call", "", "one call's id (default: every call, live only)")
	flag.Parse()
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()
	client := redis.NewClient(&redis.Options{Addr: *addr})
	defer client.Close()

	// Subscribe first, then catch up: nothing published in between is missed
	// (an event seen twice is recognised by its seq).
	sub, err := bus.Subscribe(ctx, client, *call)
	if err != nil {
		fail(err)
	}
	defer sub.Close()
	seen := map[uint64]bool{}
	if *call != "" {
		past, err := bus.ReadAnalytics(ctx, client, *call, "", 10000)
		if err != nil {
			fail(err)
		}
		for _, e := range past {
			seen[e.Event.Seq] = true
			show(e.Event, "(earlier) ")
		}
	}
	for {
		ev, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			fmt.Fprintln(os.Stderr, "dashboard:", err) // a malformed message: skip it
			continue
		}
		if ev.V != bus.Version || seen[ev.Seq] {
			continue
		}
		show(ev, "")
	}
}

func show(ev bus.Event, prefix string) {
	id := ev.CallID
	if len(id) > 8 {
		id = id[:8]
	}
	var data map[string]any
	_ = json.Unmarshal(ev.Data, &data)
	if ev.Type == bus.TypeAnalytics { // the measures are long: the headline only
		if m, ok := data["measures"].(map[string]any); ok {
			data = map[string]any{"agent_share": m["agent_share"], "overtalk_ms": m["overtalk_ms"], "coach_lines": data["coach_lines"], "final": data["final"]}
		}
	}
	b, _ := json.Marshal(data)
	fmt.Printf("%s%s  %s  %-11s %s\n", prefix, ev.At.Format("15:04:05.000"), id, ev.Type, b)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dashboard:", err)
	os.Exit(1)
}
