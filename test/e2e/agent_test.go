// Package e2e runs the built mailscope binary against real services:
// Prometheus, Alertmanager, Postfix, Dovecot and DNS servers from Debian's
// packages, each on loopback in a private directory (see harness).
package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

func fetch(t *testing.T, c *http.Client, method, url, user, pass string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPrometheusScrapesWithBasicAuth is the foundation's end-to-end path: a
// real Prometheus scrapes the agent through basic auth, and its API shows
// up == 1 and mailscope_build_info.
func TestPrometheusScrapesWithBasicAuth(t *testing.T) {
	const user, pass = "prometheus", "correct horse battery staple"
	hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	a := harness.StartAgent(t, harness.AgentOptions{
		Config:    "tracing:\n  sample_ratio: 1\n",
		WebConfig: fmt.Sprintf("basic_auth_users:\n  %s: %s\n", user, hash),
	})
	base := "http://" + a.Addr
	if code, _ := fetch(t, nil, "GET", base+"/metrics", user, "wrong password"); code != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401", code)
	}
	if code, _ := fetch(t, nil, "GET", base+"/metrics", "", ""); code != http.StatusUnauthorized {
		t.Errorf("no credentials: status %d, want 401", code)
	}
	if code, body := fetch(t, nil, "GET", base+"/metrics", user, pass); code != 200 || !strings.Contains(body, "mailscope_build_info") {
		t.Fatalf("right password: status %d", code)
	}

	prom := harness.StartPrometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mailscope
    basic_auth: {username: %q, password: %q}
    static_configs:
      - targets: [%q]
`, user, pass, a.Addr))
	testwait.For(t, 60*time.Second, "Prometheus sees up == 1", func() error {
		s, err := prom.Query(`up{job="mailscope"}`)
		if err != nil {
			return err
		}
		if len(s) != 1 || s[0].Value != 1 {
			targets, _ := prom.Targets()
			return fmt.Errorf("up = %v (targets: %v)", s, targets)
		}
		return nil
	})
	testwait.For(t, 30*time.Second, "mailscope_build_info in Prometheus", func() error {
		s, err := prom.Query(`mailscope_build_info{job="mailscope"}`)
		if err != nil {
			return err
		}
		if len(s) != 1 || s[0].Metric["version"] == "" {
			return fmt.Errorf("got %v", s)
		}
		return nil
	})
}

// TestMetricsPassPromtool pipes a scrape of the zero-config agent through
// `promtool check metrics`, which must print nothing.
func TestMetricsPassPromtool(t *testing.T) {
	promtool := harness.RequireBinary(t, "promtool", "prometheus")
	// Zero-config, but never this machine's own Postfix: its domains would
	// send the domain collector to real DNS. An empty instance directory
	// has nothing to propose.
	a := harness.StartAgent(t, harness.AgentOptions{Args: []string{"--postfix.config-dir=" + t.TempDir()}})
	harness.WaitHTTP(t, nil, "http://"+a.Addr+"/-/ready", 200, 30*time.Second)
	_, body := fetch(t, nil, "GET", "http://"+a.Addr+"/metrics", "", "")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !strings.Contains(a.Proc.Output(), "embedded default config") {
		t.Errorf("the agent did not say it used the embedded default config:\n%s", a.Proc.Output())
	}
}

// TestTLSAndClientCertificates serves over TLS with a test CA and then
// requires client certificates, through exporter-toolkit's web config.
func TestTLSAndClientCertificates(t *testing.T) {
	pki := newTestPKI(t)
	a := harness.StartAgent(t, harness.AgentOptions{WebConfig: fmt.Sprintf(`
tls_server_config:
  cert_file: %s
  key_file: %s
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: %s
`, pki.ServerCert, pki.ServerKey, pki.CAFile)})
	url := "https://" + a.Addr + "/metrics"
	withCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{pki.Client}}}}
	testwait.For(t, 20*time.Second, "TLS scrape with a client certificate", func() error {
		resp, err := withCert.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("mailscope_build_info")) {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	noCert := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool}}}
	if resp, err := noCert.Get(url); err == nil {
		resp.Body.Close()
		t.Errorf("a client without a certificate got status %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + a.Addr + "/metrics"); err == nil && resp.StatusCode == 200 {
		resp.Body.Close()
		t.Error("plain HTTP was served on the TLS port")
	}
}

// seriesValue is the value of the first series of an exposition whose
// line matches the regular expression re (the whole series name and
// labels), 0 when none does.
func seriesValue(body, re string) float64 {
	m := regexp.MustCompile(`(?m)^` + re + ` ([0-9.e+]+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func metricValue(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series+" ") {
			return strings.TrimPrefix(line, series+" ")
		}
	}
	return ""
}

// TestSIGHUPReload breaks the config file under a running agent: SIGHUP
// keeps the old config and reports the failure; a fixed file flips back.
func TestSIGHUPReload(t *testing.T) {
	a := harness.StartAgent(t, harness.AgentOptions{Config: "tracing:\n  sample_ratio: 0.5\n"})
	base := "http://" + a.Addr
	reloadOK := func(want string) func() error {
		return func() error {
			_, body := fetch(t, nil, "GET", base+"/metrics", "", "")
			if got := metricValue(body, "mailscope_config_last_reload_successful"); got != want {
				return fmt.Errorf("mailscope_config_last_reload_successful = %q, want %s", got, want)
			}
			return nil
		}
	}
	testwait.For(t, 20*time.Second, "first load", reloadOK("1"))

	a.Rewrite(t, "tracing:\n  sample_ratio: [\n")
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 20*time.Second, "bad reload reported", reloadOK("0"))
	if _, cfg := fetch(t, nil, "GET", base+"/config", "", ""); !strings.Contains(cfg, "sample_ratio: 0.5") {
		t.Errorf("the old config is not running any more:\n%s", cfg)
	}
	if a.Proc.Exited() {
		t.Fatal("the agent exited on a bad reload")
	}

	a.Rewrite(t, "tracing:\n  sample_ratio: 0.25\n")
	if err := a.Proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, 20*time.Second, "good reload reported", reloadOK("1"))
	if _, cfg := fetch(t, nil, "GET", base+"/config", "", ""); !strings.Contains(cfg, "sample_ratio: 0.25") {
		t.Errorf("the new config is not running:\n%s", cfg)
	}
	// POST /-/reload works the same way.
	if code, body := fetch(t, nil, "POST", base+"/-/reload", "", ""); code != 200 {
		t.Errorf("POST /-/reload: %d %s", code, body)
	}
}

// TestBadConfigRefused: check-config prints all three mistakes with key
// paths and exits 1; `run` refuses to start with the same messages.
func TestBadConfigRefused(t *testing.T) {
	bin := harness.Mailscope(t)
	want, err := os.ReadFile("testdata/three-mistakes.err")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"check-config", "--config.file=testdata/three-mistakes.yml"},
		{"--config.file=testdata/three-mistakes.yml", "--web.listen-address=127.0.0.1:0"},
	} {
		cmd := exec.Command(bin, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want 1", args, err)
		}
		// The run command also logs; the problems are its last lines.
		if !strings.HasSuffix(stderr.String(), string(want)) {
			t.Errorf("%v: stderr:\n%s\nwant it to end with:\n%s", args, stderr.String(), want)
		}
	}
	out, err := exec.Command(bin, "check-config", "--config.file=testdata/good.yml").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "testdata/good.yml: OK\n") {
		t.Errorf("good config: %v\n%s", err, out)
	}
}
