package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver decodes OTLP/HTTP protobuf export requests, as a collector
// does.
type otlpReceiver struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	var msg coltrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(body, &msg)
	}
	if err != nil || req.URL.Path != "/v1/traces" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
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

// TestReplaySendsTraces: `replay --otlp.endpoint` sends one trace per
// message of the real-Postfix corpus, each root with one child per
// attempt, and prints the same counts as without it.
func TestReplaySendsTraces(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "mail.log")
	writeWithMtime(t, corpus, raw, time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC))
	rcv := &otlpReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()

	code, plain, _ := runReplay(t, "--format=json", corpus)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	code, traced, stderr := runReplay(t, "--format=json", "--otlp.endpoint="+srv.URL, "--otlp.protocol=http/protobuf", corpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if traced != plain {
		t.Error("the counts differ with traces on")
	}
	if !strings.Contains(stderr, " 0 lost") {
		t.Errorf("stderr: %s", stderr)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	// A trace is named by the Message-ID: two messages with the same one
	// (smtp-source reuses its ids across runs in this corpus) share a
	// trace, each with its own root; children hang off their root.
	roots := map[string]int64{}
	children := map[string]int64{}
	for _, s := range rcv.spans {
		switch s.GetName() {
		case "mta.message":
			if len(s.GetParentSpanId()) != 0 {
				t.Errorf("root %x has a parent", s.GetSpanId())
			}
			for _, a := range s.GetAttributes() {
				if a.GetKey() == "mta.attempts" {
					roots[string(s.GetSpanId())] = a.GetValue().GetIntValue()
				}
			}
		case "mta.delivery":
			children[string(s.GetParentSpanId())]++
		}
	}
	// 139 messages leave the table in the corpus (removed or flushed).
	if len(roots) < 100 {
		t.Fatalf("%d message traces", len(roots))
	}
	for id, n := range roots {
		if children[id] != n {
			t.Errorf("root %x: %d attempt spans, root says %d", id, children[id], n)
		}
	}
	for id := range children {
		if _, ok := roots[id]; !ok {
			t.Errorf("attempt spans under %x, which is no root", id)
		}
	}
}
