package lint

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestNoTestQueriesARealResolver fails when any test of the module could
// reach a real blocklist or resolver through the defaults. They are for
// production: NewConfig() asks the system's resolver (/etc/resolv.conf:
// 10.255.255.53 on these machines, not loopback) about public catalog
// zones (zen.spamhaus.org, ...), and so do the agent's /probe?module=dnsbl
// when its dnsbl section is off, `mailscope probe dnsbl` without
// --resolver, and a dnsx.Config without Servers. A test that forgets the
// override queries Spamhaus through a real resolver and may well pass. No
// hook in the production code can catch that at run time, so this reads
// every test file of the module and requires the override wherever a
// default could leak.
func TestNoTestQueriesARealResolver(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	self, err := filepath.Abs("offline_test.go")
	if err != nil {
		t.Fatal(err)
	}
	problems, files, err := offlineModuleProblems(root, self)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	// The walk itself must have seen the tests it guards.
	if files < 10 {
		t.Fatalf("read only %d test files under %s", files, root)
	}
}

// offlineModuleProblems reads every test file of the module at root
// (except skip, and what hides in dot directories, testdata, vendor and
// node_modules) and returns their offlineProblems, and how many files it
// read.
func offlineModuleProblems(root, skip string) (problems []string, files int, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		// This file's fixtures break every rule on purpose.
		if !strings.HasSuffix(path, "_test.go") || path == skip {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files++
		problems = append(problems, offlineProblems(rel, src)...)
		return nil
	})
	return problems, files, err
}

// TestOfflineModuleProblemsWalksTheTests runs the walk on a module made for
// it: the one leak in a test file is found, and what the walk leaves out
// (non-test files, testdata, dot directories, the file that holds the
// fixtures) is not read.
func TestOfflineModuleProblemsWalksTheTests(t *testing.T) {
	root := t.TempDir()
	leak := "package dnsbl\nfunc TestX(t *testing.T) { c := NewConfig(); New(c, s) }\n"
	for path, src := range map[string]string{
		"go.mod":                              "module example.test\n",
		"collectors/dnsbl/leak_test.go":       leak,
		"collectors/dnsbl/fine_test.go":       "package dnsbl\nfunc TestY(t *testing.T) { c := NewConfig(); c.Resolver = srv.Addr }\n",
		"collectors/dnsbl/leak.go":            leak,
		"collectors/dnsbl/testdata/x_test.go": leak,
		".git/x_test.go":                      leak,
		"lint/fixtures_test.go":               leak,
	} {
		full := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	problems, files, err := offlineModuleProblems(root, filepath.Join(root, "lint", "fixtures_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 {
		t.Errorf("read %d test files, want 2 (leak_test.go, fine_test.go)", files)
	}
	want := filepath.Join("collectors", "dnsbl", "leak_test.go") + ":2:"
	if len(problems) != 1 || !strings.HasPrefix(problems[0], want) || !strings.Contains(problems[0], "NewConfig() without setting Resolver") {
		t.Errorf("problems %q, want one at %s about NewConfig() without a Resolver", problems, want)
	}
}

func TestOfflineProblemsCatchesEachLeak(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string // substrings, one per expected problem
	}{
		{"NewConfig without a resolver", `package dnsbl
func TestX(t *testing.T) { c := NewConfig(); c.Targets.IPs = []string{"192.0.2.1"}; New(c, s) }`,
			[]string{"NewConfig() without setting Resolver"}},
		{"NewConfig with a public resolver", `package dnsbl
func TestX(t *testing.T) { c := NewConfig(); c.Resolver = "8.8.8.8:53" }`,
			[]string{`Resolver = "8.8.8.8:53"`}},
		{"dnsbl.NewConfig elsewhere", `package agent
func TestX(t *testing.T) { c := dnsbl.NewConfig(); _ = c }`,
			[]string{"NewConfig() without setting Resolver"}},
		{"OnDemandConfig with the system resolver", `package main
func TestX(t *testing.T) { dnsbl.OnDemandConfig("", nil, "", 0) }`,
			[]string{"OnDemandConfig"}},
		{"dnsx.Config without Servers", `package domain
func TestX(t *testing.T) { dnsx.New(dnsx.Config{Timeout: time.Second}) }`,
			[]string{"dnsx.Config without Servers"}},
		{"CLI without --resolver", `package main
func TestX(t *testing.T) { run([]string{"probe", "dnsbl", "192.0.2.1"}, &o, &e) }`,
			[]string{"probe dnsbl without --resolver"}},
		{"CLI with a public resolver", `package main
func TestX(t *testing.T) { run([]string{"probe", "dnsbl", "--resolver=1.1.1.1", "192.0.2.1"}, &o, &e) }`,
			[]string{`"--resolver=1.1.1.1"`}},
		{"CLI wrapper called without --resolver", `package main
func runProbe(t *testing.T, args ...string) int { return run(append([]string{"probe", "dnsbl"}, args...), &o, &e) }
func TestX(t *testing.T) { runProbe(t, "--resolver="+addr, "192.0.2.1"); runProbe(t, "--zone=bl.test", "192.0.2.1") }`,
			[]string{"runProbe(...) without --resolver"}},
		{"agent config without a resolver", "package e2e\nvar cfg = `\ndnsbl:\n  targets:\n    ips: [192.0.2.10]\n`",
			[]string{"dnsbl: section without a loopback resolver"}},
		{"agent config with a public resolver", "package e2e\nvar cfg = `\ndnsbl:\n  resolver: 9.9.9.9\n`",
			[]string{"dnsbl: section without a loopback resolver"}},
		{"probe of an agent whose dnsbl section is off", `package e2e
import "github.com/mailscope/mailscope/test/e2e/harness"
func TestX(t *testing.T) { harness.Get(t, base+"/probe?module=dnsbl&target=192.0.2.10") }`,
			[]string{"/probe?module=dnsbl"}},
		{"overridden everywhere", "package e2e\n" + `import "github.com/mailscope/mailscope/test/e2e/harness"
func TestX(t *testing.T) {
	c := NewConfig()
	c.Resolver = srv.Addr
	dnsx.New(dnsx.Config{Servers: []string{srv.Addr}})
	exec.Command(bin, "probe", "dnsbl", "--resolver="+addr, "192.0.2.1")
	exec.Command(bin, "probe", "dnsbl", "--resolver", "[::1]:5353", "192.0.2.1")
	harness.Get(t, base+"/probe?module=dnsbl&target=192.0.2.10")
}
var cfg = ` + "`\ndnsbl:\n  resolver: 127.0.0.1:%d\n`", nil},
		{"a fake probe module needs no resolver", `package prom
func TestX(t *testing.T) { serve("/probe?module=dnsbl&target=192.0.2.1", nil) }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := offlineProblems("x_test.go", []byte(tc.src))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d: %q", len(got), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("problem %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

// offlineProblems returns each place in one test file where a default
// resolver or a non-loopback one could be queried.
func offlineProblems(name string, src []byte) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	report := func(n ast.Node, format string, args ...any) {
		out = append(out, fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, args...))
	}
	// isFunc matches pkg.name, or name alone inside package pkg.
	isFunc := func(e ast.Expr, pkg, name string) bool {
		switch e := e.(type) {
		case *ast.Ident:
			return f.Name.Name == pkg && e.Name == name
		case *ast.SelectorExpr:
			x, ok := e.X.(*ast.Ident)
			return ok && x.Name == pkg && e.Sel.Name == name
		}
		return false
	}

	// Functions that run the CLI's `probe dnsbl` with their callers'
	// arguments: their callers must pass --resolver.
	wrappers := map[string]bool{}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		var newConfig ast.Node
		// Literal resolvers matter only next to NewConfig: elsewhere (a
		// table of invalid configs) they are there to be refused.
		var literals []ast.Node
		var literalValues []string
		resolverSet := false
		// bare are CLI runs without --resolver; in a function that forwards
		// its arguments (args...), its callers must pass it instead.
		var bare []ast.Node
		forwards := false
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch {
				case isFunc(n.Fun, "dnsbl", "NewConfig"):
					newConfig = n
				case isFunc(n.Fun, "dnsbl", "OnDemandConfig") && len(n.Args) > 0:
					if s, ok := stringLit(n.Args[0]); !ok || !loopbackHostPort(s) {
						report(n, "OnDemandConfig's resolver must be a loopback server the test started")
					}
				}
				if args := n.Args; runsProbeCLI(args) && !carriesResolver(args, func(s string) { report(n, "%q: the CLI's resolver must be on loopback", s) }) {
					bare = append(bare, n)
				}
				if n.Ellipsis.IsValid() {
					forwards = true
				}
			case *ast.CompositeLit:
				if isFunc(n.Type, "dnsx", "Config") && !slices.ContainsFunc(n.Elts, func(e ast.Expr) bool {
					kv, ok := e.(*ast.KeyValueExpr)
					if !ok {
						return false
					}
					id, ok := kv.Key.(*ast.Ident)
					return ok && id.Name == "Servers"
				}) {
					report(n, "dnsx.Config without Servers asks the system's resolver: set Servers to a loopback server the test started")
				}
				if runsProbeCLI(n.Elts) && !carriesResolver(n.Elts, func(s string) { report(n, "%q: the CLI's resolver must be on loopback", s) }) {
					bare = append(bare, n)
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if sel, ok := l.(*ast.SelectorExpr); ok && sel.Sel.Name == "Resolver" && i < len(n.Rhs) {
						resolverSet = true
						if s, ok := stringLit(n.Rhs[i]); ok && !loopbackHostPort(s) {
							literals = append(literals, n)
							literalValues = append(literalValues, s)
						}
					}
				}
			}
			return true
		})
		if newConfig != nil && !resolverSet {
			report(newConfig, "NewConfig() without setting Resolver: the defaults ask the system's resolver about public blocklists")
		}
		for _, n := range bare {
			if forwards {
				wrappers[fn.Name.Name] = true
			} else {
				report(n, "probe dnsbl without --resolver runs the CLI with the system's resolver")
			}
		}
		for i, n := range literals {
			if newConfig != nil {
				report(n, "Resolver = %q after NewConfig(): a test's resolver must be a loopback server it started", literalValues[i])
			}
		}
	}
	names := make([]string, 0, len(wrappers))
	for name := range wrappers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ast.Inspect(f, func(n ast.Node) bool {
			if c, ok := n.(*ast.CallExpr); ok {
				if id, ok := c.Fun.(*ast.Ident); ok && id.Name == name && !carriesResolver(c.Args, func(string) {}) {
					report(c, "%s(...) without --resolver runs probe dnsbl with the system's resolver", name)
				}
			}
			return true
		})
	}

	// Agent configs in string literals, and the agent's /probe.
	hasSection := false
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			return true
		}
		if dnsblSection.MatchString(s) {
			hasSection = true
			if !yamlLoopbackResolver(s) {
				report(lit, "dnsbl: section without a loopback resolver: the agent would ask the system's resolver")
			}
		}
		return true
	})
	startsAgent := f.Name.Name == "agent" || slices.ContainsFunc(f.Imports, func(i *ast.ImportSpec) bool {
		return strings.Contains(i.Path.Value, "/test/e2e/harness") || strings.HasSuffix(i.Path.Value, "/mailscope/agent\"")
	})
	if startsAgent && !hasSection {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && strings.Contains(lit.Value, "module=dnsbl") {
				report(lit, "/probe?module=dnsbl on an agent with no dnsbl: section runs the defaults (system resolver, public zones)")
			}
			return true
		})
	}
	return out
}

var (
	dnsblSection = regexp.MustCompile(`(?m)^\s*dnsbl:\s*$`)
	yamlResolver = regexp.MustCompile(`(?m)^\s+resolver:\s*(\S+)`)
)

// yamlLoopbackResolver reports whether a config has a resolver, and every
// resolver in it is a loopback address or a format verb (filled with the
// address of a server the test started).
func yamlLoopbackResolver(s string) bool {
	ms := yamlResolver.FindAllStringSubmatch(s, -1)
	for _, m := range ms {
		if !strings.HasPrefix(m[1], "%") && !loopbackHostPort(strings.ReplaceAll(m[1], "%d", "53")) {
			return false
		}
	}
	return len(ms) > 0
}

// runsProbeCLI reports whether the arguments hold "probe", "dnsbl".
func runsProbeCLI(args []ast.Expr) bool {
	for i := 0; i+1 < len(args); i++ {
		a, _ := stringLit(args[i])
		b, _ := stringLit(args[i+1])
		if a == "probe" && b == "dnsbl" {
			return true
		}
	}
	return false
}

// carriesResolver reports whether the arguments set --resolver, as
// "--resolver=ADDR", "--resolver="+addr or "--resolver", ADDR; a literal
// address off loopback goes to bad.
func carriesResolver(args []ast.Expr, bad func(string)) bool {
	for i, a := range args {
		if b, ok := a.(*ast.BinaryExpr); ok && b.Op == token.ADD {
			if s, ok := stringLit(b.X); ok && s == "--resolver=" {
				return true
			}
		}
		s, ok := stringLit(a)
		switch {
		case !ok:
		case strings.HasPrefix(s, "--resolver="):
			if !loopbackHostPort(strings.TrimPrefix(s, "--resolver=")) {
				bad(s)
			}
			return true
		case s == "--resolver" && i+1 < len(args):
			if v, ok := stringLit(args[i+1]); ok && !loopbackHostPort(v) {
				bad(s + " " + v)
			}
			return true
		}
	}
	return false
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// loopbackHostPort reports whether s (host:port or an address) is on
// loopback.
func loopbackHostPort(s string) bool {
	host := s
	if h, _, err := net.SplitHostPort(s); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}
