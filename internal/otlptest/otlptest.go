// Package otlptest is an OTLP/HTTP trace receiver for tests (tests only): it
// decodes every export request in the wire format a collector reads and
// keeps the spans.
package otlptest

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Receiver is an OTLP/HTTP trace receiver on loopback: it decodes
// every export request (protobuf ExportTraceServiceRequest, the wire
// format a collector reads) and keeps the spans.
type Receiver struct {
	// URL is the endpoint's base URL (spans go to URL/v1/traces).
	URL string
	// Delay is how long each request waits before it is answered: a
	// slow collector.
	delay time.Duration
	stop  chan struct{}

	mu       sync.Mutex
	spans    []*tracepb.Span
	requests int
}

// Start starts a receiver that answers each request after
// delay; it stops when the test ends.
func Start(t testing.TB, delay time.Duration) *Receiver {
	t.Helper()
	r := &Receiver{delay: delay, stop: make(chan struct{})}
	srv := httptest.NewServer(r)
	r.URL = srv.URL
	t.Cleanup(func() {
		close(r.stop)
		srv.Close()
	})
	return r
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" {
		http.NotFound(w, req)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	var msg coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-r.stop:
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	r.requests++
	for _, rs := range msg.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// Span is a received span, decoded.
type Span struct {
	Name             string
	TraceID, SpanID  string // hex
	ParentSpanID     string // hex; empty for a root
	Start, End       time.Time
	StringAttributes map[string]string
	IntAttributes    map[string]int64
}

// Spans returns what was received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Span, 0, len(r.spans))
	for _, s := range r.spans {
		sp := Span{Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
			ParentSpanID: hex.EncodeToString(s.GetParentSpanId()),
			Start:        time.Unix(0, int64(s.GetStartTimeUnixNano())), End: time.Unix(0, int64(s.GetEndTimeUnixNano())),
			StringAttributes: map[string]string{}, IntAttributes: map[string]int64{}}
		for _, a := range s.GetAttributes() {
			switch v := a.GetValue().GetValue().(type) {
			case *commonpb.AnyValue_StringValue:
				sp.StringAttributes[a.GetKey()] = v.StringValue
			case *commonpb.AnyValue_IntValue:
				sp.IntAttributes[a.GetKey()] = v.IntValue
			}
		}
		out = append(out, sp)
	}
	return out
}
