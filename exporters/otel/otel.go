// Package otel builds mailscope's OpenTelemetry tracer provider: OTLP over
// gRPC or HTTP, the standard OTEL_* environment variables honoured, resource
// attributes for the service and host, and a ratio sampler that follows its
// parent. Tracing is off unless the config or the environment names an
// endpoint; then every span is flushed on shutdown.
package otel

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/credentials"

	"github.com/mailscope/mailscope/internal/config"
)

// Protocols accepted in tracing.otlp.protocol, as OTEL_EXPORTER_OTLP_PROTOCOL
// spells them.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// Config is the `tracing` section.
type Config struct {
	OTLP OTLPConfig `yaml:"otlp"`
	// SampleRatio is the share of root traces kept, 0 to 1. Children follow
	// their parent's decision.
	SampleRatio float64 `yaml:"sample_ratio"`
	// Queue sizes the span queue between the collectors and the endpoint
	// (see SpanQueue).
	Queue QueueConfig `yaml:",inline"`
}

// OTLPConfig says where spans go. An empty endpoint falls back to the
// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT environment variables.
type OTLPConfig struct {
	// Endpoint is host:port, or a URL (http:// means no TLS).
	Endpoint string `yaml:"endpoint"`
	Protocol string `yaml:"protocol"`
	// Insecure sends spans without TLS.
	Insecure bool `yaml:"insecure"`
	// CAFile verifies the collector's certificate against this CA bundle.
	CAFile string `yaml:"ca_file"`
	// Headers are sent with every export, e.g. an authorization token;
	// their values are secrets.
	Headers map[string]config.Secret `yaml:"headers"`
	Timeout time.Duration            `yaml:"timeout"`
}

// DefaultConfig returns the defaults: off, gRPC when turned on, every
// trace sampled, a 10 s export timeout, and a queue of 32,768 spans sent
// in batches of up to 1,024 at least every second.
func DefaultConfig() Config {
	return Config{
		OTLP:        OTLPConfig{Protocol: ProtocolGRPC, Timeout: 10 * time.Second},
		SampleRatio: 1,
		Queue:       QueueConfig{Size: 32_768, BatchSize: 1024, Interval: time.Second},
	}
}

// Bounds of the queue settings: past maxQueueSize a queue of spans is
// gigabytes, and an export request of more than maxBatchSize spans risks
// the 4 MiB message limit of gRPC receivers.
const (
	maxQueueSize = 1 << 20
	maxBatchSize = 8192
)

// Validate returns every problem of the section.
func (c Config) Validate() error {
	var ps config.Problems
	switch c.OTLP.Protocol {
	case ProtocolGRPC, ProtocolHTTP:
	default:
		ps.Addf("otlp.protocol", "must be %q or %q, got %q", ProtocolGRPC, ProtocolHTTP, c.OTLP.Protocol)
	}
	if e := c.OTLP.Endpoint; e != "" {
		if strings.Contains(e, "://") {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				ps.Addf("otlp.endpoint", "must be host:port or an http(s):// URL, got %q", e)
			}
		} else if !strings.Contains(e, ":") {
			ps.Addf("otlp.endpoint", "must be host:port or an http(s):// URL, got %q", e)
		}
	}
	if c.OTLP.CAFile != "" {
		if _, err := config.LoadCAFile(c.OTLP.CAFile); err != nil {
			ps.Add("otlp.ca_file", err.Error())
		}
	}
	if c.OTLP.Timeout <= 0 {
		ps.Addf("otlp.timeout", "must be positive, got %s", c.OTLP.Timeout)
	}
	if c.Queue.Size < 1 || c.Queue.Size > maxQueueSize {
		ps.Addf("queue_size", "must be between 1 and %d spans, got %d", maxQueueSize, c.Queue.Size)
	}
	if c.Queue.BatchSize < 1 || c.Queue.BatchSize > maxBatchSize {
		ps.Addf("batch_size", "must be between 1 and %d spans, got %d", maxBatchSize, c.Queue.BatchSize)
	} else if c.Queue.Size >= 1 && c.Queue.BatchSize > c.Queue.Size {
		ps.Addf("batch_size", "must not exceed queue_size (%d), got %d", c.Queue.Size, c.Queue.BatchSize)
	}
	if c.Queue.Interval < 10*time.Millisecond || c.Queue.Interval > time.Minute {
		ps.Addf("export_interval", "must be between 10ms and 1m, got %s", c.Queue.Interval)
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		ps.Addf("sample_ratio", "must be between 0 and 1, got %g", c.SampleRatio)
	}
	return ps.Err()
}

// Enabled reports whether spans are exported: an endpoint in the config or
// in the environment, and the SDK not disabled by OTEL_SDK_DISABLED or
// OTEL_TRACES_EXPORTER=none.
func (c Config) Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return c.OTLP.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Provider hands out tracers and flushes their spans on Shutdown.
type Provider struct {
	trace.TracerProvider
	sdk    *sdktrace.TracerProvider
	builds *buildQueue
}

// Tracer returns a named tracer; when spans are exported, a Tracer whose
// Defer builds spans off the caller's goroutine.
func (p *Provider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	t := p.TracerProvider.Tracer(name, opts...)
	if p.builds == nil {
		return t
	}
	return Tracer{Tracer: t, q: p.builds}
}

// Shutdown builds the deferred spans, flushes every pending span and
// stops the exporter, or counts what is left when ctx ends.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if p.builds != nil {
		p.builds.shutdown(ctx)
	}
	return p.sdk.Shutdown(ctx)
}

// Exporting reports whether spans leave the process.
func (p *Provider) Exporting() bool { return p.sdk != nil }

// Info names the service in the resource attributes.
type Info struct {
	Name    string
	Version string
}

// Option changes how New's provider behaves.
type Option func(*options)

type options struct{ wait bool }

// WaitForRoom makes the provider build spans on the caller's goroutine and
// wait for room in the export queue instead of dropping spans, as long as
// exports succeed: for a batch job (mailscope replay), never for an agent
// following live logs.
func WaitForRoom() Option { return func(o *options) { o.wait = true } }

// New builds the provider for cfg: a no-op one when tracing is off. m
// counts the span queue's work (nil: a private set nobody reads).
func New(ctx context.Context, cfg Config, info Info, m *Metrics, getenv func(string) string, logger *slog.Logger, opts ...Option) (*Provider, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if m == nil {
		m = NewMetrics()
	}
	if !cfg.Enabled(getenv) {
		m.queue.Store(nil)
		m.builds.Store(nil)
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	protocol := cfg.OTLP.Protocol
	if cfg.OTLP.Endpoint == "" {
		// Configured by the environment alone: its protocol wins, with the
		// OTLP specification's default.
		protocol = firstNonEmpty(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), ProtocolHTTP)
	}
	exp, err := newExporter(ctx, cfg.OTLP, protocol)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(info.Name), semconv.ServiceVersion(info.Version)),
		resource.WithHost(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override
	)
	if err != nil {
		logger.Warn("Some tracing resource attributes could not be read", "err", err)
	}
	spans := NewSpanQueue(exp, cfg.Queue, cfg.OTLP.Timeout, m)
	spans.wait = o.wait
	sdk := sdktrace.NewTracerProvider(
		// Not the SDK's batcher: its queue drops the newest span when full,
		// whatever it is (a bounced message's as readily as a sampled one).
		sdktrace.WithSpanProcessor(spans),
		sdktrace.WithResource(res),
		sdktrace.WithIDGenerator(idGenerator{}),
		sdktrace.WithSampler(sdktrace.ParentBased(prioritySampler{ratio: sdktrace.TraceIDRatioBased(cfg.SampleRatio)})),
	)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	// The SDK reports export failures through a global handler that would
	// print with the standard logger; send them to ours.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("Exporting traces failed", "err", err)
	}))
	logger.Info("Tracing enabled", "protocol", protocol, "endpoint", firstNonEmpty(cfg.OTLP.Endpoint, "(from OTEL_* environment)"), "sample_ratio", cfg.SampleRatio, "queue_size", cfg.Queue.Size)
	if o.wait {
		return &Provider{TracerProvider: sdk, sdk: sdk}, nil
	}
	builds := newBuildQueue(cfg.Queue.Size, m, spans)
	m.builds.Store(builds)
	return &Provider{TracerProvider: sdk, sdk: sdk, builds: builds}, nil
}

func newExporter(ctx context.Context, c OTLPConfig, protocol string) (sdktrace.SpanExporter, error) {
	headers := make(map[string]string, len(c.Headers))
	for k, v := range c.Headers {
		headers[k] = v.Reveal()
	}
	var tlsCfg *tls.Config
	if c.CAFile != "" {
		ca, err := config.LoadCAFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := ca.Pool()
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	switch protocol {
	case ProtocolGRPC:
		var opts []otlptracegrpc.Option
		if c.Endpoint != "" {
			if strings.Contains(c.Endpoint, "://") {
				opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
			} else {
				opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
			}
			opts = append(opts, otlptracegrpc.WithTimeout(c.Timeout))
		}
		if c.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		} else if tlsCfg != nil {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		if len(headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(headers))
		}
		return otlptracegrpc.New(ctx, opts...)
	case ProtocolHTTP, "http/json", "http":
		var opts []otlptracehttp.Option
		if c.Endpoint != "" {
			if strings.Contains(c.Endpoint, "://") {
				opts = append(opts, otlptracehttp.WithEndpointURL(httpTracesURL(c.Endpoint)))
			} else {
				opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
			}
			opts = append(opts, otlptracehttp.WithTimeout(c.Timeout))
		}
		if c.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		} else if tlsCfg != nil {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsCfg))
		}
		if len(headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(headers))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	return nil, fmt.Errorf("unsupported OTLP protocol %q (want %q or %q)", protocol, ProtocolGRPC, ProtocolHTTP)
}

// httpTracesURL treats a URL without a path as the collector's base URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT does, and appends the traces path.
func httpTracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// PriorityAttribute on a root span's start attributes overrides the ratio:
// a value above 0 keeps the trace, 0 drops it. Collectors that decide
// after the fact which traces matter (the MTA correlator keeps every failed
// or slow message and its own share of the rest) set it; the name is the
// OpenTracing convention that several backends also read.
const PriorityAttribute = "sampling.priority"

// prioritySampler honours PriorityAttribute and otherwise samples by ratio.
type prioritySampler struct {
	ratio sdktrace.Sampler
}

func (s prioritySampler) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	for _, a := range p.Attributes {
		if string(a.Key) != PriorityAttribute {
			continue
		}
		decision := sdktrace.Drop
		if a.Value.AsInt64() > 0 {
			decision = sdktrace.RecordAndSample
		}
		return sdktrace.SamplingResult{Decision: decision, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
	}
	return s.ratio.ShouldSample(p)
}

func (s prioritySampler) Description() string {
	return "PrioritySampler{" + PriorityAttribute + " or " + s.ratio.Description() + "}"
}
