package pipeline

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
)

// TestBouncedMessagesArePublished: every message of the real corpus that
// ended bounced, expired or partly bounced is published by its Message-ID
// hash for the seeds collector, and no other. The expected set is computed
// from the log text with regular expressions, independently of the parser.
func TestBouncedMessagesArePublished(t *testing.T) {
	const path = "../postfix/testdata/real-postfix.log"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idRE := regexp.MustCompile(`cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=<([^>]*)>`)
	failRE := regexp.MustCompile(`: ([0-9A-Za-z]+): to=<[^>]*>.* status=(bounced|expired)`)
	expiredRE := regexp.MustCompile(`qmgr\[\d+\]: ([0-9A-Za-z]+): from=<[^>]*>, status=expired`)
	ids := map[string]string{}
	failed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := idRE.FindStringSubmatch(line); m != nil {
			ids[m[1]] = m[2]
		}
		if m := failRE.FindStringSubmatch(line); m != nil {
			failed[m[1]] = true
		}
		if m := expiredRE.FindStringSubmatch(line); m != nil {
			failed[m[1]] = true
		}
	}
	var want []string
	for q := range failed {
		if id, ok := ids[q]; ok && id != "" {
			want = append(want, collectors.MessageIDKey(collectors.HashMessageID([]byte(id))))
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("the corpus has no bounced message with a Message-ID: the test would prove nothing")
	}

	clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	found := collectors.NewDiscoveries(clk, 365*24*time.Hour, 1000)
	cfg := DefaultConfig()
	cfg.Location = time.UTC
	cfg.Discoveries = found
	p, err := New(cfg, prometheus.NewRegistry(), nil, nil, clk)
	if err != nil {
		t.Fatal(err)
	}
	p.HandleBatch(readBatch(t, path))
	p.Flush()
	var got []string
	for _, d := range found.Get(collectors.KindBouncedMessage) {
		got = append(got, d.Value)
	}
	if len(got) != len(want) {
		t.Fatalf("published %d bounced messages, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("published %v, want %v", got, want)
			break
		}
	}
}
