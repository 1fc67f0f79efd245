package agent

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// BenchmarkIdleFlood opens 1,000 keep-alive connections that each make one
// unauthenticated request (a 401) and stay open, as the flood of issue 14
// did, then reports what the server holds: descriptors, goroutines and heap
// beyond its state before the flood. cap=64 is the default; cap=none is
// the server without a connection cap.
//
//	go test -run '^$' -bench BenchmarkIdleFlood -benchtime 1x ./agent/
func BenchmarkIdleFlood(b *testing.B) {
	for _, c := range []struct {
		name string
		max  int
	}{{"cap=64", DefaultMaxConnections}, {"cap=none", 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				fds, goroutines, heap := idleFlood(b, c.max, 1000)
				b.ReportMetric(float64(fds), "server-fds")
				b.ReportMetric(float64(goroutines), "goroutines")
				b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
			}
		})
	}
}

func idleFlood(b *testing.B, max, flood int) (fds, goroutines int, heap uint64) {
	s := serveAgent(b, testLimits(max))
	fds0, g0, h0 := processState(b)
	floodIdle(b, s.addr, flood)
	// Let evicted connections' goroutines end before counting.
	deadline := time.Now().Add(5 * time.Second)
	for s.srv.guard.Open() > max && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	fds1, g1, h1 := processState(b)
	// The flood's own client sockets are in this process too.
	return fds1 - fds0 - flood, g1 - g0, h1 - min(h1, h0)
}

func processState(b *testing.B) (fds, goroutines int, heap uint64) {
	runtime.GC()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Skip("needs /proc:", err)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return len(ents), runtime.NumGoroutine(), ms.HeapInuse
}
