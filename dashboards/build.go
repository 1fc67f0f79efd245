// Package dashboards builds mailscope's Grafana dashboards as code, with
// the Grafana Foundation SDK. `go run ./dashboards/gen` writes them as JSON
// next to this file; a test keeps the JSON in step with the code, checks it
// against the SDK's dashboard model, and parses every PromQL expression.
//
// Every dashboard takes its Prometheus data source from the DS_PROMETHEUS
// variable (chosen on import) and filters by the job, instance, mta, domain and
// provider variables where they apply. Thresholds match alerts/*.rules.yml.
package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Tag marks every mailscope dashboard; the dashboards link to each other
// through it.
const Tag = "mailscope"

// datasource is the DS_PROMETHEUS variable every panel queries.
func datasource() common.DataSourceRef {
	typ, uid := "prometheus", "${DS_PROMETHEUS}"
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// Dashboard is one generated dashboard and its file name.
type Dashboard struct {
	File  string
	Model dashboard.Dashboard
}

// All builds every dashboard.
func All() ([]Dashboard, error) {
	builders := []struct {
		file string
		b    *dashboard.DashboardBuilder
	}{
		{"overview.json", overview()},
		{"delivery.json", delivery()},
		{"reputation.json", reputation()},
		{"placement.json", placement()},
		{"receivers.json", receivers()},
	}
	out := make([]Dashboard, 0, len(builders))
	for _, x := range builders {
		d, err := x.b.Build()
		if err != nil {
			return nil, err
		}
		out = append(out, Dashboard{File: x.file, Model: d})
	}
	return out, nil
}

// base starts a dashboard with the shared settings, variables and links.
func base(uid, title, description string, vars ...string) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{Tag}).
		Editable().
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		Link(dashboard.NewDashboardLinkBuilder("mailscope").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{Tag}).
			AsDropdown(false).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("DS_PROMETHEUS").
			Label("Prometheus").
			Type("prometheus"))
	// job first: a Prometheus that scrapes several fleets (or the agent
	// and /probe under two jobs) keeps them apart.
	b = b.WithVariable(queryVar("job", "Job", "label_values(mailscope_build_info, job)"))
	b = b.WithVariable(queryVar("instance", "Instance", `label_values(mailscope_build_info{job=~"$job"}, instance)`))
	for _, v := range vars {
		switch v {
		case "mta":
			b = b.WithVariable(queryVar("mta", "MTA", "label_values(mailscope_mta_log_lines_total{"+inst+"}, mta)"))
		case "provider":
			b = b.WithVariable(queryVar("provider", "Provider", "label_values(mailscope_mta_deliveries_total{"+inst+"}, provider)"))
		case "seedprovider":
			b = b.WithVariable(queryVar("provider", "Provider", "label_values(mailscope_seed_placement_total{"+inst+"}, provider)"))
		case "reportdomain":
			b = b.WithVariable(queryVar("domain", "Domain", "label_values(mailscope_dmarc_messages_total{"+inst+"}, domain)"))
		case "domain":
			b = b.WithVariable(queryVar("domain", "Domain", "label_values(mailscope_domain_check_ok{"+inst+"}, domain)"))
		}
	}
	return b
}

func queryVar(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Datasource(datasource()).
		Query(dashboard.StringOrMap{String: &query}).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Multi(true).
		IncludeAll(true).
		AllValue(".*").
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

// query is one PromQL target; legend may be empty.
type query struct {
	expr, legend string
	instant      bool
}

func q(expr, legend string) query { return query{expr: expr, legend: legend} }

func instant(expr, legend string) query { return query{expr: expr, legend: legend, instant: true} }

func targets(qs []query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	refs := "ABCDEFGHIJ"
	for i, x := range qs {
		t := prometheus.NewDataqueryBuilder().Expr(x.expr).RefId(refs[i : i+1]).Datasource(datasource())
		if x.legend != "" {
			t = t.LegendFormat(x.legend)
		}
		if x.instant {
			t = t.Instant().Format(prometheus.PromQueryFormatTable)
		}
		out = append(out, t)
	}
	return out
}

// steps builds absolute thresholds: green below the first value, then the
// given colours from each value up.
func steps(levels ...any) *dashboard.ThresholdsConfigBuilder {
	return stepsFrom("green", levels...)
}

// stepsFrom builds absolute thresholds with base below the first value,
// for panels where low is bad (days left, key bits): everything below the
// first level, negative values included, gets base.
func stepsFrom(base string, levels ...any) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(levels); i += 2 {
		v := toFloat(levels[i])
		s = append(s, dashboard.Threshold{Value: &v, Color: levels[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic("threshold value must be a number")
}

// graph is a time series panel.
func graph(title, description, unit string, span uint32, qs ...query) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(span).
		Height(8).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
		Targets(targets(qs))
}

// single is a stat panel of the last value.
func single(title, description, unit string, span uint32, th *dashboard.ThresholdsConfigBuilder, qs ...query) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Span(span).
		Height(4).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Targets(targets(qs))
	if th != nil {
		p = p.Thresholds(th)
	}
	return p
}

// list is a table of instant query results.
func list(title, description string, span uint32, th *dashboard.ThresholdsConfigBuilder, qs ...query) *table.PanelBuilder {
	p := table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Span(span).
		Height(8).
		// The SDK leaves the footer's reducer null, which its own strict
		// model (and Grafana's schema) refuses.
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"})).
		Targets(targets(qs))
	if th != nil {
		p = p.Thresholds(th)
	}
	return p
}
