package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// decodeSection reads a document's mta.pipeline section as the agent
// does: defaults, strict keys, Validate, every problem with its key path.
func decodeSection(t *testing.T, text string) (Config, error) {
	t.Helper()
	doc, err := config.Parse("test.yml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	ps := doc.Decode(config.Lookup(config.Lookup(doc.Root, "mta"), "pipeline"), "mta.pipeline", &cfg)
	ps.Merge("mta.pipeline", cfg.Validate())
	return cfg, doc.Finish(ps)
}

// TestConfigTakesEffect sets every setting of the section, and a taxonomy
// as the agent builds it from the top-level providers: and reason_rules:,
// and runs the real corpus through the pipeline New builds from them: the
// user's provider and reason rule relabel the deferrals, the small
// correlator evicts by capacity, and ratio 1 traces every message.
func TestConfigTakesEffect(t *testing.T) {
	cfg, err := decodeSection(t, `
mta:
  pipeline:
    correlator: {max_messages: 10, ttl: 2h, max_attempts: 4}
    traces: {sample_ratio: 1, slow_threshold: 1m}
`)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Correlator.MaxMessages != 10 || cfg.Correlator.TTL != 2*time.Hour || cfg.Correlator.MaxAttempts != 4 ||
		cfg.Traces.Ratio != 1 || cfg.Traces.Slow != time.Minute {
		t.Fatalf("decoded %+v", cfg)
	}
	mail, err := mailclass.Build(mailclass.Config{Providers: map[string]string{"defer.test": "acme"},
		ReasonRules: []mailclass.ReasonRule{{Contains: "command failed", Reason: "greylisted"}}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer tp.Shutdown(t.Context())
	p, err := New(cfg, Options{MTA: "postfix", Registerer: reg, Tracer: tp.Tracer("test"), Mail: mail})
	if err != nil {
		t.Fatal(err)
	}
	p.HandleBatch(readBatch(t, corpora[0]))
	p.Flush()
	sum := func(name string, match map[string]string) float64 { return sumCounters(t, reg, name, match) }
	// The default pipeline counts these 70 as provider other, reason other
	// (testdata/real-postfix.prom).
	if got := sum("mailscope_mta_delivery_failures_total", map[string]string{"status": "deferred", "provider": "acme", "reason": "greylisted"}); got != 70 {
		t.Errorf("deferrals to acme classified greylisted: %v, want 70", got)
	}
	if got := sum("mailscope_mta_correlator_messages_ended_total", map[string]string{"end": "capacity"}); got == 0 {
		t.Error("a 10-message correlator evicted nothing by capacity")
	}
	ended := sum("mailscope_mta_correlator_messages_ended_total", nil)
	roots := 0
	// The parser keeps delays= as text: with a tracer the pipeline parses
	// the stages for the attempt spans (the corpus has in-queue delays).
	var inQueue float64
	for _, s := range rec.Ended() {
		if s.Name() == "mta.message" {
			roots++
		}
		for _, a := range s.Attributes() {
			if a.Key == "mta.delay.in_queue_seconds" {
				inQueue += a.Value.AsFloat64()
			}
		}
	}
	if inQueue == 0 {
		t.Error("no attempt span has an in-queue delay")
	}
	if float64(roots) != ended || roots == 0 {
		t.Errorf("%d message traces for %v messages ended: ratio 1 traces every one", roots, ended)
	}
}

// TestConfigDefaults keeps the defaults for what a partial section leaves
// out, and Validate changes nothing.
func TestConfigDefaults(t *testing.T) {
	cfg, err := decodeSection(t, `
mta:
  pipeline:
    providers: {corp.example: corp}
`)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	if cfg.Correlator != want.Correlator || cfg.Traces != want.Traces {
		t.Errorf("partial section: %+v, want the defaults besides providers", cfg)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}

func TestConfigProblems(t *testing.T) {
	_, err := decodeSection(t, `
mta:
  pipeline:
    providers: {corp.example: "Not A Label"}
    reason_rules:
      - {contains: "x", reason: weather}
    correlator: {max_messages: 0, ttl: 5m, max_attempts: -1}
    traces: {sample_ratio: 1.5, slow_threshold: -1s, sample_rate: 2}
`)
	if err == nil {
		t.Fatal("no problems")
	}
	for _, key := range []string{
		"test.yml:4: mta.pipeline.providers", "test.yml:6: mta.pipeline.reason_rules", "test.yml:7: mta.pipeline.correlator.max_messages",
		"test.yml:7: mta.pipeline.correlator.ttl", "test.yml:7: mta.pipeline.correlator.max_attempts", "test.yml:8: mta.pipeline.traces.sample_ratio",
		"test.yml:8: mta.pipeline.traces.slow_threshold", "sample_rate",
	} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no problem at %s in:\n%v", key, err)
		}
	}
	// A zero section is not silently the defaults.
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "correlator.max_messages") {
		t.Errorf("zero section: %v", err)
	}
}
