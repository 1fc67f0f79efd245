package agent

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/collectors"
)

// serveConfig is the section of a test collector that serves a path on
// the web listener.
type serveConfig struct {
	Path string `yaml:"path"`
}

func (c *serveConfig) Validate() error { return nil }

type serving struct{ path string }

func (s *serving) Run(ctx context.Context) error { <-ctx.Done(); return nil }

func (s *serving) HTTPHandlers() map[string]http.Handler {
	return map[string]http.Handler{
		s.path:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("served by the collector")) }),
		"/metrics": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hijacked")) }),
	}
}

func init() {
	collectors.Register(collectors.Factory{
		Name:      "testserve",
		Help:      "A test collector that serves a path on the web listener.",
		NewConfig: func() collectors.Config { return &serveConfig{Path: "/testserve"} },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return &serving{path: cfg.(*serveConfig).Path}, nil
		},
	})
}

func TestCollectorServesItsPath(t *testing.T) {
	h := startAgent(t, "testtick:\n").a.Handler(HandlerOptions{})
	if code, _ := get(t, h, "POST", "/testserve"); code != http.StatusNotFound {
		t.Errorf("collector not running: %d, want 404", code)
	}
	r := startAgent(t, "testserve:\n  path: /inbox\n")
	h = r.a.Handler(HandlerOptions{})
	if code, body := get(t, h, "POST", "/inbox"); code != 200 || body != "served by the collector" {
		t.Errorf("collector path: %d %q", code, body)
	}
	// The agent's own pages stay the agent's.
	if _, body := get(t, h, "GET", "/metrics"); strings.Contains(body, "hijacked") {
		t.Error("a collector took over /metrics")
	}
	// After a reload without the section, the path is gone.
	r.rewrite(t, "testtick:\n")
	if err := r.a.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, h, "POST", "/inbox"); code != http.StatusNotFound {
		t.Errorf("after the collector stopped: %d, want 404", code)
	}
}
