package pipeline

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// decodeMTA reads a document's mta section as the agent does: defaults,
// strict keys, Validate, every problem with its key path.
func decodeMTA(t *testing.T, text string) (*mtalog.Config, error) {
	t.Helper()
	doc, err := config.Parse("test.yml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg := mtalog.NewConfig()
	ps := doc.Decode(config.Lookup(doc.Root, "mta"), "mta", cfg)
	ps.Merge("mta", cfg.Validate())
	return cfg, doc.Finish(ps)
}

const sourcesYAML = `
  sources:
    - name: maillog
      file: {paths: [/var/log/mail.log]}
`

// TestPipelineSectionReachesThePipeline sets every pipeline setting in the
// mta section, and a taxonomy as the agent builds it from the top-level
// providers: and reason_rules:, and runs the real corpus through the sink
// the NewSink hook builds from them: the user's provider and reason rule
// relabel the deferrals, the small correlator evicts by capacity, and
// ratio 1 traces every message.
func TestPipelineSectionReachesThePipeline(t *testing.T) {
	cfg, err := decodeMTA(t, `
mta:
  kind: postfix
  timezone: UTC
  pipeline:
    correlator: {max_messages: 10, ttl: 2h, max_attempts: 4}
    traces: {sample_ratio: 1, slow_threshold: 1m}
`+sourcesYAML)
	if err != nil {
		t.Fatal(err)
	}
	pc := cfg.Pipeline
	if pc.Correlator.MaxMessages != 10 || pc.Correlator.TTL != 2*time.Hour || pc.Correlator.MaxAttempts != 4 ||
		pc.Traces.Ratio != 1 || pc.Traces.Slow != time.Minute {
		t.Fatalf("decoded pipeline %+v", pc)
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
	sink, err := mtalog.NewSink(mtalog.SinkParams{MTA: cfg.Kind, Registerer: reg, Tracer: tp.Tracer("test"),
		Clock: clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)), Pipeline: cfg.Pipeline, Location: time.UTC, Mail: mail})
	if err != nil {
		t.Fatal(err)
	}
	p := sink.(*Pipeline)
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

// TestPipelineSectionDefaults keeps the defaults for what a partial
// section leaves out, and for a Config built in code without one.
func TestPipelineSectionDefaults(t *testing.T) {
	cfg, err := decodeMTA(t, `
mta:
  pipeline:
    providers: {corp.example: corp}
`+sourcesYAML)
	if err != nil {
		t.Fatal(err)
	}
	want := mtalog.DefaultPipelineConfig()
	if cfg.Pipeline.Correlator != want.Correlator || cfg.Pipeline.Traces != want.Traces {
		t.Errorf("partial section: %+v, want the defaults besides providers", cfg.Pipeline)
	}
	if got := (mtalog.PipelineConfig{}).OrDefault(); got.Correlator != want.Correlator || got.Traces != want.Traces {
		t.Errorf("zero section: %+v", got)
	}
	if err := (mtalog.PipelineConfig{}).Validate(); err != nil {
		t.Errorf("zero section does not validate: %v", err)
	}
}

func TestPipelineSectionProblems(t *testing.T) {
	_, err := decodeMTA(t, `
mta:
  pipeline:
    providers: {corp.example: "Not A Label"}
    reason_rules:
      - {contains: "x", reason: weather}
    correlator: {max_messages: 0, ttl: 5m, max_attempts: -1}
    traces: {sample_ratio: 1.5, slow_threshold: -1s, sample_rate: 2}
`+sourcesYAML)
	if err == nil {
		t.Fatal("no problems")
	}
	for _, key := range []string{
		"mta.pipeline.providers", "mta.pipeline.reason_rules", "mta.pipeline.correlator.max_messages",
		"mta.pipeline.correlator.ttl", "mta.pipeline.correlator.max_attempts", "mta.pipeline.traces.sample_ratio",
		"mta.pipeline.traces.slow_threshold", "sample_rate",
	} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no problem at %s in:\n%v", key, err)
		}
	}
}
