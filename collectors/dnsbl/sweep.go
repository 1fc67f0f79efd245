package dnsbl

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Report is one sweep: every fitting (target, zone) pair and each zone's
// health.
type Report struct {
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Targets  []Target      `json:"-"`
	Results  []Result      `json:"results"`
	Health   []Health      `json:"health"`
}

// Count returns how many results are in state s.
func (r *Report) Count(s State) int {
	n := 0
	for _, res := range r.Results {
		if res.State == s {
			n++
		}
	}
	return n
}

// SweepOptions say how to run a sweep.
type SweepOptions struct {
	// Resolver returns the DNS client for a zone.
	Resolver func(z *Zone) Resolver
	// Concurrency bounds the checks in flight.
	Concurrency int
	// ZoneInterval is the least time between two checks of one zone.
	ZoneInterval time.Duration
	// Pacing, when set, spaces each zone's checks across every sweep that
	// shares it (the scheduled sweep and /probe); nil paces this sweep
	// alone.
	Pacing *ZonePacing
	// Sleep waits (time.Sleep that ends with ctx); tests record it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock of the report's times (the pacer spaces real
	// network traffic, so it keeps to the wall clock).
	Now    func() time.Time
	Tracer trace.Tracer
	// Observe, when set, sees each lookup's result (for metrics).
	Observe func(res Result)
}

// Sweep checks every target on every zone that fits it, after each zone's
// health test, and returns the results sorted by target and zone.
func Sweep(ctx context.Context, o SweepOptions, zones []Zone, targets []Target) *Report {
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleepCtx
	}
	rep := &Report{Start: o.Now(), Targets: targets}
	ctx, span := o.Tracer.Start(ctx, "dnsbl.sweep", trace.WithAttributes(
		attribute.Int("dnsbl.targets", len(targets)), attribute.Int("dnsbl.zones", len(zones))))
	defer span.End()

	pacers := make([]*pacer, len(zones))
	for i := range zones {
		if o.Pacing != nil {
			pacers[i] = o.Pacing.pacer(zones[i].Name, o.ZoneInterval, o.Sleep)
		} else {
			pacers[i] = &pacer{every: o.ZoneInterval, now: time.Now, sleep: o.Sleep}
		}
	}
	health := make([]Health, len(zones))
	for i := range zones {
		health[i] = Health{Zone: zones[i].Name}
	}
	// A zone given by name only learns its kind from its health tests
	// before any target is asked, so its targets are the ones it lists.
	zones = slices.Clone(zones)
	tested := make([]bool, len(zones))
	for i := range zones {
		if zones[i].detect {
			zones[i], health[i] = DetectKind(ctx, o.Resolver(&zones[i]), zones[i])
			tested[i] = true
		}
	}
	jobs := sweepJobs(zones, targets, tested)
	results := make([]Result, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(o.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				z := &zones[j.zone]
				if err := pacers[j.zone].wait(ctx); err != nil {
					results[i] = Result{Target: j.target.String(), Zone: z.Name, State: Unknown, Error: "timeout", Detail: "the sweep ran out of time"}
					continue
				}
				r := o.Resolver(z)
				if j.health {
					health[j.zone] = traceHealth(ctx, o.Tracer, r, z)
					continue
				}
				results[i] = traceCheck(ctx, o.Tracer, r, z, j.target)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()

	byZone := map[string]Health{}
	for _, h := range health {
		byZone[h.Zone] = h
	}
	for i, j := range jobs {
		if j.health {
			continue
		}
		if o.Observe != nil {
			o.Observe(results[i])
		}
		rep.Results = append(rep.Results, ApplyHealth(results[i], byZone[results[i].Zone]))
	}
	sort.SliceStable(rep.Results, func(a, b int) bool {
		x, y := rep.Results[a], rep.Results[b]
		if x.Target != y.Target {
			return x.Target < y.Target
		}
		return x.Zone < y.Zone
	})
	rep.Health = health
	rep.Duration = o.Now().Sub(rep.Start)
	span.SetAttributes(attribute.Int("dnsbl.listed", rep.Count(Listed)))
	return rep
}

func traceCheck(ctx context.Context, tr trace.Tracer, r Resolver, z *Zone, t Target) Result {
	ctx, span := tr.Start(ctx, "dnsbl.lookup", trace.WithAttributes(
		attribute.String("dnsbl.zone", z.Name), attribute.String("dnsbl.target", t.String())))
	defer span.End()
	res := Check(ctx, r, z, t)
	span.SetAttributes(attribute.String("dnsbl.state", string(res.State)))
	if len(res.Codes) > 0 {
		codes := make([]string, len(res.Codes))
		for i, c := range res.Codes {
			codes[i] = c.Value
		}
		span.SetAttributes(attribute.String("dnsbl.codes", strings.Join(codes, ",")))
	}
	if res.State != Listed && res.State != NotListed {
		span.SetStatus(codes.Error, res.Detail)
	}
	return res
}

func traceHealth(ctx context.Context, tr trace.Tracer, r Resolver, z *Zone) Health {
	ctx, span := tr.Start(ctx, "dnsbl.health", trace.WithAttributes(attribute.String("dnsbl.zone", z.Name)))
	defer span.End()
	h := CheckHealth(ctx, r, z)
	span.SetAttributes(attribute.String("dnsbl.health", string(h.State)))
	if !h.Healthy() {
		span.SetStatus(codes.Error, h.Detail)
	}
	return h
}

// pacer spaces the checks of one zone, so a big sweep never bursts a list
// past its fair-use terms.
// ZonePacing keeps one pacer per zone across sweeps, so that concurrent
// sweeps together keep to a zone's rate.
type ZonePacing struct {
	mu     sync.Mutex
	pacers map[string]*pacer
}

// NewZonePacing returns pacing with no zone seen yet.
func NewZonePacing() *ZonePacing { return &ZonePacing{pacers: map[string]*pacer{}} }

// processPacing is shared by the scheduled sweeps and every /probe of the
// process: a zone's zone_rate holds however many probes run at once.
var processPacing = NewZonePacing()

// pacer returns zone's pacer, at the interval of the latest config.
func (zp *ZonePacing) pacer(zone string, every time.Duration, sleep func(context.Context, time.Duration) error) *pacer {
	zp.mu.Lock()
	defer zp.mu.Unlock()
	p, ok := zp.pacers[zone]
	if !ok {
		p = &pacer{now: time.Now, sleep: sleep}
		zp.pacers[zone] = p
	}
	p.mu.Lock()
	p.every = every
	p.mu.Unlock()
	return p
}

type pacer struct {
	mu    sync.Mutex
	next  time.Time
	every time.Duration
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p.every <= 0 {
		return nil
	}
	p.mu.Lock()
	now := p.now()
	at := now
	if p.next.After(now) {
		at = p.next
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	if d := at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// job is one lookup of a sweep: a zone's health test or a target's check.
type job struct {
	zone   int
	target Target
	health bool
}

// sweepJobs orders a sweep's lookups: health tests first, then target by
// target across the zones. With a per-zone rate, zone-by-zone order would
// leave every worker waiting on one zone's pacer while the others idle
// (measured in docs/benchmarks.md, "At the default zone_rate").
// Zones whose health is already tested (kind detection) get no health job.
func sweepJobs(zones []Zone, targets []Target, tested []bool) []job {
	var jobs []job
	for zi := range zones {
		if _, _, ok := zones[zi].healthTargets(); ok && (tested == nil || !tested[zi]) {
			jobs = append(jobs, job{zone: zi, health: true})
		}
	}
	for _, t := range targets {
		for zi := range zones {
			if zones[zi].fits(t) {
				jobs = append(jobs, job{zone: zi, target: t})
			}
		}
	}
	return jobs
}
