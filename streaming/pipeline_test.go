package streaming

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/callcoach/callcoach/analysis"
	"github.com/callcoach/callcoach/coaching"
	"github.com/gorilla/websocket"
)

const speech = 5000.0

// conversation renders stereo 16k frames: d of customer (440 Hz) and agent
// (880 Hz) at the given amplitudes.
type conversation struct{ pos int }

func (c *conversation) frames(d time.Duration, cust, agent float64) [][]byte {
	var out [][]byte
	for range int(d / FrameDuration) {
		b := make([]byte, StereoFrameBytes16k)
		for i := 0; i < StereoFrameBytes16k/4; i++ {
			t := float64(c.pos) / 16000
			c.pos++
			binary.LittleEndian.PutUint16(b[4*i:], uint16(int16(cust*math.Sin(2*math.Pi*440*t))))
			binary.LittleEndian.PutUint16(b[4*i+2:], uint16(int16(agent*math.Sin(2*math.Pi*880*t))))
		}
		out = append(out, b)
	}
	return out
}

func sendAll(t *testing.T, c *websocket.Conn, frames ...[][]byte) {
	t.Helper()
	for _, fs := range frames {
		for _, f := range fs {
			if err := c.WriteMessage(websocket.BinaryMessage, f); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func nextSuggestion(ctx context.Context, t *testing.T, p *Pipeline) Suggestion {
	t.Helper()
	select {
	case s, ok := <-p.Suggestions():
		if !ok {
			t.Fatal("suggestions closed")
		}
		return s
	case <-ctx.Done():
		t.Fatalf("no suggestion: %v (snapshot %+v, stats %+v)", ctx.Err(), p.Snapshot(), p.Stats())
		return Suggestion{}
	}
}

func TestPipelineCoachesOverRealWebsocket(t *testing.T) {
	ctx := testCtx(t)
	// The test sends faster than real time: a queue deep enough for the
	// whole call keeps drops (tested elsewhere) out of it.
	r := newRig(t, Options{QueueFrames: 1000})
	s, cancel, err := r.reg.Expect("call-p1", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	p, err := NewPipeline(ctx, s, PipelineConfig{Coaching: coaching.Config{Rules: coaching.DefaultRules()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, _, err := dialFork(ctx, t, r.wsURL("call-p1", "tok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"callId":"call-p1"}`))
	var conv conversation
	// The agent speaks; the customer talks over them for 2.5 s.
	sendAll(t, c, conv.frames(time.Second, 0, speech), conv.frames(2500*time.Millisecond, speech, speech))
	got := nextSuggestion(ctx, t, p)
	if got.Rule != coaching.RuleCustomerOvertalk || got.Line != "Let the customer finish, then summarise what you heard." {
		t.Fatalf("first suggestion %+v", got)
	}
	// Then the customer alone, then 7 s of dead air.
	sendAll(t, c, conv.frames(time.Second, speech, 0), conv.frames(7*time.Second, 0, 0))
	p.Finished()
	got = nextSuggestion(ctx, t, p)
	if got.Rule != coaching.RuleDeadAir {
		t.Fatalf("second suggestion %+v", got)
	}
	// The fork stops: the pipeline ends with the session and closes Suggestions.
	_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("pipeline outlived its session")
	}
	if _, ok := <-p.Suggestions(); ok {
		t.Fatal("Suggestions not closed")
	}
	// The whole call, once the pipeline has seen all of it.
	snap := p.Snapshot()
	if snap.Elapsed != 11500*time.Millisecond {
		t.Fatalf("elapsed %v", snap.Elapsed)
	}
	if snap.Sides[analysis.Customer].Interruptions != 1 || snap.Sides[analysis.Agent].TalkTime != 3500*time.Millisecond {
		t.Fatalf("snapshot %+v", snap)
	}
	st := p.Stats()
	if st.Frames != 575 || st.LostFrames != 0 || st.Coach.Delivered != 2 || st.LatenessMax <= 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPipelineStandsInForLostFrames(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-p2", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	p, err := NewPipeline(ctx, s, PipelineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var conv conversation
	fm := format{StereoFrameBytes16k, 2, 16000}
	// Frames 0-9 then 20-29 of a customer talking: 10 frames lost in between.
	fs := conv.frames(600*time.Millisecond, speech, 0)
	for i, b := range fs {
		if i >= 10 && i < 20 {
			continue
		}
		s.frames <- s.newFrame(uint64(i), fm, b)
	}
	s.finish(nil)
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatal("pipeline did not end")
	}
	st, snap := p.Stats(), p.Snapshot()
	if st.Frames != 20 || st.LostFrames != 10 {
		t.Fatalf("stats %+v", st)
	}
	// Media time stays right, and the lost frames do not break the turn.
	if snap.Elapsed != 600*time.Millisecond || snap.Sides[analysis.Customer].Turns != 1 ||
		snap.Sides[analysis.Customer].TalkTime != 600*time.Millisecond {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestPipelineCloseWaitsAndRejectsBadRules(t *testing.T) {
	ctx := testCtx(t)
	r := newRig(t, Options{})
	s, cancel, err := r.reg.Expect("call-p3", "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	if _, err := NewPipeline(ctx, s, PipelineConfig{Coaching: coaching.Config{Rules: []coaching.Rule{{Name: "x"}}}}); err == nil {
		t.Fatal("bad rule accepted")
	}
	p, err := NewPipeline(ctx, s, PipelineConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Close returned before the goroutine ended")
	}
	if s.Connected() {
		t.Fatal("unexpected connection")
	}
	select {
	case <-s.Done():
		t.Fatal("closing the pipeline closed the session")
	default:
	}
}

// BenchmarkPipeline: the cost per frame of N calls' pipelines running at
// once (queue hand-off, analysis, coaching; the websocket is left out).
func BenchmarkPipeline(b *testing.B) {
	var conv conversation
	script := append(append(conv.frames(400*time.Millisecond, speech, 0), conv.frames(400*time.Millisecond, speech, speech)...),
		conv.frames(400*time.Millisecond, 0, 0)...)
	fm := format{StereoFrameBytes16k, 2, 16000}
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			reg := NewRegistry(Options{})
			defer reg.Close()
			ctx := context.Background()
			sessions := make([]*Session, n)
			pipes := make([]*Pipeline, n)
			for i := range n {
				s, _, err := reg.Expect(fmt.Sprintf("bench-%d", i), "tok")
				if err != nil {
					b.Fatal(err)
				}
				sessions[i] = s
				if pipes[i], err = NewPipeline(ctx, s, PipelineConfig{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, s := range sessions {
				per := b.N / n
				if i < b.N%n {
					per++
				}
				wg.Go(func() {
					for k := range per {
						s.frames <- s.newFrame(uint64(k), fm, script[k%len(script)])
					}
					s.finish(nil)
				})
			}
			wg.Wait()
			for _, p := range pipes {
				<-p.Done()
			}
			b.StopTimer()
			var late time.Duration
			for _, p := range pipes {
				late = max(late, p.Stats().LatenessMax)
			}
			b.ReportMetric(float64(late.Microseconds()), "max-lateness-µs")
		})
	}
}

// BenchmarkForkEndToEnd: N forks over loopback websockets into their
// pipelines, per frame sent. Senders flood (no 20 ms pacing) on the same
// cores, so the bounded queues drop frames: %dropped shows how many.
func BenchmarkForkEndToEnd(b *testing.B) {
	var conv conversation
	script := conv.frames(time.Second, speech, 0)
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			reg := NewRegistry(Options{QueueFrames: 200})
			srv := httptest.NewServer(reg)
			defer srv.Close()
			defer reg.Close()
			ctx := context.Background()
			pipes := make([]*Pipeline, n)
			conns := make([]*websocket.Conn, n)
			d := websocket.Dialer{Subprotocols: []string{Subprotocol}}
			for i := range n {
				id := fmt.Sprintf("e2e-%d", i)
				s, _, err := reg.Expect(id, "tok")
				if err != nil {
					b.Fatal(err)
				}
				if pipes[i], err = NewPipeline(ctx, s, PipelineConfig{}); err != nil {
					b.Fatal(err)
				}
				c, _, err := d.Dial(ForkURL("ws"+srv.URL[len("http"):], "", id, "tok"), nil)
				if err != nil {
					b.Fatal(err)
				}
				_ = c.WriteMessage(websocket.TextMessage, []byte(`{}`))
				conns[i] = c
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, c := range conns {
				per := b.N / n
				if i < b.N%n {
					per++
				}
				wg.Go(func() {
					for k := range per {
						if err := c.WriteMessage(websocket.BinaryMessage, script[k%len(script)]); err != nil {
							return
						}
					}
					_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
				})
			}
			wg.Wait()
			var analysed, dropped uint64
			for _, p := range pipes {
				<-p.Done()
				analysed += p.Stats().Frames
				dropped += p.Stats().LostFrames
			}
			b.StopTimer()
			for _, c := range conns {
				_ = c.Close()
			}
			b.ReportMetric(float64(dropped)/float64(analysed+dropped)*100, "%dropped")
		})
	}
}
