// Package promqlref finds the metrics that PromQL expressions use, in
// dashboards and alerting rules, so tests can check that each one parses and
// names a metric the agent really exports.
package promqlref

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// grafanaVars stand in for Grafana's template variables, so a dashboard
// query parses as Prometheus will see it.
var grafanaVars = strings.NewReplacer(
	// Longer names first: the replacer tries them in this order.
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range_s", "3600",
	"${__range}", "1h",
	"$__range", "1h",
)

var promql = parser.NewParser(parser.Options{})

// Metrics parses expr and returns the metric names it selects, sorted and
// without duplicates. Grafana variables ($__rate_interval, $instance,
// ${domain:regex} ...) are replaced by values that parse.
func Metrics(expr string) ([]string, error) {
	e, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			if name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == "__name__" {
						name = m.Value
					}
				}
			}
			if name != "" {
				seen[name] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Parse parses a dashboard's expression, Grafana variables replaced as
// Metrics does ($job and the like become ".*").
func Parse(expr string) (parser.Expr, error) {
	return promql.ParseExpr(substitute(expr))
}

// substitute replaces Grafana's built-in and user variables: built-ins by
// durations, user variables ($name, ${name}, ${name:fmt}) by ".*", which is
// valid wherever dashboards use them (inside =~ matchers).
func substitute(expr string) string {
	expr = grafanaVars.Replace(expr)
	var b strings.Builder
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		if j < len(expr) && expr[j] == '{' {
			end := strings.IndexByte(expr[j:], '}')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			i = j + end
		} else {
			for j < len(expr) && (expr[j] == '_' || expr[j] >= 'a' && expr[j] <= 'z' || expr[j] >= 'A' && expr[j] <= 'Z' || expr[j] >= '0' && expr[j] <= '9') {
				j++
			}
			if j == i+1 {
				b.WriteByte(c)
				continue
			}
			i = j - 1
		}
		b.WriteString(".*")
	}
	return b.String()
}

// Use is one expression and where it comes from.
type Use struct {
	Where string // "alerts/mailscope.rules.yml: MailscopeBlocklisted"
	Expr  string
}

// RuleFile reads a Prometheus rule file and returns each rule's expression.
func RuleFile(path string) ([]Use, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert  string `yaml:"alert"`
				Record string `yaml:"record"`
				Expr   string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Use
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, Use{Where: fmt.Sprintf("%s: %s%s", path, r.Alert, r.Record), Expr: r.Expr})
		}
	}
	return out, nil
}

// RecordedNames returns the names that recording rules in the files define,
// which dashboards and alerts may use without the agent exporting them.
func RecordedNames(paths ...string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var f struct {
			Groups []struct {
				Rules []struct {
					Record string `yaml:"record"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					out[r.Record] = true
				}
			}
		}
	}
	return out, nil
}

// Missing returns, for each use, the metrics it needs that are neither
// exported (the names a scrape showed, with histogram suffixes) nor recorded.
func Missing(uses []Use, exported, recorded map[string]bool) ([]string, error) {
	var out []string
	for _, u := range uses {
		names, err := Metrics(u.Expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u.Where, err)
		}
		for _, n := range names {
			if !exported[n] && !recorded[n] {
				out = append(out, fmt.Sprintf("%s uses %s, which the agent does not export", u.Where, n))
			}
		}
	}
	return out, nil
}

// ScrapedNames reads the metric names of a text exposition (what /metrics
// returned): the names in samples, so a histogram counts as its _bucket,
// _sum and _count series.
func ScrapedNames(exposition string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(exposition, "\n") {
		if line == "" || line[0] == '#' {
			if strings.HasPrefix(line, "# TYPE ") {
				// A family with no series yet still exists for queries that
				// need it once it has data: count the declared name.
				if f := strings.Fields(line); len(f) >= 3 {
					out[f[2]] = true
				}
			}
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end > 0 {
			out[line[:end]] = true
		}
	}
	return out
}
