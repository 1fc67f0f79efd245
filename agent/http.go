package agent

import (
	"bytes"
	"context"
	"log/slog"

	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"net/http"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/exporters/prom"
)

// HandlerOptions shape the HTTP interface.
type HandlerOptions struct {
	// TelemetryPath serves the metrics, "/metrics" by default.
	TelemetryPath string
	// WriteTimeout is the HTTP server's: a probe is cut short to answer
	// within it (0: no such bound).
	WriteTimeout time.Duration
}

// Handler serves the agent's pages: the status page at /, metrics, health,
// readiness, reload and the redacted running config. Authentication and
// TLS wrap it in exporter-toolkit's web config.
func (a *Agent) Handler(o HandlerOptions) http.Handler {
	if o.TelemetryPath == "" {
		o.TelemetryPath = "/metrics"
	}
	mux := http.NewServeMux()
	mux.Handle(o.TelemetryPath, prom.NewHandler(a.self, a.Gatherers, a.logger))
	mux.Handle("/probe", prom.ProbeHandler(a.probeModules, a.admitProbe, func() prom.ProbeLimits { return a.probeLimits(o) }, a.logger))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "Healthy")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, r *http.Request) {
		if !a.Ready() {
			http.Error(w, "Not ready: collectors are starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Ready")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Use POST (or PUT) to reload the config", http.StatusMethodNotAllowed)
			return
		}
		if err := a.Reload(); err != nil {
			http.Error(w, "Config reload failed; the previous config keeps running:\n"+err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "Config reloaded")
	})
	mux.HandleFunc("/config", func(w http.ResponseWriter, r *http.Request) {
		out, err := a.Config().Redacted()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(out)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			if h := a.collectorHandler(r.URL.Path); h != nil {
				h.ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
			return
		}
		a.serveStatus(w, o)
	})
	mux.HandleFunc("/collector/", func(w http.ResponseWriter, r *http.Request) {
		a.serveCollector(w, r, o)
	})
	return mux
}

// collectorHandler returns the running collector's handler for path
// (collectors.HTTPHandlers), or nil. Only paths the mux does not serve
// itself get here.
func (a *Agent) collectorHandler(path string) http.Handler {
	for _, in := range a.instances() {
		in.mu.Lock()
		h := in.handlers[path]
		state := in.state
		in.mu.Unlock()
		if h != nil && state != stateFailed {
			return h
		}
	}
	return nil
}

// scrubSnapshot removes secret values from what a collector's peers said
// (errors, summaries) before the unauthenticated status page shows it.
func (a *Agent) scrubSnapshot(s snapshot) snapshot {
	sc := a.scrub.Load()
	s.LastErr = sc.Scrub(s.LastErr)
	if s.Last != nil {
		l := *s.Last
		l.Summary = sc.Scrub(l.Summary)
		l.Debug = sc.Scrub(l.Debug)
		if l.Err != nil {
			if msg := sc.Scrub(l.Err.Error()); msg != l.Err.Error() {
				l.Err = errors.New(msg)
			}
		}
		s.Last = &l
	}
	return s
}

// ago says how long before now t was, in the largest sensible unit.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// firstLine keeps the status page to one line per error.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// probeModules offers /probe for every collector that can check one target
// on demand, with the running section's config (or the defaults).
func (a *Agent) probeModules() map[string]prom.ProbeFunc {
	cfg := a.Config()
	out := map[string]prom.ProbeFunc{}
	for _, s := range cfg.Sections {
		f, _ := collectors.Lookup(s.Name)
		if f.Probe == nil {
			continue
		}
		probe, c := f.Probe, s.Config
		out[s.Name] = func(ctx context.Context, target string, reg prometheus.Registerer, debug *bytes.Buffer, logger *slog.Logger) bool {
			return probe(ctx, c, target, collectors.ProbeSettings{Registerer: reg, Debug: debug, Logger: logger, DNS: a.dns})
		}
	}
	return out
}
