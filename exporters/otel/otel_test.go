package otel

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/traceid"
)

// receiver is an in-process OTLP trace receiver on loopback: the real wire
// protocol, decoded with the real protobuf types.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu      sync.Mutex
	spans   []*tracepb.Span
	res     map[string]string
	headers http.Header
}

func (r *receiver) add(req *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		r.res = map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			r.res[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
}

func (r *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	body, _ := io.ReadAll(req.Body)
	var msg coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.headers = req.Header.Clone()
	r.mu.Unlock()
	r.add(&msg)
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *receiver) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.spans {
		out = append(out, s.GetName())
	}
	return out
}

var quiet = slog.New(slog.DiscardHandler)

func noEnv(string) string { return "" }

// emit makes one span and shuts the provider down, which must flush it.
func emit(t *testing.T, cfg Config, getenv func(string) string) *Provider {
	t.Helper()
	p, err := New(context.Background(), cfg, Info{Name: "mailscope", Version: "1.2.3"}, nil, getenv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer("test").Start(context.Background(), "dnsbl.sweep")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOffByDefault(t *testing.T) {
	p := emit(t, DefaultConfig(), noEnv)
	if p.Exporting() {
		t.Error("tracing is on without an endpoint")
	}
}

func TestHTTPExportWithResourceAndHeaders(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint = srv.URL // http:// means plaintext
	cfg.OTLP.Protocol = ProtocolHTTP
	cfg.OTLP.Headers = map[string]config.Secret{"Authorization": "Bearer t0ken"}
	if !emit(t, cfg, noEnv).Exporting() {
		t.Fatal("not exporting")
	}
	if got := rcv.names(); len(got) != 1 || got[0] != "dnsbl.sweep" {
		t.Fatalf("spans: %v", got)
	}
	if rcv.res["service.name"] != "mailscope" || rcv.res["service.version"] != "1.2.3" || rcv.res["host.name"] == "" {
		t.Errorf("resource: %v", rcv.res)
	}
	if rcv.headers.Get("Authorization") != "Bearer t0ken" {
		t.Errorf("headers: %v", rcv.headers)
	}
}

func TestGRPCExport(t *testing.T) {
	rcv := &receiver{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, rcv)
	go func() { _ = gs.Serve(l) }()
	defer gs.Stop()
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint = l.Addr().String()
	cfg.OTLP.Insecure = true
	emit(t, cfg, noEnv)
	if got := rcv.names(); len(got) != 1 || got[0] != "dnsbl.sweep" {
		t.Fatalf("spans: %v", got)
	}
}

func TestStandardEnvironmentVariables(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_SERVICE_NAME", "mailscope-eu1")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	// No endpoint in the config: the environment turns tracing on, with the
	// OTLP default protocol (http/protobuf).
	emit(t, DefaultConfig(), os.Getenv)
	if got := rcv.names(); len(got) != 1 {
		t.Fatalf("spans: %v", got)
	}
	if rcv.res["service.name"] != "mailscope-eu1" || rcv.res["deployment.environment"] != "test" {
		t.Errorf("resource: %v", rcv.res)
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	if emit(t, DefaultConfig(), os.Getenv).Exporting() {
		t.Error("OTEL_SDK_DISABLED=true left tracing on")
	}
}

func TestSampleRatioZeroDropsRootSpans(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol, cfg.SampleRatio = srv.URL, ProtocolHTTP, 0
	emit(t, cfg, noEnv)
	if got := rcv.names(); len(got) != 0 {
		t.Errorf("sampled out spans were exported: %v", got)
	}
}

func TestPriorityAttributeOverridesTheRatio(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol, cfg.SampleRatio = srv.URL, ProtocolHTTP, 0
	p, err := New(context.Background(), cfg, Info{Name: "mailscope"}, nil, noEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Tracer("test")
	for name, prio := range map[string]int{"kept": 1, "dropped": 0} {
		_, span := tr.Start(context.Background(), name, trace.WithAttributes(attribute.Int(PriorityAttribute, prio)))
		span.End()
	}
	_, span := tr.Start(context.Background(), "by-ratio")
	span.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rcv.names(); len(got) != 1 || got[0] != "kept" {
		t.Errorf("exported %v, want only the span marked to keep", got)
	}
}

func TestValidate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.OTLP.Protocol = "thrift"
	cfg.OTLP.Endpoint = "ftp://x"
	cfg.SampleRatio = -1
	want := `otlp.protocol: must be "grpc" or "http/protobuf", got "thrift"` + "\n" +
		`otlp.endpoint: must be host:port or an http(s):// URL, got "ftp://x"` + "\n" +
		`sample_ratio: must be between 0 and 1, got -1`
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if !strings.Contains(ProtocolHTTP, "http") {
		t.Fatal("protocol constant")
	}
}

// TestRootTakesTheTraceIDItsContextNames: a root span started in a
// context from traceid.With has that trace id (its children too); others
// get random ones.
func TestRootTakesTheTraceIDItsContextNames(t *testing.T) {
	rcv := &receiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	cfg := DefaultConfig()
	cfg.OTLP.Endpoint, cfg.OTLP.Protocol = srv.URL, ProtocolHTTP
	p, err := New(context.Background(), cfg, Info{Name: "mailscope"}, nil, noEnv, quiet)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := traceid.FromMessageID([]byte("<abc@example.com>"))
	tr := p.Tracer("test")
	ctx, root := tr.Start(traceid.With(context.Background(), want), "named", trace.WithNewRoot())
	_, child := tr.Start(ctx, "child")
	child.End()
	root.End()
	_, other := tr.Start(context.Background(), "random")
	other.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.spans) != 3 {
		t.Fatalf("%d spans", len(rcv.spans))
	}
	for _, s := range rcv.spans {
		got := trace.TraceID(s.GetTraceId())
		if (s.GetName() == "random") == (got == want) || !got.IsValid() {
			t.Errorf("%s: trace id %s (named: %s)", s.GetName(), got, want)
		}
	}
}
