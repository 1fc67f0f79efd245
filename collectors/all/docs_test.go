package all_test

import (
	"bytes"
	"context"
	"github.com/mailscope/mailscope/internal/testlog"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailscope/mailscope/agent"
	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx/dnstest"
)

// exported is one metric a mailscope binary can export.
type exported struct {
	name   string
	labels []string
	typ    string // "" when only described, never gathered here
	help   string
}

// describing is a Registerer that keeps what is registered on it, so every
// metric a collector can export is known from its Describe, series or not.
type describing struct{ cs []prometheus.Collector }

func (d *describing) Register(c prometheus.Collector) error { d.cs = append(d.cs, c); return nil }
func (d *describing) MustRegister(cs ...prometheus.Collector) {
	d.cs = append(d.cs, cs...)
}
func (d *describing) Unregister(prometheus.Collector) bool { return true }

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)
var constRE = regexp.MustCompile(`constLabels: \{([^}]*)\}`)
var helpRE = regexp.MustCompile(`help: "((?:[^"\\]|\\.)*)"`)

func (d *describing) metrics(t *testing.T) map[string]exported {
	t.Helper()
	out := map[string]exported{}
	ch := make(chan *prometheus.Desc, 1024)
	go func() {
		for _, c := range d.cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	for desc := range ch {
		s := desc.String()
		m := descRE.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("cannot read %s", s)
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		if c := constRE.FindStringSubmatch(s); c != nil {
			for _, kv := range strings.Split(c[1], ",") {
				if k, _, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
					labels = append(labels, k)
				}
			}
		}
		help := ""
		if h := helpRE.FindStringSubmatch(s); h != nil {
			help = h[1]
		}
		out[m[1]] = exported{name: m[1], labels: labels, help: help}
	}
	return out
}

// everyMetric builds every registered collector from the all-collectors
// config (and runs each /probe module once) on a describing registerer,
// then adds the agent's own metrics, with their types, from a run.
func everyMetric(t *testing.T) map[string]exported {
	t.Helper()
	dir := t.TempDir()
	srv := dnstest.Start(t, dnstest.NewZone().A("2.0.0.127.bl.test", "127.0.0.2").A("10.2.0.192.bl.test", "127.0.0.2"))
	cfg, err := agent.Parse("all.yml", []byte(stateConfig(t, dir, srv.Addr)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rec := &describing{}
	logger := slog.New(slog.DiscardHandler)
	for _, s := range cfg.Enabled() {
		f, _ := collectors.Lookup(s.Name)
		if _, err := f.New(s.Config, collectors.Settings{Logger: logger, Registerer: rec, StateDir: filepath.Join(dir, "state", s.Name),
			Clock: clock.NewFake(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)), Report: func(collectors.RunResult) {}}); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if f.Probe != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			target := map[string]string{"dnsbl": "192.0.2.10", "domain": "example.test"}[s.Name]
			f.Probe(ctx, s.Config, target, collectors.ProbeSettings{Registerer: rec, Debug: &bytes.Buffer{}, Logger: logger})
			cancel()
		}
	}
	// Exim's panic log metrics need kind exim and a panic log source,
	// which the all-collectors config (a Postfix) has not.
	exim := mtalog.NewConfig()
	exim.Kind = "exim"
	exim.Sources = []mtalog.SourceConfig{{Name: "paniclog", EximLog: mtalog.EximPanicLog, File: &source.FileConfig{Paths: []string{filepath.Join(dir, "paniclog")}}}}
	if err := exim.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := mtalog.New(exim, collectors.Settings{Logger: logger, Registerer: rec, StateDir: filepath.Join(dir, "state", "mta-exim"),
		Clock: clock.NewFake(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)), Report: func(collectors.RunResult) {}}); err != nil {
		t.Fatalf("mta (exim): %v", err)
	}
	all := rec.metrics(t)

	// The agent's own metrics, with their types, from a short run.
	cfgFile := filepath.Join(dir, "mailscope.yml")
	if err := os.WriteFile(cfgFile, []byte(stateConfig(t, dir, srv.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs testlog.Buffer
	var gathered []*dto.MetricFamily
	served := false
	runAgent(t, cfgFile, clock.NewFake(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)), &logs, func(a *agent.Agent) bool {
		if !served {
			// The binary's HTTP server registers its connection metrics
			// on the agent's registry.
			agent.NewServer(a.Handler(agent.HandlerOptions{}), agent.DefaultServerLimits(), a.Registry())
			served = true
		}
		if !ranOnce(a) {
			return false
		}
		gathered = nil
		gs := []prometheus.Gatherer{a.Registry()}
		for _, g := range a.Gatherers() {
			gs = append(gs, g)
		}
		for _, g := range gs {
			mfs, _ := g.Gather()
			gathered = append(gathered, mfs...)
		}
		return true
	})
	for _, mf := range gathered {
		name := mf.GetName()
		if !strings.HasPrefix(name, "mailscope_") {
			continue // go_*, process_*, promhttp_*: documented as a group
		}
		e := all[name]
		e.name, e.typ = name, strings.ToLower(mf.GetType().String())
		if e.help == "" {
			e.help = mf.GetHelp()
		}
		if len(mf.GetMetric()) > 0 && e.labels == nil {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				e.labels = append(e.labels, l.GetName())
			}
		}
		all[name] = e
	}
	return all
}

// documented reads docs/metrics.md's tables: each row's first cell names
// metrics in full (`mailscope_...`), then type, labels and meaning.
func documented(t *testing.T) map[string][]string {
	t.Helper()
	text, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, "| `mailscope_") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		for _, n := range regexp.MustCompile("`(mailscope_[a-z0-9_]+)`").FindAllStringSubmatch(cells[0], -1) {
			rows[n[1]] = cells
		}
	}
	return rows
}

// TestEveryMetricIsDocumented: every metric a mailscope binary can export
// has a row in docs/metrics.md under its full name, with its type, every
// label and a meaning.
func TestEveryMetricIsDocumented(t *testing.T) {
	rows := documented(t)
	all := everyMetric(t)
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) < 50 {
		t.Fatalf("only %d metrics found: the enumeration missed collectors", len(names))
	}
	for _, n := range names {
		e := all[n]
		row, ok := rows[n]
		if !ok {
			t.Errorf("docs/metrics.md has no row for `%s` (labels %v, type %q)", n, e.labels, e.typ)
			continue
		}
		if len(row) < 4 || row[3] == "" {
			t.Errorf("docs/metrics.md: `%s`: want | name | type | labels | meaning |, got %q", n, row)
			continue
		}
		if !slices.Contains([]string{"counter", "gauge", "histogram", "summary"}, row[1]) {
			t.Errorf("docs/metrics.md: `%s`: type %q", n, row[1])
		}
		if e.typ != "" && e.typ != row[1] {
			t.Errorf("docs/metrics.md: `%s` is a %s, documented as %s", n, e.typ, row[1])
		}
		for _, l := range e.labels {
			if !strings.Contains(row[2], "`"+l+"`") {
				t.Errorf("docs/metrics.md: `%s`: label `%s` not documented (labels cell %q)", n, l, row[2])
			}
		}
	}
	for n := range rows {
		if _, ok := all[n]; !ok && !strings.HasPrefix(n, "mailscope_probe_") {
			t.Errorf("docs/metrics.md documents `%s`, which no collector exports", n)
		}
	}
}

// TestEveryCollectorInConfigurationDocs: docs/configuration.md's collector
// list links every registered collector's page, and each page exists.
func TestEveryCollectorInConfigurationDocs(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range collectors.All() {
		m := regexp.MustCompile("(?m)^- `" + regexp.QuoteMeta(f.Name) + "`: \\[[^]]+\\]\\((collectors/[a-z-]+\\.md)\\)").FindStringSubmatch(string(text))
		if m == nil {
			t.Errorf("docs/configuration.md does not link the %s collector's page in its collector list", f.Name)
			continue
		}
		if _, err := os.Stat(filepath.Join("..", "..", "docs", m[1])); err != nil {
			t.Errorf("docs/configuration.md links %s for %s: %v", m[1], f.Name, err)
		}
	}
}
