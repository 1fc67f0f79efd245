package harness

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// A SuiteCheck checks what the whole suite left behind, which no single
// test can: for example, that every metric the dashboards and alerts use
// was exported in some test's scrape. Main runs each check once, after
// every test has ended, so its place does not depend on the order of the
// test files or functions.
type SuiteCheck struct {
	Name string
	// Run returns a line on what it checked, or an error: one wrapping
	// ErrNotChecked when the run did not give it what it needs (Main
	// reports a skip), else what is wrong (Main fails the run).
	Run func(SuiteResults) (summary string, err error)
}

// SuiteResults is what the tests left behind for the suite checks.
type SuiteResults struct {
	// Root is the module root (where go.mod is).
	Root string
	// Scraped holds the metric names seen in every /metrics scrape of the
	// run (see Fetch).
	Scraped map[string]bool
}

// ErrNotChecked, wrapped with the reason, is what a SuiteCheck returns when
// the run did not give it what it needs.
var ErrNotChecked = errors.New("not checked")

// runSuiteChecks runs the checks when the run was the whole suite, writes
// one line per check (and a failure's details) to w, and returns the exit
// code: 1 if a check failed, else 0.
func runSuiteChecks(w io.Writer, whole bool, results SuiteResults, checks []SuiteCheck) int {
	code := 0
	for _, c := range checks {
		if !whole {
			fmt.Fprintf(w, "suite check %s: not run: -run, -skip or -list selected a part of the suite\n", c.Name)
			continue
		}
		summary, err := c.Run(results)
		switch {
		case err == nil:
			fmt.Fprintf(w, "suite check %s: ok: %s\n", c.Name, summary)
		case errors.Is(err, ErrNotChecked):
			fmt.Fprintf(w, "suite check %s: skipped: %v\n", c.Name, err)
		default:
			fmt.Fprintf(w, "suite check %s FAILED:\n%v\n", c.Name, err)
			code = 1
		}
	}
	return code
}

// wholeSuite reports whether the test binary runs every test: no -run,
// -skip or -list flag selects a part of them.
func wholeSuite() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return false
		}
	}
	return true
}
