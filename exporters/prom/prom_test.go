package prom

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestSelect(t *testing.T) {
	all := map[string]prometheus.Gatherer{"dnsbl": nil, "domain": nil, "mtalog": nil}
	cases := []struct {
		collect, exclude []string
		want             []string
		err              string
	}{
		{want: []string{"dnsbl", "domain", "mtalog"}},
		{collect: []string{"mtalog", "dnsbl"}, want: []string{"dnsbl", "mtalog"}},
		{exclude: []string{"domain"}, want: []string{"dnsbl", "mtalog"}},
		{collect: []string{"seeds"}, err: `collect[]: collector "seeds" is not running (running: dnsbl, domain, mtalog)`},
		{exclude: []string{"x"}, err: `exclude[]: collector "x" is not running (running: dnsbl, domain, mtalog)`},
		{collect: []string{"dnsbl"}, exclude: []string{"domain"}, err: "collect[] and exclude[] cannot be combined"},
	}
	for _, c := range cases {
		got, err := Select(all, c.collect, c.exclude)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%v/%v: err %v, want %q", c.collect, c.exclude, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v/%v: got %v %v, want %v", c.collect, c.exclude, got, err, c.want)
		}
	}
}

func TestProbeHandler(t *testing.T) {
	var gotDeadline time.Duration
	modules := func() map[string]ProbeFunc {
		return map[string]ProbeFunc{"dnsbl": func(ctx context.Context, target string, reg prometheus.Registerer, debug *bytes.Buffer, _ *slog.Logger) bool {
			dl, _ := ctx.Deadline()
			gotDeadline = time.Until(dl)
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "mailscope_dnsbl_listed", Help: "x", ConstLabels: prometheus.Labels{"zone": "zen"}})
			g.Set(1)
			reg.MustRegister(g)
			debug.WriteString("looked up " + target + " in zen\n")
			return target != "broken"
		}}
	}
	type gateKey struct{}
	var gatedCtx bool
	gate := func(ctx context.Context, module, target string) (context.Context, error) {
		switch target {
		case "off":
			return nil, ErrProbeDisabled
		case "10.0.0.1":
			return nil, fmt.Errorf("%w: not yours", ErrProbeRefused)
		}
		return context.WithValue(ctx, gateKey{}, true), nil
	}
	modules = wrapModules(modules, func(ctx context.Context) { gatedCtx = ctx.Value(gateKey{}) != nil })
	limits := ProbeLimits{TimeoutMax: 30 * time.Second, Concurrency: 8}
	h := ProbeHandler(modules, gate, func() ProbeLimits { return limits }, slog.New(slog.DiscardHandler))
	serve := func(url string, header map[string]string) (int, string) {
		req := httptest.NewRequest("GET", url, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b)
	}
	code, body := serve("/probe?module=dnsbl&target=192.0.2.1", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "5"})
	if code != 200 || !strings.Contains(body, "mailscope_probe_success 1") || !strings.Contains(body, `mailscope_dnsbl_listed{zone="zen"} 1`) {
		t.Errorf("probe: %d\n%s", code, body)
	}
	// The scrape timeout less half a second bounds the probe.
	if gotDeadline > 4500*time.Millisecond || gotDeadline < 4*time.Second {
		t.Errorf("deadline %v, want about 4.5s", gotDeadline)
	}
	// A scrape timeout header cannot ask for more than the cap.
	serve("/probe?module=dnsbl&target=192.0.2.1", map[string]string{"X-Prometheus-Scrape-Timeout-Seconds": "600"})
	if gotDeadline > 30*time.Second || gotDeadline < 29*time.Second {
		t.Errorf("deadline %v with a 600 s scrape timeout, want the 30 s cap", gotDeadline)
	}
	if _, body = serve("/probe?module=dnsbl&target=broken", nil); !strings.Contains(body, "mailscope_probe_success 0") {
		t.Errorf("failed probe:\n%s", body)
	}
	_, body = serve("/probe?module=dnsbl&target=192.0.2.1&debug=true", nil)
	if !strings.Contains(body, "looked up 192.0.2.1 in zen") || !strings.Contains(body, `mailscope_dnsbl_listed{zone="zen"} 1`) {
		t.Errorf("debug view:\n%s", body)
	}
	// The metrics block is valid exposition format (no space before "{").
	_, block, _ := strings.Cut(body, "Metrics that would have been returned:\n")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	if mfs, err := parser.TextToMetricFamilies(strings.NewReader(block)); err != nil || len(mfs) != 3 {
		t.Errorf("debug metrics are not exposition format (%d families): %v\n%s", len(mfs), err, block)
	}
	if code, body = serve("/probe?module=nope&target=x", nil); code != 400 || !strings.Contains(body, `unknown module "nope"`) {
		t.Errorf("unknown module: %d %s", code, body)
	}
	if code, _ = serve("/probe?module=dnsbl", nil); code != 400 {
		t.Errorf("no target: %d", code)
	}
	if !gatedCtx {
		t.Error("the probe did not run under the gate's context")
	}
	gatedCtx = false
	if code, body = serve("/probe?module=dnsbl&target=10.0.0.1&debug=true", nil); code != 403 || !strings.Contains(body, "not yours") || gatedCtx {
		t.Errorf("refused target: %d %q (probe ran: %v)", code, body, gatedCtx)
	}
	if code, _ = serve("/probe?module=dnsbl&target=off", nil); code != 404 || gatedCtx {
		t.Errorf("disabled /probe: %d (probe ran: %v)", code, gatedCtx)
	}
}

// wrapModules calls seen with each probe's context before the probe.
func wrapModules(m Modules, seen func(context.Context)) Modules {
	return func() map[string]ProbeFunc {
		out := map[string]ProbeFunc{}
		for name, f := range m() {
			out[name] = func(ctx context.Context, target string, reg prometheus.Registerer, debug *bytes.Buffer, l *slog.Logger) bool {
				seen(ctx)
				return f(ctx, target, reg, debug, l)
			}
		}
		return out
	}
}

// TestProbeConcurrencyCap: beyond probe.concurrency running probes, /probe
// answers 429 at once instead of starting another.
func TestProbeConcurrencyCap(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int64
	modules := func() map[string]ProbeFunc {
		return map[string]ProbeFunc{"dnsbl": func(ctx context.Context, target string, reg prometheus.Registerer, debug *bytes.Buffer, _ *slog.Logger) bool {
			if runs.Add(1) > 2 {
				return true // a probe beyond the cap: do not block the test
			}
			started <- struct{}{}
			<-release
			return true
		}}
	}
	open := func(ctx context.Context, _, _ string) (context.Context, error) { return ctx, nil }
	h := ProbeHandler(modules, open, func() ProbeLimits { return ProbeLimits{TimeoutMax: time.Minute, Concurrency: 2} }, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?module=dnsbl&target=192.0.2.1", nil))
			if rec.Code != 200 {
				t.Errorf("probe within the cap: %d", rec.Code)
			}
		}()
		<-started
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/probe?module=dnsbl&target=192.0.2.1", nil))
	if rec.Code != http.StatusTooManyRequests || runs.Load() != 2 {
		t.Errorf("third probe with two running and a cap of 2: %d, %d runs", rec.Code, runs.Load())
	}
	close(release)
	wg.Wait()
}
