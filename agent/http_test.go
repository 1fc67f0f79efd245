package agent

import (
	"bytes"
	"fmt"
	"github.com/mailscope/mailscope/internal/testlog"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, url string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, url, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestMetricsEndpointAndFilters(t *testing.T) {
	r := startAgent(t, "testtick:\n  interval: 1m\ntestcrash:\n  fail_new: true\n")
	waitFor(t, "first run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	h := r.a.Handler(HandlerOptions{TelemetryPath: "/metrics"})

	code, body := get(t, h, "GET", "/metrics")
	for _, want := range []string{
		`mailscope_build_info{`, `mailscope_collector_up{collector="testtick"} 1`, `mailscope_collector_up{collector="testcrash"} 0`,
		`mailscope_collector_errors_total{collector="testcrash"} 1`, `mailscope_testtick_runs_total 1`,
		`mailscope_config_last_reload_successful 1`, `mailscope_collector_duration_seconds{collector="testtick"}`,
		`go_goroutines`, `process_cpu_seconds_total`,
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
	_, body = get(t, h, "GET", "/metrics?exclude[]=testtick")
	if strings.Contains(body, "mailscope_testtick_runs_total") || !strings.Contains(body, "mailscope_build_info") {
		t.Error("exclude[]=testtick still serves its metrics, or dropped the agent's own")
	}
	_, body = get(t, h, "GET", "/metrics?collect[]=testtick")
	if !strings.Contains(body, "mailscope_testtick_runs_total") {
		t.Error("collect[]=testtick lost its metrics")
	}
	code, body = get(t, h, "GET", "/metrics?collect[]=nope")
	if code != 400 || !strings.Contains(body, `collect[]: collector "nope" is not running (running: testcrash, testtick)`) {
		t.Errorf("unknown collector: %d %q", code, body)
	}
	code, _ = get(t, h, "GET", "/metrics?collect[]=testtick&exclude[]=testcrash")
	if code != 400 {
		t.Errorf("collect[] with exclude[]: %d", code)
	}
}

func TestLifecycleEndpoints(t *testing.T) {
	r := startAgent(t, "testtick:\n")
	h := r.a.Handler(HandlerOptions{})
	if code, body := get(t, h, "GET", "/-/healthy"); code != 200 || body != "Healthy\n" {
		t.Errorf("healthy: %d %q", code, body)
	}
	if code, _ := get(t, h, "GET", "/-/ready"); code != 200 {
		t.Errorf("ready: %d", code)
	}
	if code, _ := get(t, h, "GET", "/-/reload"); code != 405 {
		t.Errorf("GET /-/reload: %d, want 405", code)
	}
	if code, body := get(t, h, "POST", "/-/reload"); code != 200 || body != "Config reloaded\n" {
		t.Errorf("POST /-/reload: %d %q", code, body)
	}
	r.rewrite(t, "testtick:\n  interval: 1\n")
	code, body := get(t, h, "POST", "/-/reload")
	if code != 500 || !strings.Contains(body, "testtick.interval: want a duration such as 30s, 5m or 1h, got integer \"1\"") {
		t.Errorf("bad reload: %d %q", code, body)
	}
	if code, _ := get(t, h, "GET", "/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}
}

// TestSecretsNeverLeak runs an agent with secrets from a file and from the
// environment, then looks for them in /config, /metrics, the status page,
// the logs and the errors of a failed reload.
func TestSecretsNeverLeak(t *testing.T) {
	const fromEnv, fromFile = "env-secret-hunter2", "file-secret-swordfish"
	pwFile := filepath.Join(t.TempDir(), "pw")
	writeConfig(t, pwFile, fromFile+"\n")
	var logs bytes.Buffer
	lookup := func(k string) (string, bool) {
		if k == "OTLP_TOKEN" {
			return fromEnv, true
		}
		return "", false
	}
	r := startAgentWith(t, "testtick:\n  password_file: "+pwFile+"\ntracing:\n  otlp:\n    headers: {authorization: \"${OTLP_TOKEN}\"}\n", func(o *Options) {
		o.LookupEnv = lookup
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	if got := lastTick.Load().password.Reveal(); got != fromFile {
		t.Fatalf("the collector did not get the secret: %q", got)
	}
	h := r.a.Handler(HandlerOptions{})
	_, cfgPage := get(t, h, "GET", "/config")
	if !strings.Contains(cfgPage, "password_file: "+pwFile) || !strings.Contains(cfgPage, "authorization: <secret>") {
		t.Errorf("/config does not show the redacted secrets:\n%s", cfgPage)
	}
	// A reload that fails on the secret's own key must not echo it.
	r.rewrite(t, "testtick:\n  interval: ${OTLP_TOKEN}\n")
	_, reloadBody := get(t, h, "POST", "/-/reload")
	if !strings.Contains(reloadBody, "testtick.interval: want a duration such as 30s, 5m or 1h, got string (from the environment)") {
		t.Errorf("reload error: %q", reloadBody)
	}
	_, metrics := get(t, h, "GET", "/metrics")
	_, status := get(t, h, "GET", "/")
	for name, text := range map[string]string{"/config": cfgPage, "/metrics": metrics, "/": status, "reload": reloadBody, "logs": logs.String()} {
		for _, secret := range []string{fromEnv, fromFile} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows a secret", name)
			}
		}
	}
}

// TestEchoedSecretsAreScrubbed: a peer that echoes the credentials it was
// sent (as a misbehaving IMAP server or OAuth token endpoint does) gets
// them into neither the log nor the status page, raw or URL-encoded.
func TestEchoedSecretsAreScrubbed(t *testing.T) {
	const secret = "p@ss/word hunter2"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		form, _ := url.ParseQuery(string(body))
		http.Error(w, fmt.Sprintf(`{"error":"invalid_client","got":%q,"raw":%q}`, form.Get("client_secret"), body), http.StatusUnauthorized)
	}))
	defer echo.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	writeConfig(t, pwFile, secret+"\n")
	var logs testlog.Buffer
	r := startAgentWith(t, "testtick:\n  password_file: "+pwFile+"\n  echo_url: "+echo.URL+"\n", func(o *Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	waitFor(t, "a run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	_, status := get(t, r.a.Handler(HandlerOptions{}), "GET", "/")
	_, detail := get(t, r.a.Handler(HandlerOptions{}), "GET", "/collector/testtick")
	// The run's debug log holds the peer's whole answer, scrubbed too.
	if !strings.Contains(detail, `<pre class="debug">`) || !strings.Contains(detail, "POST http://127.0.0.1") || !strings.Contains(detail, "&lt;secret&gt;") {
		t.Errorf("the collector page lacks the run's scrubbed debug log:\n%s", detail)
	}
	if !strings.Contains(logs.String(), "invalid_client") || !strings.Contains(status, "invalid_client") || !strings.Contains(detail, "invalid_client") || !strings.Contains(logs.String(), "<secret>") {
		t.Fatalf("the peer's answer is not in the log or on the pages:\n%s\n%s\n%s", logs.String(), status, detail)
	}
	for name, text := range map[string]string{"status page": status, "collector page": detail, "log": logs.String()} {
		for _, form := range []string{secret, url.QueryEscape(secret), "hunter2"} {
			if strings.Contains(text, form) {
				t.Errorf("the %s shows the secret as %q", name, form)
			}
		}
	}
}

func TestStatusPage(t *testing.T) {
	r := startAgent(t, "testtick:\n  targets: [a]\ntestcrash:\n  panic: true\n")
	waitFor(t, "runs", func() bool {
		s, _ := r.snap("testtick")
		c, _ := r.snap("testcrash")
		return s.Last != nil && c.State == stateRestarting
	})
	code, body := get(t, r.a.Handler(HandlerOptions{}), "GET", "/")
	for _, want := range []string{
		"<title>(1 critical) mailscope</title>", "testtick", "A scheduled test collector.", "run 1 over 1 targets",
		`<span class="pill ok outcome">run ok</span>`, `<span class="pill error outcome">run error</span>`, "panic: collector bug", "restarting",
		// Health apart from the run outcome: the crashing collector is a
		// ranked finding with its runbook, and its row is red.
		`<tr class="row ok" id="row-testtick">`, `<tr class="row critical" id="row-testcrash">`,
		"collector testcrash is down (restarting)", runbookBase + "mailscopecollectordown",
	} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(body, "goroutine ") {
		t.Error("the status page shows a whole stack trace; one line is enough")
	}
}
