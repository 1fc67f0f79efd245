package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/version"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/exporters/otel"
)

// mailscope replay: read old log files through the live pipeline and print
// what it counted. Exit codes: 0 every file was read, 2 a file could not be
// read (nothing is printed then, so a partial count is never taken for a
// whole one) or the arguments are wrong.
func init() {
	commandAdders = append(commandAdders, func(app *kingpin.Application, _ *kingpin.CmdClause) subcommand {
		cmd := app.Command("replay", "Read MTA log files (plain or gzipped, oldest first) through the parser pipeline and print the metrics, a summary or the counts. Exit codes: 0 done, 2 a file could not be read.")
		o := defaultReplayOptions()
		cmd.Flag("mta", "MTA that wrote the logs: postfix, exim, or auto (told from the first lines).").Default("auto").EnumVar(&o.mta, "auto", "postfix", "exim")
		cmd.Flag("format", "Output: prom (Prometheus text exposition), summary (a report for people), json (every section of the summary), html (the summary as one self-contained page).").Default("summary").EnumVar(&o.format, "prom", "summary", "json", "html")
		cmd.Flag("timezone", "Zone of timestamps without one (RFC 3164 'Nov 26 05:31:21'): an IANA name; default the local zone.").StringVar(&o.timezone)
		cmd.Flag("source", "The `source` label of the metrics.").Default("replay").StringVar(&o.source)
		cmd.Flag("since", "Count only lines logged at or after this time: RFC 3339, or '2025-11-26 07:00' in --timezone.").StringVar(&o.since)
		cmd.Flag("until", "Count only lines logged before this time (same forms as --since).").StringVar(&o.until)
		cmd.Flag("interval", "Width of the traffic table's rows (1m, 15m, 1h, 24h); default: the finest that gives at most 48 rows.").DurationVar(&o.interval)
		cmd.Flag("top", "Rows in each list of the report (domains, reply texts, rejects, warnings, addresses).").Default("20").IntVar(&o.top)
		cmd.Flag("show-unparsed", "List the lines the parser did not recognise, with their daemon (at most 1000).").BoolVar(&o.showUnparsed)
		cmd.Flag("top-addresses", "List the top senders and recipients. Off by default: addresses are personal data.").BoolVar(&o.topAddresses)
		cmd.Flag("mask-addresses", "With --top-addresses, replace each address's local part with a pseudonym (the same within one report), for sharing.").BoolVar(&o.maskAddresses)
		cmd.Flag("otlp.endpoint", "Also send each message's trace to this OTLP endpoint (host:port, or an http(s):// URL); the replay then waits for it rather than dropping spans. OTEL_EXPORTER_OTLP_HEADERS and friends apply.").StringVar(&o.otlp.OTLP.Endpoint)
		cmd.Flag("otlp.protocol", "OTLP protocol: grpc or http/protobuf.").Default(otel.ProtocolGRPC).EnumVar(&o.otlp.OTLP.Protocol, otel.ProtocolGRPC, otel.ProtocolHTTP)
		cmd.Flag("otlp.insecure", "Send spans without TLS.").BoolVar(&o.otlp.OTLP.Insecure)
		cmd.Flag("trace.sample-ratio", "Share of the good messages traced (every failed or slow one is).").Default("1").Float64Var(&o.traceRatio)
		cmd.Arg("file", "Log files, oldest first (mail.log.2.gz mail.log.1 mail.log).").Required().ExistingFilesVar(&o.files)
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int { return replayCommand(o, stdout, stderr) }}
	})
}

// detectLines is how many lines --mta=auto looks at.
const detectLines = 2000

type replayOptions struct {
	mta, format, timezone, source string
	since, until                  string
	interval                      time.Duration
	top                           int
	showUnparsed, topAddresses    bool
	maskAddresses                 bool
	files                         []string
	// progress, when set, receives the progress line; replayCommand sets
	// it to standard error when that is a terminal.
	progress io.Writer
	// otlp is the tracing section the flags fill; traces are sent only
	// with an endpoint.
	otlp       otel.Config
	traceRatio float64
}

func defaultReplayOptions() replayOptions {
	return replayOptions{otlp: otel.DefaultConfig(), traceRatio: 1}
}

// replayCommand runs the files through a fresh pipeline on its own
// registry, so the output holds the pipeline's series only.
func replayCommand(o replayOptions, stdout, stderr io.Writer) int {
	loc := time.Local
	if o.timezone != "" {
		l, err := time.LoadLocation(o.timezone)
		if err != nil {
			fmt.Fprintf(stderr, "mailscope replay: --timezone: %v\n", err)
			return 2
		}
		loc = l
	}
	since, err1 := parseWindowBound(o.since, loc)
	until, err2 := parseWindowBound(o.until, loc)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(stderr, "mailscope replay: --since/--until: %v\n", err)
		return 2
	}
	if o.interval < 0 || o.interval%time.Minute != 0 || o.top < 1 {
		fmt.Fprintf(stderr, "mailscope replay: --interval must be whole minutes and --top at least 1\n")
		return 2
	}
	if o.progress == nil && isTerminal(stderr) {
		o.progress = stderr
	}
	var progress *replayProgress
	if o.progress != nil {
		progress = newReplayProgress(o.progress, o.files, time.Now)
	}
	if o.mta == "auto" {
		head, err := source.Head(o.files, detectLines)
		if err != nil {
			fmt.Fprintf(stderr, "mailscope replay: %v (nothing printed)\n", err)
			return 2
		}
		o.mta = pipeline.DetectMTA(head)
	}
	// A replay that finds a file's year guessed wrong starts over with a
	// new sink (see source.Replay): each gets a fresh pipeline on its own
	// registry (and a fresh report consumer), and only the last one is
	// printed.
	var p *pipeline.Pipeline
	var detail *replayDetail
	var reg *prometheus.Registry
	newSink := func() (source.Sink, error) {
		reg = prometheus.NewRegistry()
		var err error
		// No tracer: this pass counts; replayTraces sends the traces.
		p, err = pipeline.New(pipeline.DefaultConfig(), pipeline.Options{MTA: o.mta, Registerer: reg})
		if err != nil {
			return nil, err
		}
		// The prom format is the pipeline alone: the report's consumer
		// is built only for the formats that print its sections.
		sinks := teeSink{p}
		if o.format != "prom" {
			detail = newReplayDetailFor(nil, detailOptions{unparsedLines: o.showUnparsed, addresses: o.topAddresses, location: loc})
			sinks = append(sinks, detail)
		}
		if progress != nil {
			progress.restart()
			sinks = append(sinks, progress)
		}
		var sink source.Sink = sinks
		if len(sinks) == 1 {
			sink = p
		}
		if !since.IsZero() || !until.IsZero() {
			sink = newWindowSink(since, until, sink)
		}
		return sink, nil
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := source.ReplayWith(ctx, o.files, newSink, source.ReplayOptions{Name: o.source, Location: loc})
	if progress != nil {
		progress.done()
	}
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v (read %d lines of %d files before it; nothing printed)\n", err, st.Lines, st.Files)
		return 2
	}
	// Messages still in the table end here, so their per-message series
	// and the summary's outcomes count them (as end="flush").
	p.Flush()
	if o.otlp.OTLP.Endpoint != "" {
		if code := replayTraces(ctx, o, loc, since, until, st.Restarts, stderr); code != 0 {
			return code
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: gather metrics: %v\n", err)
		return 2
	}
	var c replayCounts
	if o.format != "prom" {
		c = newReplayCounts(st, mfs, loc)
		c.MTA = o.mta
		c.replaySections = detail.sections(sectionOptions{top: o.top, interval: o.interval, maskAddresses: o.maskAddresses, masker: newAddressMasker()})
		if !since.IsZero() {
			c.Since = since.In(loc).Format(time.RFC3339)
		}
		if !until.IsZero() {
			c.Until = until.In(loc).Format(time.RFC3339)
		}
	}
	var buf bytes.Buffer
	switch o.format {
	case "prom":
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				fmt.Fprintf(stderr, "mailscope replay: encode metrics: %v\n", err)
				return 2
			}
		}
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(c); err != nil {
			fmt.Fprintf(stderr, "mailscope replay: encode json: %v\n", err)
			return 2
		}
	case "html":
		if err := writeReplayHTML(&buf, c); err != nil {
			fmt.Fprintf(stderr, "mailscope replay: write html: %v\n", err)
			return 2
		}
	default:
		writeReplaySummary(&buf, c)
	}
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v\n", err)
		return 2
	}
	return 0
}

// replayTraces reads the files again with a tracer: a second pass, so that
// the sinks a year correction throws away (the first restarts of the
// counting pass, which this pass repeats) send no spans; only the last one
// does. The provider waits for the endpoint instead of dropping. The
// --since/--until window applies as in the counting pass, so the traces
// are those of the messages the counts describe.
func replayTraces(ctx context.Context, o replayOptions, loc *time.Location, since, until time.Time, restarts int, stderr io.Writer) int {
	if err := o.otlp.Validate(); err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v\n", err)
		return 2
	}
	m := otel.NewMetrics()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	tp, err := otel.New(ctx, o.otlp, otel.Info{Name: "mailscope", Version: version.Version}, m, os.Getenv, logger, otel.WaitForRoom())
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v\n", err)
		return 2
	}
	cfg := pipeline.DefaultConfig()
	cfg.Traces.Ratio = o.traceRatio
	var p *pipeline.Pipeline
	sinks := 0
	newSink := func() (source.Sink, error) {
		var tracer trace.Tracer
		if sinks == restarts {
			tracer = tp.Tracer("github.com/mailscope/mailscope/collectors/mta")
		}
		sinks++
		var err error
		p, err = pipeline.New(cfg, pipeline.Options{MTA: o.mta, Tracer: tracer})
		if err != nil || (since.IsZero() && until.IsZero()) {
			return p, err
		}
		return newWindowSink(since, until, p), nil
	}
	_, err = source.ReplayWith(ctx, o.files, newSink, source.ReplayOptions{Name: o.source, Location: loc})
	if err == nil {
		p.Flush()
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if serr := tp.Shutdown(shutCtx); err == nil {
		err = serr
	}
	var lost float64
	for _, r := range otel.DropReasons {
		lost += m.Dropped(r)
	}
	fmt.Fprintf(stderr, "mailscope replay: %.0f spans sent to %s, %.0f lost\n", m.Exported(), o.otlp.OTLP.Endpoint, lost)
	if err != nil || lost > 0 {
		if err != nil {
			fmt.Fprintf(stderr, "mailscope replay: traces: %v\n", err)
		}
		return 2
	}
	return 0
}
