package promqlref

import (
	"reflect"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	cases := map[string][]string{
		`sum by (zone) (rate(mailscope_dnsbl_lookup_errors_total{instance=~"$instance"}[$__rate_interval]))`: {"mailscope_dnsbl_lookup_errors_total"},
		`(mailscope_dnsbl_listed == 1) * on (zone) group_left (weight) mailscope_dnsbl_zone_info`:            {"mailscope_dnsbl_listed", "mailscope_dnsbl_zone_info"},
		`histogram_quantile(0.9, sum by (le) (rate(x_bucket{domain=~"${domain:regex}"}[5m])))`:               {"x_bucket"},
		`{__name__="up"} == 0 and time() - y > $__range_s`:                                                   {"up", "y"},
		`sum(x) / sum(x)`: {"x"},
	}
	for expr, want := range cases {
		got, err := Metrics(expr)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Metrics(%q) = %v, %v; want %v", expr, got, err, want)
		}
	}
	if _, err := Metrics(`sum(rate(x[5m])`); err == nil {
		t.Error("an unbalanced expression parsed")
	}
}

// TestMissingCatchesAWrongName proves the existence check fails on a
// metric the agent does not export.
func TestMissingCatchesAWrongName(t *testing.T) {
	scrape := "# HELP mailscope_dnsbl_listed x\n# TYPE mailscope_dnsbl_listed gauge\nmailscope_dnsbl_listed{zone=\"a\"} 1\n" +
		"# TYPE mailscope_seed_delivery_seconds histogram\nmailscope_seed_delivery_seconds_bucket{le=\"1\"} 0\n"
	exported := ScrapedNames(scrape)
	uses := []Use{
		{Where: "ok", Expr: `max(mailscope_dnsbl_listed)`},
		{Where: "histogram", Expr: `histogram_quantile(0.5, rate(mailscope_seed_delivery_seconds_bucket[5m]))`},
		{Where: "recorded", Expr: `mailscope:dnsbl_listed:max`},
		{Where: "typo", Expr: `max(mailscope_dnsbl_listted)`},
	}
	missing, err := Missing(uses, exported, map[string]bool{"mailscope:dnsbl_listed:max": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) != 1 || !strings.Contains(missing[0], "typo uses mailscope_dnsbl_listted") {
		t.Errorf("missing = %v", missing)
	}
}

func TestRuleFile(t *testing.T) {
	uses, err := RuleFile("../../alerts/mailscope.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(uses) == 0 {
		t.Fatal("no rules read")
	}
	for _, u := range uses {
		if _, err := Metrics(u.Expr); err != nil {
			t.Errorf("%s: %v", u.Where, err)
		}
	}
}
