package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// dashboardQuery is one PromQL query of a shipped dashboard file: a panel
// target, or a query variable's label_values().
type dashboardQuery struct {
	where string // "delivery.json: Failures by reason"
	expr  string
}

// shippedDashboardQueries reads dashboards/FILE as a user imports it into
// Grafana (not the Go builder that writes it) and returns its panel
// targets, rows' panels included, and its query variables.
func shippedDashboardQueries(t *testing.T, file string) (targets, variables []dashboardQuery) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(harness.ModuleRoot(t), "dashboards", file))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []panel `json:"panels"`
	}
	var d struct {
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					targets = append(targets, dashboardQuery{where: file + ": " + p.Title, expr: tg.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(string); ok && v.Type == "query" && strings.HasPrefix(q, "label_values(") {
			variables = append(variables, dashboardQuery{where: file + ": variable " + v.Name, expr: q})
		}
	}
	return targets, variables
}

// grafanaVar matches a template variable reference: $name or ${name}.
var grafanaVar = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// expandDashboardVars replaces the variables of expr as Grafana does
// before it sends a query: a variable missing from vars fails the test,
// so a dashboard that grows a variable is not checked half-expanded.
func expandDashboardVars(t *testing.T, q dashboardQuery, vars map[string]string) string {
	t.Helper()
	return grafanaVar.ReplaceAllStringFunc(q.expr, func(ref string) string {
		name := grafanaVar.FindStringSubmatch(ref)[1]
		v, ok := vars[name]
		if !ok {
			t.Fatalf("%s: variable $%s has no value in this check: %s", q.where, name, q.expr)
		}
		return v
	})
}

// labelValues turns Grafana's label_values(SELECTOR, LABEL) into the
// PromQL that lists the same values: group by (LABEL) (SELECTOR).
func labelValues(expr string) (query, label string) {
	inner := strings.TrimSuffix(strings.TrimPrefix(expr, "label_values("), ")")
	i := strings.LastIndexByte(inner, ',')
	label = strings.TrimSpace(inner[i+1:])
	return fmt.Sprintf("group by (%s) (%s)", label, inner[:i]), label
}

// mtaDashboardMetric is the first mailscope metric an expression reads,
// which names what an empty answer lacks.
var mtaDashboardMetric = regexp.MustCompile(`mailscope_[a-z_]+`)

// checkMTADashboards runs every query of the shipped Overview and Delivery
// dashboards on a real Prometheus, with the variables set as a user who
// picks job "mailscope" and the given mta would set them, and requires
// each to be valid PromQL and to answer with data; the mta variable's own
// query must offer mta. A query may come back empty only when the metric
// it reads is in noData, with the reason this test run has none of it
// (no TLS sessions in the test, a collector that does not run): so the
// dashboards are shown to work for this MTA unedited, panel by panel.
func checkMTADashboards(t *testing.T, prom *harness.Prometheus, mta string, noData map[string]string) {
	t.Helper()
	vars := map[string]string{
		"job": "mailscope", "instance": ".*", "mta": mta, "provider": ".*",
		"DS_PROMETHEUS": "prometheus",
		// Grafana's $__rate_interval is at least four scrape intervals;
		// a minute covers the whole test at a 1 s scrape.
		"__rate_interval": "1m",
	}
	var targets, variables []dashboardQuery
	for _, f := range []string{"overview.json", "delivery.json"} {
		tg, vs := shippedDashboardQueries(t, f)
		targets, variables = append(targets, tg...), append(variables, vs...)
	}
	if len(targets) < 20 {
		t.Fatalf("only %d panel queries in the Overview and Delivery dashboards", len(targets))
	}
	testwait.For(t, 120*time.Second, "every "+mta+" dashboard panel with data", func() error {
		var problems []string
		empty := map[string]bool{}
		for _, v := range variables {
			if !strings.HasSuffix(v.where, "variable mta") {
				continue
			}
			q, label := labelValues(expandDashboardVars(t, v, vars))
			got, err := prom.Query(q)
			if err != nil {
				return fmt.Errorf("%s: %w", v.where, err)
			}
			offered := false
			for _, s := range got {
				offered = offered || s.Metric[label] == mta
			}
			if !offered {
				problems = append(problems, fmt.Sprintf("%s does not offer %q: %+v", v.where, mta, got))
			}
		}
		for _, q := range targets {
			expr := expandDashboardVars(t, q, vars)
			got, err := prom.Query(expr)
			if err != nil {
				// Invalid PromQL never heals: no point in waiting.
				t.Fatalf("%s: %v", q.where, err)
			}
			if len(got) > 0 {
				continue
			}
			metric := mtaDashboardMetric.FindString(expr)
			empty[metric] = true
			if _, ok := noData[metric]; !ok {
				problems = append(problems, fmt.Sprintf("%s: no data for %s", q.where, expr))
			}
		}
		// The list of what may lack data stays true: an entry whose
		// metric has data in every query is a wrong excuse.
		for metric, why := range noData {
			if !empty[metric] {
				problems = append(problems, fmt.Sprintf("%s has data, yet is listed as having none (%q)", metric, why))
			}
		}
		if len(problems) > 0 {
			return fmt.Errorf("%d of %d queries:\n%s", len(problems), len(targets)+len(variables), strings.Join(problems, "\n"))
		}
		return nil
	})
}
