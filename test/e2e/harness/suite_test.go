package harness

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestRunSuiteChecks(t *testing.T) {
	ran := map[string]bool{}
	check := func(name, summary string, err error) SuiteCheck {
		return SuiteCheck{Name: name, Run: func(r SuiteResults) (string, error) {
			ran[name] = true
			if !r.Scraped["mailscope_build_info"] {
				t.Errorf("%s: the check did not get the scraped names", name)
			}
			return summary, err
		}}
	}
	checks := []SuiteCheck{
		check("passes", "3 things checked", nil),
		check("cannot check", "", fmt.Errorf("%w: no scrape showed x", ErrNotChecked)),
		check("fails", "", errors.New("2 metrics missing:\na\nb")),
	}
	results := SuiteResults{Root: "/nowhere", Scraped: map[string]bool{"mailscope_build_info": true}}

	var out strings.Builder
	if code := runSuiteChecks(&out, true, results, checks); code != 1 {
		t.Errorf("exit code %d with a failed check, want 1", code)
	}
	want := "suite check passes: ok: 3 things checked\n" +
		"suite check cannot check: skipped: not checked: no scrape showed x\n" +
		"suite check fails FAILED:\n2 metrics missing:\na\nb\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
	if len(ran) != 3 {
		t.Errorf("ran %v, want all three checks", ran)
	}

	out.Reset()
	if code := runSuiteChecks(&out, true, results, checks[:2]); code != 0 {
		t.Errorf("exit code %d with a pass and a skip, want 0:\n%s", code, out.String())
	}

	clear(ran)
	out.Reset()
	if code := runSuiteChecks(&out, false, results, checks); code != 0 || len(ran) != 0 {
		t.Errorf("on a part of the suite: exit code %d, ran %v; want 0 and no check run", code, ran)
	}
	if !strings.Contains(out.String(), "suite check fails: not run") {
		t.Errorf("output %q does not say the checks did not run", out.String())
	}
}

// TestFreePortNeverTwice: ports handed out are never handed out again in
// the same process, though each is closed before its service listens.
func TestFreePortNeverTwice(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
	if p := FreePortOn(t, "127.0.0.1"); seen[p] {
		t.Fatalf("FreePortOn handed out %d, which FreePort had", p)
	}
}
