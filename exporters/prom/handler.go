// Package prom serves mailscope's metrics in the Prometheus exposition
// formats. The agent's own metrics are always served; each collector's
// registry is served unless the scrape selects collectors with collect[] or
// leaves them out with exclude[], as node_exporter does.
package prom

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources returns the registry of each running collector, by collector name.
type Sources func() map[string]prometheus.Gatherer

// Handler serves /metrics.
type Handler struct {
	self    prometheus.Gatherer
	sources Sources
	logger  *slog.Logger
	inner   http.Handler
}

// NewHandler returns a /metrics handler over the agent's registry self and
// the collectors' registries.
func NewHandler(self *prometheus.Registry, sources Sources, logger *slog.Logger) *Handler {
	h := &Handler{self: self, sources: sources, logger: logger}
	h.inner = promhttp.InstrumentMetricHandler(self, http.HandlerFunc(h.serve))
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.inner.ServeHTTP(w, r)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	all := h.sources()
	selected, err := Select(all, r.URL.Query()["collect[]"], r.URL.Query()["exclude[]"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	gs := prometheus.Gatherers{h.self}
	for _, name := range selected {
		gs = append(gs, all[name])
	}
	promhttp.HandlerFor(gs, promhttp.HandlerOpts{
		ErrorLog:          slogAdapter{h.logger},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}).ServeHTTP(w, r)
}

// Select applies collect[] and exclude[] to the running collectors' names.
// Naming a collector that is not running is an error, so a typo in a scrape
// config is seen at once instead of as a silently empty scrape.
func Select(all map[string]prometheus.Gatherer, collect, exclude []string) ([]string, error) {
	if len(collect) > 0 && len(exclude) > 0 {
		return nil, fmt.Errorf("collect[] and exclude[] cannot be combined")
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	check := func(param string, list []string) (map[string]bool, error) {
		set := map[string]bool{}
		for _, n := range list {
			if _, ok := all[n]; !ok {
				return nil, fmt.Errorf("%s: collector %q is not running (running: %s)", param, n, strings.Join(names, ", "))
			}
			set[n] = true
		}
		return set, nil
	}
	if len(collect) > 0 {
		set, err := check("collect[]", collect)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, n := range names {
			if set[n] {
				out = append(out, n)
			}
		}
		return out, nil
	}
	set, err := check("exclude[]", exclude)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range names {
		if !set[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Println(v ...any) { a.l.Error("Error serving metrics", "err", fmt.Sprint(v...)) }
