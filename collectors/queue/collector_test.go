package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/postconf"
)

// standIn writes a script in place of postqueue: real postqueue needs a
// running Postfix, which test/e2e/queue_test.go has; here the script
// checks its arguments and plays a recorded answer. mode selects it.
func standIn(t *testing.T) (path string, setMode func(string)) {
	t.Helper()
	dir := t.TempDir()
	mode := filepath.Join(dir, "mode")
	abs, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
[ "$1 $2 $3" = "-c /etc/postfix-out -j" ] || { echo "postqueue: fatal: usage: $*" >&2; exit 64; }
case "$(cat ` + mode + `)" in
deferred) cat ` + abs + `/postqueue-deferred.jsonl ;;
mixed) cat ` + abs + `/postqueue-mixed.jsonl ;;
down) echo "postqueue: fatal: Queue report unavailable - mail system is down" >&2; exit 69 ;;
garbage) echo '{"queue_name": ' ;;
slow) exec sleep 10 ;;
esac
`
	path = filepath.Join(dir, "postqueue")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, func(m string) {
		if err := os.WriteFile(mode, []byte(m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCollectorReadsAndFails(t *testing.T) {
	bin, setMode := standIn(t)
	cfg := NewConfig()
	cfg.Postqueue, cfg.ConfigDir = bin, "/etc/postfix-out"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Unix(1795677347+600, 0))
	reg := prometheus.NewRegistry()
	c, err := New(cfg, collectors.Settings{Registerer: reg, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	names := []string{"mailscope_queue_messages", "mailscope_queue_size_bytes", "mailscope_queue_oldest_message_age_seconds", "mailscope_queue_deferred_recipients", "mailscope_queue_up"}

	setMode("deferred")
	var debug collectors.RunLog
	summary, err := c.ReadOnce(ctx, &debug)
	if err != nil || summary != "0 active, 5 deferred, 0 hold" {
		t.Fatalf("ReadOnce = %q, %v", summary, err)
	}
	// The run's debug log names the command it ran and what it found.
	for _, want := range []string{
		"running " + bin + " -c /etc/postfix-out -j",
		"queue deferred 5 messages, 1787 bytes, oldest 10m0s old",
		"deferred recipients: provider gmail, reason rate_limited: 3",
		"deferred recipients: provider other, reason connection: 2",
	} {
		if !strings.Contains(debug.String(), want) {
			t.Errorf("the run's debug log lacks %q:\n%s", want, debug.String())
		}
	}
	compare(t, reg, "deferred", `
mailscope_queue_deferred_recipients{mta="postfix",provider="gmail",reason="rate_limited"} 3
mailscope_queue_deferred_recipients{mta="postfix",provider="other",reason="connection"} 2
`+queueLines(map[string][3]float64{"deferred": {5, 1787, 600}})+`mailscope_queue_up{mta="postfix"} 1
`, names...)

	// A stopped Postfix (agent not root): an error, up 0, no stale depth.
	setMode("down")
	var downDebug collectors.RunLog
	if _, err := c.ReadOnce(ctx, &downDebug); err == nil || !strings.Contains(err.Error(), "mail system is down") {
		t.Errorf("ReadOnce with Postfix down: err = %v, want postqueue's message", err)
	}
	if !strings.Contains(downDebug.String(), "failed: ") || !strings.Contains(downDebug.String(), "mail system is down") {
		t.Errorf("the failed run's debug log: %q", downDebug.String())
	}
	compare(t, reg, "down", "mailscope_queue_up{mta=\"postfix\"} 0\n", names...)

	// Back: groups seen before read 0 rather than vanish.
	setMode("mixed")
	clk.Advance(100 * time.Second)
	if _, err := c.ReadOnce(ctx, nil); err != nil {
		t.Fatal(err)
	}
	now := float64(1795677347 + 700)
	compare(t, reg, "mixed", `
mailscope_queue_deferred_recipients{mta="postfix",provider="gmail",reason="connection"} 1
mailscope_queue_deferred_recipients{mta="postfix",provider="gmail",reason="rate_limited"} 0
mailscope_queue_deferred_recipients{mta="postfix",provider="microsoft",reason="blocklisted"} 1
mailscope_queue_deferred_recipients{mta="postfix",provider="other",reason="connection"} 0
mailscope_queue_deferred_recipients{mta="postfix",provider="other",reason="dns"} 1
mailscope_queue_deferred_recipients{mta="postfix",provider="yahoo",reason="reputation"} 1
`+queueLines(map[string][3]float64{
		"active":   {2, 3048, now - 1795670000},
		"incoming": {1, 500, now - 1795677000},
		"maildrop": {1, 300, now - 1795677300},
		"deferred": {1, 4000, now - 1795600000},
		"other":    {1, 100, now - 1795677347},
	})+`mailscope_queue_up{mta="postfix"} 1
`, names...)

	setMode("garbage")
	if _, err := c.ReadOnce(ctx, nil); err == nil || !strings.Contains(err.Error(), "record 1") {
		t.Errorf("ReadOnce on a cut record: err = %v", err)
	}
}

func TestReadTimeout(t *testing.T) {
	bin, setMode := standIn(t)
	setMode("slow")
	cfg := NewConfig()
	cfg.Postqueue, cfg.ConfigDir, cfg.Timeout = bin, "/etc/postfix-out", 200*time.Millisecond
	c, err := New(cfg, collectors.Settings{Registerer: prometheus.NewRegistry(), Clock: clock.Real{}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.ReadOnce(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("err = %v, want a deadline error", err)
	}
	// Bounded by the timeout plus WaitDelay, far below the script's 10s.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a timed-out read took %s", d)
	}
}

func TestConfig(t *testing.T) {
	c := NewConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	c = &Config{Interval: time.Millisecond, Timeout: -time.Second, ConfigDir: "etc/postfix",
		Providers: map[string]string{"corp.example": "Bad Name"}, ReasonRules: []mailclass.ReasonRule{{Reason: "weather"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("no problems found")
	}
	for _, key := range []string{"interval", "timeout", "postqueue", "config_dir", "providers", "reason_rules"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("no problem at %s in:\n%v", key, err)
		}
	}
	c = NewConfig()
	c.Timeout = 2 * time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "at most the interval") {
		t.Errorf("timeout > interval: %v", err)
	}
	if Auto(nil) != nil {
		t.Error("Auto proposed a section without Postfix")
	}
	if a := Auto(&postconf.Facts{ConfigDir: "/etc/postfix"}); a == nil || a.ConfigDir != "" || a.Validate() != nil {
		t.Errorf("Auto on the default instance = %+v", a)
	}
	if a := Auto(&postconf.Facts{ConfigDir: "/etc/postfix-out"}); a == nil || a.ConfigDir != "/etc/postfix-out" {
		t.Errorf("Auto on another instance = %+v", a)
	}
}

// queueLines renders the three per-queue gauges of every queue, the given
// ones with {messages, bytes, age} and the rest at 0.
func queueLines(set map[string][3]float64) string {
	var b strings.Builder
	for _, q := range Queues {
		v := set[q]
		fmt.Fprintf(&b, "mailscope_queue_messages{mta=\"postfix\",queue=%q} %g\n", q, v[0])
		fmt.Fprintf(&b, "mailscope_queue_size_bytes{mta=\"postfix\",queue=%q} %g\n", q, v[1])
		fmt.Fprintf(&b, "mailscope_queue_oldest_message_age_seconds{mta=\"postfix\",queue=%q} %g\n", q, v[2])
	}
	return b.String()
}

// compare checks the registry's series of the named metrics against body,
// one "name{labels} value" line each, in any order.
func compare(t *testing.T, reg *prometheus.Registry, what, body string, names ...string) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if !slices.Contains(names, mf.GetName()) {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", mf.GetName(), strings.Join(ls, ","), m.GetGauge().GetValue()))
		}
	}
	var want []string
	for l := range strings.SplitSeq(strings.TrimSpace(body), "\n") {
		want = append(want, l)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: series\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestIntervalAloneFitsTheTimeout is `queue: {interval: 15s}`: the default
// timeout (30s) must not make the section invalid, and a read is bounded by
// the interval then.
func TestIntervalAloneFitsTheTimeout(t *testing.T) {
	for _, tc := range []struct {
		interval, want time.Duration
	}{
		{15 * time.Second, 15 * time.Second},
		{time.Minute, DefaultTimeout},
		{time.Hour, DefaultTimeout},
	} {
		c := NewConfig()
		c.Interval = tc.interval
		if err := c.Validate(); err != nil {
			t.Errorf("interval %s alone: %v", tc.interval, err)
		}
		if got := c.ReadTimeout(); got != tc.want {
			t.Errorf("interval %s: read timeout %s, want %s", tc.interval, got, tc.want)
		}
	}
	c := NewConfig()
	c.Interval, c.Timeout = 15*time.Second, 5*time.Second
	if got := c.ReadTimeout(); got != 5*time.Second {
		t.Errorf("a set timeout: %s, want 5s", got)
	}
}
