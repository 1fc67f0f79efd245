package dashboards

import (
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/mailscope/mailscope/internal/promqlref"
)

// panelNamed returns the panel titled name of the dashboard in file.
func panelNamed(t *testing.T, file, name string) dashboard.Panel {
	t.Helper()
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if d.File != file {
			continue
		}
		for _, p := range panels(d) {
			if title(p) == name {
				return p
			}
		}
	}
	t.Fatalf("%s has no panel %q", file, name)
	return dashboard.Panel{}
}

// colorAt is the colour Grafana gives value v under the panel's absolute
// thresholds: the last step whose value is at most v (the first step,
// without a value, is the base).
func colorAt(t *testing.T, p dashboard.Panel, v float64) string {
	t.Helper()
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
		t.Fatalf("panel %q has no thresholds", title(p))
	}
	color := ""
	for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value == nil || *s.Value <= v {
			color = s.Color
		}
	}
	return color
}

// TestExpiredCertificateIsRed: the expiry panel counts days left, which go
// negative once the certificate expired; that must be red, not the base
// green a "higher is worse" threshold list starts with.
func TestExpiredCertificateIsRed(t *testing.T) {
	p := panelNamed(t, "overview.json", "First certificate expiry")
	for v, want := range map[float64]string{-30: "red", -0.5: "red", 3: "red", 10: "orange", 90: "green"} {
		if got := colorAt(t, p, v); got != want {
			t.Errorf("%v days: %s, want %s", v, got, want)
		}
	}
	dkim := panelNamed(t, "reputation.json", "Smallest DKIM key")
	if got := colorAt(t, dkim, 512); got != "red" {
		t.Errorf("a 512-bit DKIM key: %s, want red", got)
	}
}

// TestNoRecordingRuleNeeded: every panel reads the exported metrics
// themselves, so a Prometheus without alerts/mailscope.rules.yml (the
// recording rules are named with colons) shows every panel.
func TestNoRecordingRuleNeeded(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		for _, e := range Exprs(d) {
			names, err := promqlref.Metrics(e.Expr)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				if strings.Contains(n, ":") {
					t.Errorf("%s reads the recording rule %s: empty without the rules", e.Where, n)
				}
			}
		}
	}
}

// TestSuccessRateCountsOutcomes: the success rate's denominator selects
// final outcomes only; a deferred attempt is retried and must not count.
func TestSuccessRateCountsOutcomes(t *testing.T) {
	p := panelNamed(t, "delivery.json", "Success rate by provider")
	for _, use := range Exprs(Dashboard{File: "delivery.json", Model: dashboard.Dashboard{Panels: []dashboard.PanelOrRowPanel{{Panel: &p}}}}) {
		e, err := promqlref.Parse(use.Expr)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			be, ok := n.(*parser.BinaryExpr)
			if !ok || be.Op != parser.DIV {
				return nil
			}
			found = true
			for status, want := range map[string]bool{"sent": true, "bounced": true, "expired": true, "deferred": false} {
				if got := selects(be.RHS, "status", status); got != want {
					t.Errorf("denominator selects status=%s: %v, want %v (%s)", status, got, want, be.RHS)
				}
			}
			return nil
		})
		if !found {
			t.Fatalf("no division in %s", use.Expr)
		}
	}
}

// selects reports whether every vector selector under n admits label=value.
func selects(n parser.Node, label, value string) bool {
	ok := true
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if vs, is := n.(*parser.VectorSelector); is {
			for _, m := range vs.LabelMatchers {
				if m.Name == label && !m.Matches(value) {
					ok = false
				}
			}
		}
		return nil
	})
	return ok
}

// TestJobVariable: every dashboard has a job variable, and every selector
// of every panel and of the instance variable filters on it.
func TestJobVariable(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		hasJob := false
		for _, v := range d.Model.Templating.List {
			hasJob = hasJob || v.Name == "job"
		}
		if !hasJob {
			t.Errorf("%s has no job variable", d.File)
		}
		for _, use := range Exprs(d) {
			if strings.HasSuffix(use.Where, "variable job") {
				continue
			}
			e, err := promqlref.Parse(use.Expr)
			if err != nil {
				t.Fatal(err)
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				if vs, ok := n.(*parser.VectorSelector); ok && !strings.Contains(vs.String(), "job=~") {
					t.Errorf("%s: %s does not filter on $job", use.Where, vs)
				}
				return nil
			})
		}
	}
}
