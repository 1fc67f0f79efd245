// Package alerts holds mailscope's Prometheus rules; this test runs the
// real promtool over them.
package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not installed (Debian package prometheus; scripts/test.sh installs it)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	return p
}

func TestRulesCheck(t *testing.T) {
	files, _ := filepath.Glob("*.rules.yml")
	if len(files) == 0 {
		t.Fatal("no rule files")
	}
	out, err := exec.Command(promtool(t), append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

func TestRulesUnitTests(t *testing.T) {
	files, _ := filepath.Glob("*.test.yml")
	if len(files) == 0 {
		t.Fatal("no rule tests")
	}
	out, err := exec.Command(promtool(t), append([]string{"test", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func TestAlertmanagerExample(t *testing.T) {
	promtool(t) // the same package brings amtool
	amtool, err := exec.LookPath("amtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("amtool not installed (Debian package prometheus-alertmanager)")
		}
		t.Skip("amtool not installed (Debian package prometheus-alertmanager)")
	}
	out, err := exec.Command(amtool, "check-config", "alertmanager.example.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
}

// TestEveryAlertHasRunbookAndSeverity keeps the rules consistent: a severity
// from the closed set, and a runbook anchor that exists in docs/runbooks.md.
func TestEveryAlertHasRunbookAndSeverity(t *testing.T) {
	runbooks, err := os.ReadFile(filepath.Join("..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\S+)`).FindAllStringSubmatch(string(runbooks), -1) {
		anchors[strings.ToLower(m[1])] = true
	}
	files, _ := filepath.Glob("*.rules.yml")
	alertRE := regexp.MustCompile(`(?m)^\s+- alert: (\S+)`)
	for _, f := range files {
		text, _ := os.ReadFile(f)
		for _, block := range strings.Split(string(text), "- alert: ")[1:] {
			name := strings.Fields(block)[0]
			if !regexp.MustCompile(`severity: (critical|warning|info)\n`).MatchString(block) {
				t.Errorf("%s: %s has no severity of critical, warning or info", f, name)
			}
			m := regexp.MustCompile(`runbook_url: "[^"]*#([a-z0-9-]+)"`).FindStringSubmatch(block)
			if m == nil || !anchors[m[1]] {
				t.Errorf("%s: %s links no runbook section of docs/runbooks.md", f, name)
			}
		}
		if len(alertRE.FindAllString(string(text), -1)) == 0 {
			t.Errorf("%s has no alerts", f)
		}
	}
}
