// Package alerts holds mailscope's Prometheus rules; this test runs the
// real promtool over them.
package alerts

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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

// TestAlertmanagerExampleAvoidsTheMonitoredServer: the example must not
// send alerts as mail through a local MTA (the server the alerts are
// about): neither the global smarthost nor any receiver's.
func TestAlertmanagerExampleAvoidsTheMonitoredServer(t *testing.T) {
	data, err := os.ReadFile("alertmanager.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	var am struct {
		Global struct {
			Smarthost string `yaml:"smtp_smarthost"`
		} `yaml:"global"`
		Receivers []struct {
			Name  string `yaml:"name"`
			Email []struct {
				Smarthost string `yaml:"smarthost"`
			} `yaml:"email_configs"`
		} `yaml:"receivers"`
	}
	if err := yaml.Unmarshal(data, &am); err != nil {
		t.Fatal(err)
	}
	local := func(hostport string) bool {
		host, _, err := net.SplitHostPort(hostport)
		if err != nil {
			host = hostport
		}
		ip := net.ParseIP(host)
		return host == "localhost" || ip != nil && ip.IsLoopback()
	}
	for _, r := range am.Receivers {
		for _, e := range r.Email {
			sh := e.Smarthost
			if sh == "" {
				sh = am.Global.Smarthost
			}
			if sh == "" || local(sh) {
				t.Errorf("receiver %s mails alerts through %q: the monitored server itself", r.Name, sh)
			}
		}
	}
	if am.Global.Smarthost != "" && local(am.Global.Smarthost) {
		t.Errorf("global smtp_smarthost %q is the monitored server", am.Global.Smarthost)
	}
}

// TestRunbookBaseRewrite runs the sed command the rules file documents for
// linking another runbook copy, and checks that the result is valid rules
// whose every runbook_url points at the new base, anchors kept.
func TestRunbookBaseRewrite(t *testing.T) {
	text, err := os.ReadFile("mailscope.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^#\s+(sed '([^']+)') \\\n#\s+alerts/mailscope.rules.yml > \S+$`).FindSubmatch(text)
	if m == nil {
		t.Fatal("the rules file documents no sed command for runbook_url")
	}
	out, err := exec.Command("sed", string(m[2]), "mailscope.rules.yml").Output()
	if err != nil {
		t.Fatalf("%s: %v", m[1], err)
	}
	rewritten := filepath.Join(t.TempDir(), "mailscope.rules.yml")
	if err := os.WriteFile(rewritten, out, 0o600); err != nil {
		t.Fatal(err)
	}
	urls := regexp.MustCompile(`runbook_url: "([^"]*)"`).FindAllStringSubmatch(string(out), -1)
	if len(urls) == 0 {
		t.Fatal("no runbook_url after the rewrite")
	}
	for _, u := range urls {
		if !strings.HasPrefix(u[1], "https://wiki.example.com/mailscope/runbooks#") {
			t.Errorf("runbook_url %q not rewritten", u[1])
		}
	}
	if out, err := exec.Command(promtool(t), "check", "rules", rewritten).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules on the rewritten file: %v\n%s", err, out)
	}
}
