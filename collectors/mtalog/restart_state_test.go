package mtalog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog"
	_ "github.com/mailscope/mailscope/collectors/mtalog/pipeline" // the real pipeline
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/testwait"
)

// A message deferred before a stop and delivered after it (lines of a real
// Postfix 3.7 run, RFC 3339 times).
var (
	beforeStop = []string{
		"2026-11-26T07:02:41.100000+00:00 mx postfix/smtpd[100]: 4A1B2C3D4E: client=localhost[127.0.0.1]",
		"2026-11-26T07:02:41.200000+00:00 mx postfix/cleanup[101]: 4A1B2C3D4E: message-id=<restart-1@example.com>",
		"2026-11-26T07:02:41.300000+00:00 mx postfix/qmgr[102]: 4A1B2C3D4E: from=<a@example.com>, size=512, nrcpt=1 (queue active)",
		"2026-11-26T07:02:41.900000+00:00 mx postfix/smtp[103]: 4A1B2C3D4E: to=<u@defer.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.8, delays=0.2/0.1/0.2/0.3, dsn=4.0.0, status=deferred (host 127.0.0.1[127.0.0.1] said: 450 4.0.0 try later (in reply to RCPT TO command))",
	}
	afterStop = []string{
		"2026-11-26T07:12:41.300000+00:00 mx postfix/qmgr[202]: 4A1B2C3D4E: from=<a@example.com>, size=512, nrcpt=1 (queue active)",
		"2026-11-26T07:12:41.700000+00:00 mx postfix/smtp[203]: 4A1B2C3D4E: to=<u@defer.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=600, delays=599.6/0.1/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
		"2026-11-26T07:12:41.800000+00:00 mx postfix/qmgr[202]: 4A1B2C3D4E: removed",
	}
)

// TestDeferredMessageSurvivesARestart runs the collector with the real
// pipeline on a followed file, stops it gracefully after the deferral,
// starts a new one on the same state directory, and appends the delivery:
// one trace with both attempts, and the message received once.
func TestDeferredMessageSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	logPath, stateDir := filepath.Join(dir, "mail.log"), filepath.Join(dir, "state")
	appendLines(t, logPath, beforeStop)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(context.Background())

	run := func(lines []string, wantLines float64) *prometheus.Registry {
		cfg := mtalog.NewConfig()
		cfg.Kind, cfg.Timezone = "postfix", "UTC"
		cfg.Sources = []mtalog.SourceConfig{{Name: "maillog", File: &source.FileConfig{Paths: []string{logPath}, StartAt: "beginning"}}}
		cfg.Pipeline.Traces.Ratio = 1
		reg := prometheus.NewRegistry()
		c, err := mtalog.New(cfg, collectors.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: reg, StateDir: stateDir,
			Clock: clock.Real{}, Tracer: tp.Tracer("test")})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		appendLines(t, logPath, lines)
		testwait.For(t, 20*time.Second, "the lines read", func() error {
			if n := counter(t, reg, "mailscope_mta_log_lines_total"); n < wantLines {
				return fmt.Errorf("%v of %v lines read", n, wantLines)
			}
			return nil
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		return reg
	}
	first := run(nil, float64(len(beforeStop)))
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans before the message ended", n)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "correlator.state")); err != nil {
		t.Fatalf("no state saved at the stop: %v", err)
	}
	second := run(afterStop, float64(len(afterStop)))

	received := counter(t, first, "mailscope_mta_messages_received_total") + counter(t, second, "mailscope_mta_messages_received_total")
	if received != 1 {
		t.Errorf("received %v times across the restart, want once", received)
	}
	var roots, attempts int
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "mta.message":
			roots++
			for _, a := range s.Attributes() {
				if a.Key == "mta.attempts" && a.Value.AsInt64() != 2 {
					t.Errorf("root says %d attempts, want 2", a.Value.AsInt64())
				}
			}
			if want := time.Date(2026, 11, 26, 7, 2, 41, 100_000_000, time.UTC); !s.StartTime().Equal(want) {
				t.Errorf("root starts %v, want the smtpd line before the stop (%v)", s.StartTime(), want)
			}
		case "mta.delivery":
			attempts++
		}
	}
	if roots != 1 || attempts != 2 {
		t.Errorf("%d traces with %d attempt spans, want 1 with 2", roots, attempts)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "correlator.state")); err == nil {
		t.Error("the state file outlived its restore (nothing was held at the second stop)")
	}
}

func appendLines(t *testing.T, path string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// counter sums every series of a counter family.
func counter(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += metricValue(m)
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
