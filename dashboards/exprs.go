package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"

	"github.com/mailscope/mailscope/internal/promqlref"
)

// panels returns the dashboard's panels, rows' children included.
func panels(d Dashboard) []dashboard.Panel {
	var out []dashboard.Panel
	for _, pr := range d.Model.Panels {
		if pr.Panel != nil {
			out = append(out, *pr.Panel)
		}
		if pr.RowPanel != nil {
			out = append(out, pr.RowPanel.Panels...)
		}
	}
	return out
}

// Exprs returns every PromQL expression of a dashboard (panel targets and
// query variables), with where it is, for the parse and metric-existence
// checks.
func Exprs(d Dashboard) []promqlref.Use {
	var out []promqlref.Use
	for _, p := range panels(d) {
		for _, t := range p.Targets {
			switch pq := t.(type) {
			case prometheus.Dataquery:
				out = append(out, promqlref.Use{Where: d.File + ": " + title(p), Expr: pq.Expr})
			case *prometheus.Dataquery:
				out = append(out, promqlref.Use{Where: d.File + ": " + title(p), Expr: pq.Expr})
			}
		}
	}
	for _, v := range d.Model.Templating.List {
		if v.Type == "query" && v.Query != nil && v.Query.String != nil {
			// label_values(metric, label) names a metric too.
			out = append(out, promqlref.Use{Where: d.File + ": variable " + v.Name, Expr: labelValuesMetric(*v.Query.String)})
		}
	}
	return out
}

// labelValuesMetric turns Grafana's label_values(selector, label) into the
// selector, which is PromQL.
func labelValuesMetric(q string) string {
	const prefix = "label_values("
	if len(q) > len(prefix) && q[:len(prefix)] == prefix {
		inner := q[len(prefix) : len(q)-1]
		for i := len(inner) - 1; i >= 0; i-- {
			if inner[i] == ',' {
				return inner[:i]
			}
		}
		return inner
	}
	return q
}

func title(p dashboard.Panel) string {
	if p.Title == nil {
		return "(untitled)"
	}
	return *p.Title
}
