package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/mailscope/mailscope/internal/promqlref"
)

// TestJSONIsGenerated keeps the committed JSON equal to what the code
// builds; regenerate with `go run ./dashboards/gen` (make dashboards).
func TestJSONIsGenerated(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		want, err := JSON(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(d.File)
		if err != nil {
			t.Fatalf("%v (run: go run ./dashboards/gen)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go run ./dashboards/gen", d.File)
		}
	}
}

// TestJSONMatchesTheSDKModel reads each committed file back strictly into
// the SDK's dashboard model (as Grafana 10+ would read it).
func TestJSONMatchesTheSDKModel(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	files, _ := filepath.Glob("*.json")
	if len(files) < 3 {
		t.Fatalf("want at least 3 dashboards, have %v", files)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := m["__inputs"]; !ok {
			t.Errorf("%s has no __inputs: Grafana's import would not ask for the data source", f)
		}
		delete(m, "__inputs") // an import-time block, not part of the model
		stripped, _ := json.Marshal(m)
		var d dashboard.Dashboard
		if err := strictErr(d.UnmarshalJSONStrict(stripped)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// strictErr undoes a typed nil: the SDK's UnmarshalJSONStrict returns an
// empty cog.BuildErrors, not nil, when the JSON is fine.
func strictErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

// TestStrictModelRejectsAnUnknownField proves the model check can fail.
func TestStrictModelRejectsAnUnknownField(t *testing.T) {
	var d dashboard.Dashboard
	if strictErr(d.UnmarshalJSONStrict([]byte(`{"title":"x","panelz":[]}`))) == nil {
		t.Error("an unknown top-level field passed the strict model check")
	}
}

// TestPanels checks what a user relies on: every panel has a description
// and a unit where it plots numbers, queries the DS_PROMETHEUS source, and
// every expression parses as PromQL.
func TestPanels(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all {
		if d.Model.Uid == nil || !strings.HasPrefix(*d.Model.Uid, "mailscope-") {
			t.Errorf("%s: uid should start with mailscope-", d.File)
		}
		exprs := Exprs(d)
		// Every panel has at least one query, plus one per query variable:
		// fewer means Exprs missed some and the checks below are hollow.
		if len(exprs) < len(panels(d)) {
			t.Errorf("%s: %d expressions for %d panels", d.File, len(exprs), len(panels(d)))
		}
		for _, e := range exprs {
			if _, err := promqlref.Metrics(e.Expr); err != nil {
				t.Errorf("%s: %v", e.Where, err)
			}
		}
		for _, p := range panels(d) {
			if p.Description == nil || *p.Description == "" {
				t.Errorf("%s: panel %q has no description", d.File, title(p))
			}
			if p.Datasource == nil || p.Datasource.Uid == nil || *p.Datasource.Uid != "${DS_PROMETHEUS}" {
				t.Errorf("%s: panel %q does not query ${DS_PROMETHEUS}", d.File, title(p))
			}
			if p.Type != "table" && (p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == nil) {
				t.Errorf("%s: panel %q has no unit", d.File, title(p))
			}
		}
	}
}
