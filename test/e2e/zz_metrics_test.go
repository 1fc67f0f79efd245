package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/dashboards"
	"github.com/mailscope/mailscope/internal/promqlref"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestZZDashboardsAndRulesUseExportedMetrics runs after the collectors'
// end-to-end tests (Go runs files in name order; this file sorts last) and
// checks that every metric a dashboard panel or an alerting rule uses was
// exported by the real agent in one of their scrapes. It needs every
// collector's test to have run: alone (go test -run), it skips.
func TestZZDashboardsAndRulesUseExportedMetrics(t *testing.T) {
	exported := harness.Scraped()
	for _, family := range []string{"mailscope_build_info", "mailscope_dnsbl_listed", "mailscope_domain_check_ok", "mailscope_mta_deliveries_total"} {
		if !exported[family] {
			if harness.InCI() && !testing.Short() && os.Getenv("E2E_SUBSET") == "" {
				t.Fatalf("no scrape showed %s: the collector end-to-end tests did not run before this one", family)
			}
			t.Skipf("no scrape showed %s: run the whole e2e package to check metric use", family)
		}
	}
	root := harness.ModuleRoot(t)
	var uses []promqlref.Use
	rules, _ := filepath.Glob(filepath.Join(root, "alerts", "*.rules.yml"))
	for _, f := range rules {
		u, err := promqlref.RuleFile(f)
		if err != nil {
			t.Fatal(err)
		}
		uses = append(uses, u...)
	}
	all, err := dashboards.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		uses = append(uses, dashboards.Exprs(d)...)
	}
	recorded, err := promqlref.RecordedNames(rules...)
	if err != nil {
		t.Fatal(err)
	}
	missing, err := promqlref.Missing(uses, exported, recorded)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d uses of metrics the agent did not export in this run:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	t.Logf("%d expressions checked against %d exported metric names", len(uses), len(exported))

	// And every mailscope metric the agent exported is documented, in
	// docs/metrics.md or a collector's page.
	docs := ""
	pages, _ := filepath.Glob(filepath.Join(root, "docs", "collectors", "*.md"))
	for _, p := range append(pages, filepath.Join(root, "docs", "metrics.md")) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		docs += string(b)
	}
	var undocumented []string
	for name := range exported {
		if !strings.HasPrefix(name, "mailscope_") {
			continue
		}
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b := strings.TrimSuffix(name, suffix); b != name && exported[b] {
				base = b
			}
		}
		if !strings.Contains(docs, base) {
			undocumented = append(undocumented, base)
		}
	}
	sort.Strings(undocumented)
	if len(undocumented) > 0 {
		t.Errorf("exported but documented nowhere in docs/:\n%s", strings.Join(undocumented, "\n"))
	}
}
