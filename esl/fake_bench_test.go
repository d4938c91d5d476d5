package esl_test

import (
	"context"
	"testing"

	"github.com/callcoach/callcoach/esl"
	"github.com/callcoach/callcoach/fakefs"
)

// BenchmarkBgAPIFake is bgapi round trips against the fake FreeSWITCH: the
// command, its +OK Job-UUID reply and the BACKGROUND_JOB event, on one
// shared inbound connection, from many goroutines at once as calls do.
func BenchmarkBgAPIFake(b *testing.B) {
	fs, err := fakefs.Start(fakefs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	ctx := context.Background()
	c, err := esl.Dial(ctx, esl.ClientOptions{Addr: fs.ESLAddr(), Password: "ClueCon"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body, err := c.BgAPI(ctx, "status")
			if err != nil || len(body) == 0 {
				b.Errorf("bgapi status: %q %v", body, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
}
