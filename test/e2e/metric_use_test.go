package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/dashboards"
	"github.com/mailscope/mailscope/internal/promqlref"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// metricUse is a step of the suite (TestMain runs it after every test):
// every metric a dashboard panel or an alerting rule uses was exported by
// the real agent in one of the collectors' end-to-end scrapes, and every
// mailscope metric exported is documented. It needs every collector's test
// to have run: on a part of the suite it does not run, and when a
// collector's metrics are missing (its service is not installed) it skips,
// except in CI.
var metricUse = harness.SuiteCheck{Name: "metric use", Run: checkMetricUse}

func checkMetricUse(r harness.SuiteResults) (string, error) {
	exported := r.Scraped
	for _, family := range []string{"mailscope_build_info", "mailscope_dnsbl_listed", "mailscope_domain_check_ok", "mailscope_mta_deliveries_total"} {
		if !exported[family] {
			if harness.InCI() && !testing.Short() && os.Getenv("E2E_SUBSET") == "" {
				return "", fmt.Errorf("no scrape showed %s: the collector end-to-end tests did not run", family)
			}
			return "", fmt.Errorf("%w: no scrape showed %s: run the whole e2e package, with its services installed, to check metric use", harness.ErrNotChecked, family)
		}
	}
	var uses []promqlref.Use
	rules, _ := filepath.Glob(filepath.Join(r.Root, "alerts", "*.rules.yml"))
	for _, f := range rules {
		u, err := promqlref.RuleFile(f)
		if err != nil {
			return "", err
		}
		uses = append(uses, u...)
	}
	all, err := dashboards.All()
	if err != nil {
		return "", err
	}
	for _, d := range all {
		uses = append(uses, dashboards.Exprs(d)...)
	}
	recorded, err := promqlref.RecordedNames(rules...)
	if err != nil {
		return "", err
	}
	missing, err := promqlref.Missing(uses, exported, recorded)
	if err != nil {
		return "", err
	}
	var problems []error
	sort.Strings(missing)
	if len(missing) > 0 {
		problems = append(problems, fmt.Errorf("%d uses of metrics the agent did not export in this run:\n%s", len(missing), strings.Join(missing, "\n")))
	}

	// And every mailscope metric the agent exported is documented, in
	// docs/metrics.md or a collector's page.
	docs := ""
	pages, _ := filepath.Glob(filepath.Join(r.Root, "docs", "collectors", "*.md"))
	for _, p := range append(pages, filepath.Join(r.Root, "docs", "metrics.md")) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
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
		problems = append(problems, fmt.Errorf("exported but documented nowhere in docs/:\n%s", strings.Join(undocumented, "\n")))
	}
	if len(problems) > 0 {
		return "", errors.Join(problems...)
	}
	return fmt.Sprintf("%d expressions checked against %d exported metric names", len(uses), len(exported)), nil
}

// TestMetricUseCheckFails feeds the metric-use step a run that scraped
// only the four metric families it looks for first: the dashboards' and
// rules' other metrics are reported missing. Without them, it does not
// check (outside CI).
func TestMetricUseCheckFails(t *testing.T) {
	root := harness.ModuleRoot(t)
	scraped := map[string]bool{"mailscope_build_info": true, "mailscope_dnsbl_listed": true, "mailscope_domain_check_ok": true, "mailscope_mta_deliveries_total": true}
	_, err := checkMetricUse(harness.SuiteResults{Root: root, Scraped: scraped})
	if err == nil || errors.Is(err, harness.ErrNotChecked) || !strings.Contains(err.Error(), "did not export") {
		t.Errorf("err %v, want uses of metrics not exported", err)
	}
	if harness.InCI() {
		return
	}
	delete(scraped, "mailscope_dnsbl_listed")
	if _, err := checkMetricUse(harness.SuiteResults{Root: root, Scraped: scraped}); !errors.Is(err, harness.ErrNotChecked) {
		t.Errorf("err %v without the dnsbl metrics, want ErrNotChecked", err)
	}
}
