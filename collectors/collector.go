// Package collectors defines the contract every mailscope collector keeps and
// the registry the agent builds them from. A collector is one package that
// calls Register from its init function; the agent imports it for that side
// effect (see collectors/all).
//
// A collector's config is plain data: Validate reports every problem and
// changes nothing, and the collector's New turns a valid config into its
// runtime objects once. Two loads of one file are reflect.DeepEqual, which
// is how a reload knows to keep an unchanged collector running.
//
// A collector runs until its context ends. Event-stream collectors (MTA
// logs) keep live counters; scheduled collectors (blocklists, domain
// posture, seeds) keep their last result and report it at scrape time, so
// no network I/O ever happens inside a scrape.
package collectors

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/postconf"
)

// Config is a collector's section of the config file. Its struct carries
// YAML tags; the factory's NewConfig returns it filled with defaults, the
// decoder overlays the user's keys, then Validate returns every problem (a
// config.Problems with key paths relative to the section, or a plain error).
// Validate has no side effects: it neither fills in fields nor keeps what
// it derived; the collector's build step (in New, and in Probe) derives
// its runtime objects from the config again.
type Config interface {
	Validate() error
}

// Collector is one running collector.
type Collector interface {
	// Run works until ctx ends. An error return means the collector could not
	// go on; the agent logs and counts it and restarts the collector with
	// backoff. Errors of single runs are reported through Settings.Report and
	// do not end Run.
	Run(ctx context.Context) error
}

// Settings is what the agent hands a collector.
type Settings struct {
	Logger *slog.Logger
	// Registerer is the collector's own registry: metrics registered here
	// are served on /metrics and selected by collect[]/exclude[].
	Registerer prometheus.Registerer
	// Tracer makes the collector's spans; a no-op tracer when tracing is off.
	Tracer trace.Tracer
	// StateDir is a directory private to this collector for checkpoints,
	// cursors and dedup state (state_dir/NAME). The collector creates it
	// when it first needs it, so collectors without state run where the
	// state directory is not writable.
	StateDir string
	Clock    clock.Clock
	// Report records the outcome of one run (a sweep, a check, a batch) for
	// the status page and the mailscope_collector_* metrics.
	Report func(RunResult)
	// Mail is the shared mail taxonomy (providers, reason rules) of the
	// top-level providers: and reason_rules: sections, built once by the
	// agent. Nil outside an agent: use Mail.OrDefault().
	Mail *mailclass.Taxonomy
	// Bounces and SendingIPs are the links between collectors (see
	// internal/links): the seeds collector watches its messages on
	// Bounces and the MTA pipeline reports those it bounced; seeds add
	// the addresses its messages left from to SendingIPs and the
	// blocklist collector checks them. The agent keeps them across
	// reloads. Nil outside an agent; a nil link is a no-op.
	Bounces    *links.Bounces
	SendingIPs *links.SendingIPs
	// DMARCPolicies carries each domain's DMARC policy as the domain
	// collector last found it in DNS to the reports collector, which
	// compares it with the policy the reporters saw.
	DMARCPolicies *links.DMARCPolicies
	// DNS is the agent's one DNS client (one concurrency limit, one answer
	// cache), shared by every collector and /probe; a collector asks it for
	// a dnsx.Client with its own resolver settings. Nil outside an agent:
	// the collector then makes its own.
	DNS *dnsx.Shared
}

// ProbeSettings is what the agent hands one /probe request.
type ProbeSettings struct {
	// Registerer is a fresh registry for this request's metrics.
	Registerer prometheus.Registerer
	// Debug collects a human-readable trace of what the probe did, for
	// the ?debug=true view.
	Debug  *bytes.Buffer
	Logger *slog.Logger
	// DNS is the agent's shared DNS client, as in Settings.
	DNS *dnsx.Shared
}

// MovedMailKeys is implemented by section configs that still read the
// mail keys which moved to the top-level providers: and reason_rules:
// sections, for one release: the agent takes what they set as the shared
// taxonomy and warns that the key is deprecated.
type MovedMailKeys interface {
	MovedMailKeys() []MovedMailKey
}

// MovedMailKey is one deprecated key a section set.
type MovedMailKey struct {
	// Path is the key relative to the section ("pipeline.providers").
	Path string
	// Moved is what the key set, in its new form: Providers or
	// ReasonRules, the other left empty.
	Moved mailclass.Config
}

// ProviderLabels is implemented by section configs that name providers
// themselves (the seeds' provider: keys): the agent checks each against
// the shared provider set, so dashboards can join on the label.
type ProviderLabels interface {
	// ProviderLabels returns each provider name by its key path relative
	// to the section.
	ProviderLabels() map[string]string
}

// HTTPHandlers is implemented by collectors that take requests on the
// agent's web listener (the reports collector's TLS-RPT endpoint). The
// agent serves each path while the collector runs, behind the web
// config's TLS and authentication like its own pages; a path the agent
// serves itself is never handed to a collector.
type HTTPHandlers interface {
	HTTPHandlers() map[string]http.Handler
}

// StatusDetails is implemented by collectors with more to show on the
// status page than their metrics and run summaries can carry: values that
// must never be label values (addresses, host names from reports), such as
// the reports collector's unknown sources. The agent calls it each time it
// renders a page, so it returns what the collector already holds, with no
// I/O, under the collector's own lock; the agent keeps at most
// MaxDetailTables tables of at most MaxDetailRows rows (counting the rest
// in Omitted), scrubs configured secrets from every cell and escapes every
// cell for HTML: a cell may hold hostile text.
type StatusDetails interface {
	StatusDetails() []DetailTable
}

// Bounds of what StatusDetails shows.
const (
	MaxDetailTables = 20
	MaxDetailRows   = 100
	// MaxDetailCell is the longest cell shown, in bytes; a longer one is
	// cut and ends with "…".
	MaxDetailCell = 256
)

// DetailTable is one table on the status page: its rows already ordered
// and bounded by the collector.
type DetailTable struct {
	// ID names the table in the page (letters, digits, '-'), stable
	// across renders: "unknown-sources-example.com".
	ID    string
	Title string
	// Note is one line under the title: what the rows are, their order
	// and bound.
	Note    string
	Columns []string
	// NoWrap marks the columns whose cells read as one token (an
	// address, a count, a date): they are not broken across lines.
	NoWrap []bool
	// Rows have one cell per column.
	Rows [][]string
	// Omitted counts the rows left out by a bound; the page says so.
	Omitted int
	// Empty is shown instead of a table without rows.
	Empty string
}

// RunResult is the outcome of one run of a collector.
type RunResult struct {
	Start    time.Time
	Duration time.Duration
	// Err is nil for a run that worked, even if what it found is bad
	// (a listing is a finding, not an error).
	Err error
	// Summary is one line for the status page: "3 targets x 5 zones, 0 listed".
	Summary string
	// Debug is the run's own debug log (see RunLog): what it checked and
	// what it got, at most MaxRunLog bytes, ending with RunLogTruncated
	// when cut. The agent scrubs configured secrets from it before the
	// collector's page shows it. Empty when the collector writes none.
	Debug string
}

// Factory registers a collector.
type Factory struct {
	// Name is the config section and the `collector` label.
	Name string
	// DefaultEnabled collectors run without a config section.
	DefaultEnabled bool
	// Help is one line for the status page and check-config.
	Help string
	// NewConfig returns a config with every default set.
	NewConfig func() Config
	// New builds a collector from a validated config: the collector's one
	// build step, which derives its runtime objects (zones, targets, CA
	// pools, DNS clients from s.DNS, secrets read from their files) and
	// never changes cfg. It registers its metrics on s.Registerer once,
	// here, never per run.
	New func(cfg Config, s Settings) (Collector, error)
	// Auto, when set, proposes a config for a zero-config start from facts
	// about the host (nil when the host has no Postfix); nil means "not on
	// this host".
	Auto func(facts *postconf.Facts) Config
	// Probe, when set, answers /probe?module=NAME&target=T (Prometheus's
	// multi-target pattern, as blackbox_exporter does): one check of one
	// target, its metrics registered on p.Registerer, a fresh registry per
	// request. cfg is the running section (validated, never changed by the
	// probe), or the defaults when the collector is not enabled. It returns
	// whether the check could be done (not whether the target is healthy),
	// and writes a human-readable trace of what it did to p.Debug.
	Probe func(ctx context.Context, cfg Config, target string, p ProbeSettings) (ok bool)
	// ProbeTargets lists the targets a config names (addresses, CIDR
	// prefixes, domain names): /probe checks these without an allow list,
	// and connects where their records point, private addresses included.
	ProbeTargets func(cfg Config) []string
}

// AutoOf adapts a collector's typed Auto function (returning its own
// *Config) to Factory.Auto, so "not on this host" (a nil *Config) stays a
// nil Config instead of a non-nil interface holding a nil pointer.
func AutoOf[C interface {
	comparable
	Config
}](auto func(*postconf.Facts) C) func(*postconf.Facts) Config {
	return func(facts *postconf.Facts) Config {
		var none C
		if c := auto(facts); c != none {
			return c
		}
		return nil
	}
}

var (
	mu        sync.Mutex
	factories = map[string]Factory{}
)

// Register adds a collector factory. It panics on a duplicate or incomplete
// registration, which is a programming error found at start.
func Register(f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if f.Name == "" || f.NewConfig == nil || f.New == nil {
		panic(fmt.Sprintf("collectors: incomplete registration %q", f.Name))
	}
	if _, dup := factories[f.Name]; dup {
		panic(fmt.Sprintf("collectors: %q registered twice", f.Name))
	}
	factories[f.Name] = f
}

// Lookup returns the factory registered under name.
func Lookup(name string) (Factory, bool) {
	mu.Lock()
	defer mu.Unlock()
	f, ok := factories[name]
	return f, ok
}

// All returns every registered factory, sorted by name.
func All() []Factory {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Factory, 0, len(factories))
	for _, f := range factories {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Unregister removes a factory; tests use it to clean up after themselves.
func Unregister(name string) {
	mu.Lock()
	defer mu.Unlock()
	delete(factories, name)
}
