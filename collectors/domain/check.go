package domain

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Target is one domain to check and what only its owner knows about it.
type Target struct {
	Domain string
	// Selectors are the DKIM selectors to check (DNS cannot list them).
	Selectors []string
	// SendingIPs are the addresses the domain's mail leaves from: each is
	// evaluated against SPF and checked for reverse DNS.
	SendingIPs []netip.Addr
	// Skip names checks not to run (all run when empty).
	Skip map[string]bool
}

// Report is one check of one domain: every check's result, and the
// measures the metrics report.
type Report struct {
	Domain   string        `json:"domain"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	Results  []*Result     `json:"results"`

	SPF         SPFMeasure     `json:"spf"`
	DMARC       *DMARCPolicy   `json:"dmarc,omitempty"`
	DKIMBits    map[string]int `json:"dkim_key_bits,omitempty"`
	MTASTSMode  string         `json:"mta_sts_mode,omitempty"`
	TLS         []HostTLS      `json:"tls,omitempty"`
	DANEHosts   []HostDANE     `json:"dane,omitempty"`
	PTRStatuses []PTRStatus    `json:"ptr,omitempty"`
	MXHosts     []string       `json:"mx_hosts,omitempty"`
}

// Result returns the result of a check, or nil when it did not run.
func (r *Report) Result(check string) *Result {
	for _, res := range r.Results {
		if res.Check == check {
			return res
		}
	}
	return nil
}

// Count returns how many findings of severity s the report has.
func (r *Report) Count(s Severity) int {
	n := 0
	for _, res := range r.Results {
		n += res.Count(s)
	}
	return n
}

// Missing reports whether the domain does not exist in DNS (NXDOMAIN on
// its MX lookup): then no other check is run, since each would only
// repeat it.
func (r *Report) Missing() bool {
	mx := r.Result(CheckMX)
	return mx != nil && mx.Has(CodeDomainMissing)
}

// Summary is one line for the status page and logs: the checks with an
// error are "failing", those that could not be done "could not check".
func (r *Report) Summary() string {
	if r.Missing() {
		return fmt.Sprintf("%s: does not exist in DNS (NXDOMAIN); no other check was run", r.Domain)
	}
	var failing, unknown []string
	for _, res := range r.Results {
		if res.Count(SeverityError) > 0 {
			failing = append(failing, res.Check)
		} else if res.Count(SeverityUnknown) > 0 {
			unknown = append(unknown, res.Check)
		}
	}
	s := fmt.Sprintf("%s: %d checks, %d errors, %d warnings, %d unknown", r.Domain, len(r.Results),
		r.Count(SeverityError), r.Count(SeverityWarning), r.Count(SeverityUnknown))
	if len(failing) > 0 {
		s += "; failing: " + strings.Join(failing, ", ")
	}
	if len(unknown) > 0 {
		s += "; could not check: " + strings.Join(unknown, ", ")
	}
	return s
}

// Check runs every check of one domain in order, each in its own span
// under one span for the domain, and returns the report. A check that
// cannot be done says so in its findings (severity unknown); Check itself
// never fails.
func Check(ctx context.Context, env *Env, t Target) *Report {
	start := env.now()
	ctx, span := env.tracer().Start(ctx, "domain check", trace.WithAttributes(attribute.String("mail.domain", t.Domain)))
	defer span.End()
	rep := &Report{Domain: t.Domain, Start: start}
	var (
		mx    mxSet
		dmarc *DMARCPolicy
	)
	run := func(name string, f func(ctx context.Context) *Result) {
		if t.Skip[name] {
			return
		}
		cctx, cspan := env.tracer().Start(ctx, "check "+name)
		began := time.Now()
		var res *Result
		if err := ctx.Err(); err != nil {
			res = &Result{Check: name}
			res.unknown(CodeCheckContextExpired, "Not run: the check of %s ran out of time (%v).", t.Domain, err)
		} else {
			res = f(cctx)
		}
		res.Duration = time.Since(began)
		worst := res.Worst()
		cspan.SetAttributes(attribute.String("mailscope.severity", string(worst)), attribute.Int("mailscope.findings", len(res.Findings)))
		if worst == SeverityError || worst == SeverityUnknown {
			cspan.SetStatus(codes.Error, string(worst))
		}
		cspan.End()
		rep.Results = append(rep.Results, res)
	}
	// MX runs even when skipped from the report: later checks need the
	// MX set.
	if t.Skip[CheckMX] {
		_, mx = MX(ctx, env, t.Domain)
	}
	run(CheckMX, func(ctx context.Context) *Result {
		var res *Result
		res, mx = MX(ctx, env, t.Domain)
		return res
	})
	rep.MXHosts = mx.Hosts
	if rep.Missing() {
		// Every other check would report the same missing domain again.
		rep.Duration = env.now().Sub(start)
		span.SetAttributes(attribute.Int("mailscope.errors", 1))
		return rep
	}
	run(CheckSPF, func(ctx context.Context) *Result {
		res, m := SPF(ctx, env, t.Domain, t.SendingIPs)
		rep.SPF = m
		return res
	})
	run(CheckDKIM, func(ctx context.Context) *Result {
		res, bits := DKIM(ctx, env, t.Domain, t.Selectors)
		rep.DKIMBits = bits
		return res
	})
	run(CheckDMARC, func(ctx context.Context) *Result {
		var res *Result
		res, dmarc = DMARC(ctx, env, t.Domain)
		rep.DMARC = dmarc
		return res
	})
	run(CheckMTASTS, func(ctx context.Context) *Result {
		res, mode := MTASTS(ctx, env, t.Domain, mx)
		rep.MTASTSMode = mode
		return res
	})
	run(CheckTLSRPT, func(ctx context.Context) *Result { return TLSRPT(ctx, env, t.Domain) })
	run(CheckBIMI, func(ctx context.Context) *Result {
		if dmarc == nil {
			_, dmarc = DMARC(ctx, env, t.Domain)
		}
		return BIMI(ctx, env, t.Domain, dmarc)
	})
	run(CheckPTR, func(ctx context.Context) *Result {
		res, st := PTR(ctx, env, t.SendingIPs, mx)
		rep.PTRStatuses = st
		return res
	})
	run(CheckSTARTTLS, func(ctx context.Context) *Result {
		res, hosts := STARTTLS(ctx, env, mx, rep.MTASTSMode)
		rep.TLS = hosts
		return res
	})
	run(CheckDANE, func(ctx context.Context) *Result {
		res, hosts := DANE(ctx, env, mx, rep.TLS)
		rep.DANEHosts = hosts
		return res
	})
	rep.Duration = env.now().Sub(start)
	span.SetAttributes(attribute.Int("mailscope.errors", rep.Count(SeverityError)), attribute.Int("mailscope.warnings", rep.Count(SeverityWarning)))
	return rep
}
