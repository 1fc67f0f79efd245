//go:build linux

package pipeline_test

// An external test package: the pipeline itself never imports exporters
// (test/lint); this benchmark drives it with the agent's real provider.

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/exporters/otel"
)

// BenchmarkPipelineTracing is BenchmarkPipeline with tracing off, and on
// against a slow OTLP/HTTP endpoint on loopback (each export answered
// after 2 s), at the pipeline's default sampling (every failed or slow
// message, 1% of the rest) and with every message traced. The export
// queue must never make the pipeline wait: the line rate with a slow
// endpoint stays near the rate with tracing off; what the queue drops
// is reported per op. The machine this runs on may be shared: besides
// the wall-clock line rate, the benchmark reports the CPU time of the
// thread the pipeline runs on per line (cpu-ns/line, the goroutine is
// locked to it), which other processes do not change.
func BenchmarkPipelineTracing(b *testing.B) {
	all := corpusLines(b, "../postfix/testdata/real-postfix.log")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer slow.Close()
	for _, bc := range []struct {
		name  string
		on    bool
		ratio float64
	}{{"off", false, 0}, {"slow-endpoint-default-sampling", true, -1}, {"slow-endpoint-every-message", true, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := pipeline.DefaultConfig()
			if bc.ratio >= 0 {
				cfg.Traces.Ratio = bc.ratio
			}
			var p *pipeline.Pipeline
			var err error
			m := otel.NewMetrics()
			var tp *otel.Provider
			if bc.on {
				tc := otel.DefaultConfig()
				tc.OTLP.Endpoint, tc.OTLP.Protocol = slow.URL, otel.ProtocolHTTP
				tp, err = otel.New(context.Background(), tc, otel.Info{Name: "bench"}, m, func(string) string { return "" }, slog.New(slog.DiscardHandler))
				if err != nil {
					b.Fatal(err)
				}
				p, err = pipeline.New(cfg, pipeline.Options{MTA: "postfix", Tracer: tp.Tracer("bench")})
			} else {
				p, err = pipeline.New(cfg, pipeline.Options{MTA: "postfix"})
			}
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			batch := &source.Batch{Source: "maillog"}
			if tp != nil {
				// The steady state of a slow endpoint: the queues full
				// and dropping, not the first seconds while they fill.
				for i := 0; i < 100_000 && m.Dropped(otel.DropSampledQueueFull) == 0; i++ {
					start := (n * 256) % len(all)
					batch.Lines = all[start:min(start+256, len(all))]
					p.HandleBatch(batch)
					n++
				}
			}
			linesBefore, _, _ := p.Counts()
			droppedBefore := dropped(m)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpuBefore := threadCPU(b)
			b.ReportAllocs()
			for b.Loop() {
				start := (n * 256) % len(all)
				end := min(start+256, len(all))
				batch.Lines = all[start:end]
				p.HandleBatch(batch)
				n++
			}
			cpu := threadCPU(b) - cpuBefore
			lines, _, _ := p.Counts()
			b.ReportMetric(float64(lines-linesBefore)/b.Elapsed().Seconds(), "lines/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(lines-linesBefore), "cpu-ns/line")
			b.ReportMetric((dropped(m)-droppedBefore)/float64(b.N), "dropped-spans/op")
			if tp != nil {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				_ = tp.Shutdown(ctx)
				cancel()
			}
		})
	}
}

func dropped(m *otel.Metrics) (n float64) {
	for _, r := range otel.DropReasons {
		n += m.Dropped(r)
	}
	return n
}

// corpusLines reads a log as a file source hands it on: each line dated
// (RFC 3164, in UTC, read in December 2026).
func corpusLines(b *testing.B, path string) []source.Line {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	clk := source.NewLiveClock(time.UTC)
	clk.SetNow(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	var lines []source.Line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		text := append([]byte(nil), sc.Bytes()...)
		lines = append(lines, source.Line{Text: text, Time: clk.LineTime(text)})
	}
	return lines
}

// threadCPU is the user and system CPU time of the calling thread.
func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
