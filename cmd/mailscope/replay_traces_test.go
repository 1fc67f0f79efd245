package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/otlptest"
)

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
	rcv := otlptest.Start(t, 0)

	code, plain, _ := runReplay(t, "--format=json", corpus)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	code, traced, stderr := runReplay(t, "--format=json", "--otlp.endpoint="+rcv.URL, "--otlp.protocol=http/protobuf", corpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if traced != plain {
		t.Error("the counts differ with traces on")
	}
	if !strings.Contains(stderr, " 0 lost") {
		t.Errorf("stderr: %s", stderr)
	}
	// A trace is named by the Message-ID: two messages with the same one
	// (smtp-source reuses its ids across runs in this corpus) share a
	// trace, each with its own root; children hang off their root.
	roots := map[string]int64{}
	children := map[string]int64{}
	for _, s := range rcv.Spans() {
		switch s.Name {
		case "mta.message":
			if s.ParentSpanID != "" {
				t.Errorf("root %s has a parent", s.SpanID)
			}
			roots[s.SpanID] = s.IntAttributes["mta.attempts"]
		case "mta.delivery":
			children[s.ParentSpanID]++
		}
	}
	// 139 messages leave the table in the corpus (removed or flushed).
	if len(roots) < 100 {
		t.Fatalf("%d message traces", len(roots))
	}
	for id, n := range roots {
		if children[id] != n {
			t.Errorf("root %s: %d attempt spans, root says %d", id, children[id], n)
		}
	}
	for id := range children {
		if _, ok := roots[id]; !ok {
			t.Errorf("attempt spans under %s, which is no root", id)
		}
	}
}

// TestReplayTracesKeepTheWindow: with --since/--until the traces are
// those of the lines in the window, as the counts are: fewer than the
// whole corpus sends, and none for a window that holds no line.
func TestReplayTracesKeepTheWindow(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "mail.log")
	writeWithMtime(t, corpus, raw, time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC))
	roots := func(window ...string) int {
		t.Helper()
		rcv := otlptest.Start(t, 0)
		args := append([]string{"--format=json", "--otlp.endpoint=" + rcv.URL, "--otlp.protocol=http/protobuf"}, window...)
		code, _, stderr := runReplay(t, append(args, corpus)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", window, code, stderr)
		}
		n := 0
		for _, s := range rcv.Spans() {
			if s.Name == "mta.message" {
				n++
			}
		}
		return n
	}
	all := roots()
	before := roots("--until=2025-11-26 07:03")
	none := roots("--since=2030-01-01T00:00:00Z")
	if all == 0 || before == 0 || before >= all {
		t.Errorf("message traces: %d in the whole corpus, %d before 07:03", all, before)
	}
	if none != 0 {
		t.Errorf("%d message traces for a window after the corpus", none)
	}
}
