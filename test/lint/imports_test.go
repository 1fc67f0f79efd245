package lint

import (
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/mailscope/mailscope"

// importRules checks docs/architecture.md's layout on a package graph
// (import path -> the module packages it imports, both relative to the
// module root) and returns one line per broken rule, sorted:
//   - a collector (collectors/NAME/...) imports no other collector's
//     package; collectors/all, the registry's list, is the exception;
//   - inside a collector, no package imports one of its own ancestors
//     (the MTA collector's children never reach back up to it; every
//     collector imports the contract package collectors/, its parent
//     by path but not by design);
//   - collectors and internal packages never import agent/, cmd/ or
//     exporters/;
//   - internal packages never import collectors.
func importRules(graph map[string][]string) []string {
	var bad []string
	for pkg, imports := range graph {
		for _, imp := range imports {
			if why := importProblem(pkg, imp); why != "" {
				bad = append(bad, pkg+" imports "+imp+": "+why)
			}
		}
	}
	sort.Strings(bad)
	return bad
}

func importProblem(pkg, imp string) string {
	top := func(p string) string { first, _, _ := strings.Cut(p, "/"); return first }
	if (top(pkg) == "collectors" || top(pkg) == "internal") && !strings.HasSuffix(pkg, "_test") {
		switch top(imp) {
		case "agent", "cmd", "exporters":
			return "collectors and internal packages are below the agent"
		}
	}
	if top(pkg) == "internal" && top(imp) == "collectors" {
		return "internal packages serve collectors, never the other way round"
	}
	collector := func(p string) string {
		parts := strings.Split(p, "/")
		if len(parts) < 2 || parts[0] != "collectors" || parts[1] == "all" {
			return ""
		}
		return parts[1]
	}
	c, d := collector(pkg), collector(imp)
	if c != "" && d != "" && c != d {
		return "collectors meet through internal/links, never by importing each other"
	}
	if c != "" && c == d && strings.HasPrefix(pkg, imp+"/") {
		return "a child package must not import its parent"
	}
	return ""
}

// TestImportLayout runs `go list` over the module (tests' imports
// included) and applies importRules.
func TestImportLayout(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	graph := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module+"/")
		seen := map[string]bool{}
		for _, imp := range fields[1:] {
			if rel, ok := strings.CutPrefix(imp, module+"/"); ok && rel != pkg && !seen[rel] {
				seen[rel] = true
				graph[pkg] = append(graph[pkg], rel)
			}
		}
		if _, ok := graph[pkg]; !ok {
			graph[pkg] = nil
		}
	}
	if len(graph) < 20 {
		t.Fatalf("go list found only %d packages", len(graph))
	}
	for _, b := range importRules(graph) {
		t.Error(b)
	}
}

// TestImportRulesCatchEachCase: each rule finds its violation.
func TestImportRulesCatchEachCase(t *testing.T) {
	graph := map[string][]string{
		"collectors/mtalog/pipeline": {"collectors/mtalog", "collectors/mtalog/postfix"},
		"collectors/mtalog":          {"collectors", "collectors/mtalog/pipeline"},
		"collectors/queue":           {"collectors/mtalog/event", "internal/mailclass"},
		"collectors/all":             {"collectors/queue", "collectors/dnsbl"},
		"collectors/dnsbl":           {"agent", "internal/links"},
		"internal/links":             {"collectors"},
		"internal/mailclass":         {"internal/config"},
	}
	got := importRules(graph)
	want := []string{
		"collectors/dnsbl imports agent: collectors and internal packages are below the agent",
		"collectors/mtalog/pipeline imports collectors/mtalog: a child package must not import its parent",
		"collectors/queue imports collectors/mtalog/event: collectors meet through internal/links, never by importing each other",
		"internal/links imports collectors: internal packages serve collectors, never the other way round",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
