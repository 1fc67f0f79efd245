package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Prometheus is a running Prometheus server.
type Prometheus struct {
	URL  string
	Proc *Process
}

// StartPrometheus runs the Debian `prometheus` binary with configYAML on a
// free loopback port and waits until it is ready.
func StartPrometheus(t testing.TB, configYAML string, extraArgs ...string) *Prometheus {
	t.Helper()
	bin := RequireBinary(t, "prometheus", "prometheus")
	dir := Dir(t)
	cfg := WriteFile(t, filepath.Join(dir, "prometheus.yml"), configYAML)
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	args := append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr,
		"--web.enable-lifecycle",
	}, extraArgs...)
	p := Start(t, "prometheus", exec.Command(bin, args...))
	u := "http://" + addr
	WaitHTTP(t, nil, u+"/-/ready", http.StatusOK, 60*time.Second)
	return &Prometheus{URL: u, Proc: p}
}

// Sample is one series of an instant query.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// api GETs a Prometheus HTTP API path and decodes its "data" into data,
// turning a status other than success into an error.
func (p *Prometheus) api(path string, data any) error {
	resp, err := http.Get(p.URL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   any    `json:"data"`
	}{Data: data}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", path, body.Error)
	}
	return nil
}

// Query runs an instant PromQL query.
func (p *Prometheus) Query(q string) ([]Sample, error) {
	var data struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := p.api("/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	out := make([]Sample, 0, len(data.Result))
	for _, r := range data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query %q: value %q: %v", q, s, err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// Targets returns the scrape targets' health and last error.
func (p *Prometheus) Targets() ([]map[string]any, error) {
	var data struct {
		Active []map[string]any `json:"activeTargets"`
	}
	err := p.api("/api/v1/targets", &data)
	return data.Active, err
}
