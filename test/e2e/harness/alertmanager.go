package harness

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Alertmanager is a running prometheus-alertmanager.
type Alertmanager struct {
	URL  string
	Proc *Process
}

// StartAlertmanager runs the Debian `prometheus-alertmanager` with configYAML
// on a free loopback port, gossip off, and waits until it is ready.
func StartAlertmanager(t testing.TB, configYAML string) *Alertmanager {
	t.Helper()
	bin := RequireBinary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := Dir(t)
	cfg := WriteFile(t, filepath.Join(dir, "alertmanager.yml"), configYAML)
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	p := Start(t, "alertmanager", exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		// Empty: no gossip listener on 0.0.0.0:9094.
		"--cluster.listen-address=",
	))
	u := "http://" + addr
	WaitHTTP(t, nil, u+"/-/ready", http.StatusOK, 60*time.Second)
	return &Alertmanager{URL: u, Proc: p}
}

// Notification is one alert of a webhook notification.
type Notification struct {
	Status      string            `json:"status"` // firing or resolved
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// Webhook is an HTTP server in the test that receives Alertmanager's
// webhook notifications.
type Webhook struct {
	URL string
	mu  sync.Mutex
	got []Notification
}

// StartWebhook listens on a free loopback port until the test ends.
func StartWebhook(t testing.TB) *Webhook {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &Webhook{URL: "http://" + l.Addr().String() + "/alerts"}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []Notification `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		w.got = append(w.got, msg.Alerts...)
		w.mu.Unlock()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return w
}

// Find returns the received notifications of alertname in status.
func (w *Webhook) Find(alertname, status string) []Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []Notification
	for _, n := range w.got {
		if n.Labels["alertname"] == alertname && n.Status == status {
			out = append(out, n)
		}
	}
	return out
}

// Names returns every alert name received so far, with its status.
func (w *Webhook) Names() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.got {
		out = append(out, n.Labels["alertname"]+"/"+n.Status)
	}
	return out
}

var forRE = regexp.MustCompile(`(?m)^(\s+for:\s*)\S+`)

// ShortenFor rewrites every `for:` of a rule file to d, so an end-to-end
// test sees alerts fire in seconds, not minutes; the expressions, labels
// and annotations stay exactly as shipped.
func ShortenFor(rules string, d string) string {
	return forRE.ReplaceAllString(rules, "${1}"+d)
}
