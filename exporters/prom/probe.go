package prom

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// ProbeFunc checks one target for one module; see collectors.Factory.Probe.
type ProbeFunc func(ctx context.Context, target string, reg prometheus.Registerer, debug *bytes.Buffer, logger *slog.Logger) (ok bool)

// Modules returns the probe function of each module by name.
type Modules func() map[string]ProbeFunc

// ProbeGate decides whether /probe may check target with module. It
// returns the context the probe runs under (carrying any limit on where it
// may connect), or an error wrapping ErrProbeDisabled or ErrProbeRefused.
type ProbeGate func(ctx context.Context, module, target string) (context.Context, error)

// Why a probe was not run.
var (
	ErrProbeDisabled = errors.New("/probe is disabled (probe.enabled: false)")
	ErrProbeRefused  = errors.New("probe refused")
)

// ProbeLimits bound /probe, read at each request so a reload applies.
type ProbeLimits struct {
	// TimeoutMax caps a probe's run, whatever the scrape timeout header
	// asks.
	TimeoutMax time.Duration
	// Concurrency caps the probes running at once; beyond it /probe
	// answers 429 Too Many Requests.
	Concurrency int
}

// defaultProbeTimeout applies when Prometheus does not send its scrape
// timeout header.
const defaultProbeTimeout = 10 * time.Second

// ProbeHandler serves /probe?module=M&target=T with a fresh registry per
// request, bounded by the scrape timeout Prometheus announces (less half a
// second, to answer in time), as blackbox_exporter does. With debug=true it
// returns the probe's own trace as text instead of metrics.
//
// gate runs first: a refused target is answered 403 without any lookup or
// connection, and a disabled /probe 404.
//
// limits cap each probe's time and the probes running at once.
func ProbeHandler(modules Modules, gate ProbeGate, limits func() ProbeLimits, logger *slog.Logger) http.Handler {
	var running atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		name, target := q.Get("module"), q.Get("target")
		if target == "" {
			http.Error(w, "target parameter is missing", http.StatusBadRequest)
			return
		}
		mods := modules()
		probe, ok := mods[name]
		if !ok {
			known := make([]string, 0, len(mods))
			for k := range mods {
				known = append(known, k)
			}
			http.Error(w, fmt.Sprintf("unknown module %q (known: %v)", name, known), http.StatusBadRequest)
			return
		}
		lim := limits()
		if n := running.Add(1); n > int64(lim.Concurrency) {
			running.Add(-1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("too many probes at once (probe.concurrency: %d)", lim.Concurrency), http.StatusTooManyRequests)
			return
		}
		defer running.Add(-1)
		timeout := probeTimeout(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), lim.TimeoutMax)
		gated, err := gate(r.Context(), name, target)
		switch {
		case errors.Is(err, ErrProbeDisabled):
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		ctx, cancel := context.WithTimeout(gated, timeout)
		defer cancel()

		reg := prometheus.NewRegistry()
		success := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailscope_probe_success", Help: "Whether the probe could check the target (1), not whether the target is healthy."})
		duration := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailscope_probe_duration_seconds", Help: "How long the probe took."})
		reg.MustRegister(success, duration)
		var debug bytes.Buffer
		start := time.Now()
		okProbe := probe(ctx, target, reg, &debug, logger.With("module", name, "target", target))
		duration.Set(time.Since(start).Seconds())
		if okProbe {
			success.Set(1)
		}
		if q.Get("debug") == "true" {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Probe of %q with module %q: success=%v, %.3fs\n\n", target, name, okProbe, time.Since(start).Seconds())
			_, _ = w.Write(debug.Bytes())
			fmt.Fprintln(w, "\nMetrics that would have been returned:")
			// The exposition format itself, so the block can be pasted into
			// promtool or a test as it is.
			mfs, err := reg.Gather()
			if err != nil {
				fmt.Fprintf(w, "# gathering failed: %v\n", err)
			}
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
					fmt.Fprintf(w, "# %s: %v\n", mf.GetName(), err)
				}
			}
			return
		}
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	})
}

// probeTimeout is the scrape timeout Prometheus announces less half a
// second (to answer in time), or the default without one, at least a
// second and at most max.
func probeTimeout(header string, max time.Duration) time.Duration {
	timeout := defaultProbeTimeout
	if secs, err := strconv.ParseFloat(header, 64); err == nil && secs > 0 && secs < 1e6 {
		timeout = time.Duration(secs*float64(time.Second)) - 500*time.Millisecond
	}
	if max > 0 {
		timeout = min(timeout, max)
	}
	if timeout < time.Second {
		timeout = time.Second
	}
	return timeout
}
