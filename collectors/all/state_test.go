package all_test

import (
	"context"
	"fmt"
	"github.com/mailscope/mailscope/internal/testlog"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/agent"
	"github.com/mailscope/mailscope/collectors"
	_ "github.com/mailscope/mailscope/collectors/all"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
	"github.com/mailscope/mailscope/internal/postconf"
	"github.com/mailscope/mailscope/internal/testwait"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

const postfixLine = "Nov 26 08:00:%02d mail postfix/qmgr[1]: 4BQ0Rm1Fz2z9v: from=<a@example.com>, size=100, nrcpt=1 (queue active)\n"

// stateConfig enables every registered collector, each on loopback peers,
// with state_dir pointing at a directory that does not exist yet.
func stateConfig(t *testing.T, dir, dnsAddr string) string {
	t.Helper()
	postqueue := filepath.Join(dir, "postqueue")
	if err := os.WriteFile(postqueue, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{
		"mta": fmt.Sprintf(`mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning}
`, filepath.Join(dir, "mail.log")),
		"queue": fmt.Sprintf("queue: {interval: 15s, postqueue: %s}\n", postqueue),
		"dnsbl": fmt.Sprintf(`dnsbl:
  interval: 1m
  jitter: 0s
  resolver: %s
  targets: {ips: [192.0.2.10]}
  zones: []
  custom_zones:
    - {name: bl.test, type: ip}
`, dnsAddr),
		"domain": fmt.Sprintf(`domain:
  interval: 1h
  jitter: 0s
  resolver: %s
  domains: [{name: example.test}]
`, dnsAddr),
		"reports": fmt.Sprintf(`reports:
  directories: [%s]
  domains: [example.test]
  http: {enabled: true}
`, filepath.Join(dir, "reports")),
		"seeds": fmt.Sprintf(`seeds:
  interval: 1h
  jitter: 0s
  from: probe@example.test
  submit: {address: %s, username: probe@example.test, password_file: %s}
  mailboxes:
    - name: seed-1
      provider: other
      imap: {address: %s, username: seed@example.test, password_file: %s}
`, closedPort(t), secret, closedPort(t), secret),
	}
	text := "state_dir: " + filepath.Join(dir, "state") + "\n"
	for _, f := range collectors.All() {
		s, ok := sections[f.Name]
		if !ok {
			t.Fatalf("collector %q has no section in this test: add one, so its state is checked on an empty state directory", f.Name)
		}
		text += s
	}
	return text
}

// runAgent starts an agent on cfgFile, waits until every collector ran or
// failed once, and stops it.
func runAgent(t *testing.T, cfgFile string, clk *clock.Fake, logs *testlog.Buffer, until func(*agent.Agent) bool) {
	t.Helper()
	a, err := agent.New(agent.Options{ConfigFile: cfgFile, Clock: clk, Version: "test",
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		DetectPostfix: func(context.Context) (*postconf.Facts, error) { return nil, postconf.ErrNoPostfix }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	ok := testwait.Until(20*time.Second, func() bool { return until(a) })
	cancel()
	if !ok {
		<-done
		t.Fatalf("waited 20s for the collectors; logs:\n%s", logs.String())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// sample returns the value of the first series of name in collector's
// registry whose labels include want, and whether there is one.
func sample(a *agent.Agent, collector, name string, want map[string]string) (float64, bool) {
	g := prometheus.Gatherer(a.Registry())
	if collector != "" {
		g = a.Gatherers()[collector]
	}
	if g == nil {
		return 0, false
	}
	mfs, err := g.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, want) {
				switch {
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			n++
		}
	}
	return n == len(want)
}

// TestEveryCollectorOnAnEmptyStateDir starts every collector on a state
// directory that does not exist, stops the agent and starts it again: no
// collector may warn about its state, and what one keeps across restarts
// (the mta checkpoint, dnsbl's listing times) must survive the restart.
func TestEveryCollectorOnAnEmptyStateDir(t *testing.T) {
	dir := t.TempDir()
	srv := dnstest.Start(t, dnstest.NewZone().
		A("2.0.0.127.bl.test", "127.0.0.2").
		A("10.2.0.192.bl.test", "127.0.0.2"))
	cfgFile := filepath.Join(dir, "mailscope.yml")
	if err := os.WriteFile(cfgFile, []byte(stateConfig(t, dir, srv.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "mail.log")
	if err := os.WriteFile(logFile, []byte(fmt.Sprintf(postfixLine, 1)+fmt.Sprintf(postfixLine, 2)), 0o600); err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{"target": "192.0.2.10", "zone": "bl.test"}
	lines := map[string]string{"source": "maillog"}
	clk := clock.NewFake(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	var logs testlog.Buffer

	var firstSince float64
	runAgent(t, cfgFile, clk, &logs, func(a *agent.Agent) bool {
		n, _ := sample(a, "mta", "mailscope_mta_log_lines_total", lines)
		since, ok := sample(a, "dnsbl", "mailscope_dnsbl_listed_since_timestamp_seconds", listed)
		firstSince = since
		return n == 2 && ok && ranOnce(a)
	})
	clk.Advance(time.Hour)
	if err := os.WriteFile(logFile, []byte(fmt.Sprintf(postfixLine, 1)+fmt.Sprintf(postfixLine, 2)+fmt.Sprintf(postfixLine, 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	var secondSince, secondLines float64
	runAgent(t, cfgFile, clk, &logs, func(a *agent.Agent) bool {
		secondLines, _ = sample(a, "mta", "mailscope_mta_log_lines_total", lines)
		var ok bool
		secondSince, ok = sample(a, "dnsbl", "mailscope_dnsbl_listed_since_timestamp_seconds", listed)
		return secondLines >= 1 && ok && ranOnce(a)
	})
	if secondSince != firstSince {
		t.Errorf("dnsbl listed_since after a restart = %v, want the first sweep's %v (kept in the state directory)", secondSince, firstSince)
	}
	if secondLines != 1 {
		t.Errorf("mta read %v lines after a restart, want only the 1 new line (resumed from its checkpoint)", secondLines)
	}
	for _, line := range strings.Split(logs.String(), "\n") {
		l := strings.ToLower(line)
		if strings.Contains(l, "state") || strings.Contains(l, "checkpoint") || strings.Contains(l, "listing times") || strings.Contains(l, "cursor") {
			t.Errorf("a collector complained about its state: %s", line)
		}
	}
}

// ranOnce reports whether every collector finished a run (or failed one).
func ranOnce(a *agent.Agent) bool {
	if len(a.Gatherers()) < len(collectors.All()) {
		return false // not all started yet
	}
	for name := range a.Gatherers() {
		if name == "mta" {
			continue // a stream, not scheduled runs
		}
		if _, ok := sample(a, "", "mailscope_collector_last_run_timestamp_seconds", map[string]string{"collector": name}); !ok {
			return false
		}
	}
	return true
}
