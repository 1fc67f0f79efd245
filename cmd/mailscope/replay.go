package main

import (
	"bytes"
	"context"
	"encoding/json"
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
		cmd.Flag("mta", "MTA that wrote the logs.").Default("postfix").EnumVar(&o.mta, "postfix")
		cmd.Flag("format", "Output: prom (Prometheus text exposition), summary (a report for people), json (the counts).").Default("summary").EnumVar(&o.format, "prom", "summary", "json")
		cmd.Flag("timezone", "Zone of timestamps without one (RFC 3164 'Nov 26 05:31:21'): an IANA name; default the local zone.").StringVar(&o.timezone)
		cmd.Flag("source", "The `source` label of the metrics.").Default("replay").StringVar(&o.source)
		cmd.Flag("otlp.endpoint", "Also send each message's trace to this OTLP endpoint (host:port, or an http(s):// URL); the replay then waits for it rather than dropping spans. OTEL_EXPORTER_OTLP_HEADERS and friends apply.").StringVar(&o.otlp.OTLP.Endpoint)
		cmd.Flag("otlp.protocol", "OTLP protocol: grpc or http/protobuf.").Default(otel.ProtocolGRPC).EnumVar(&o.otlp.OTLP.Protocol, otel.ProtocolGRPC, otel.ProtocolHTTP)
		cmd.Flag("otlp.insecure", "Send spans without TLS.").BoolVar(&o.otlp.OTLP.Insecure)
		cmd.Flag("trace.sample-ratio", "Share of the good messages traced (every failed or slow one is).").Default("1").Float64Var(&o.traceRatio)
		cmd.Arg("file", "Log files, oldest first (mail.log.2.gz mail.log.1 mail.log).").Required().ExistingFilesVar(&o.files)
		return subcommand{clause: cmd, run: func(stdout, stderr io.Writer) int { return replayCommand(o, stdout, stderr) }}
	})
}

type replayOptions struct {
	mta, format, timezone, source string
	files                         []string
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
	// A replay that finds a file's year guessed wrong starts over with a
	// new sink (see source.Replay): each gets a fresh pipeline on its own
	// registry, and only the last one is printed.
	var p *pipeline.Pipeline
	var reg *prometheus.Registry
	newSink := func() (source.Sink, error) {
		reg = prometheus.NewRegistry()
		var err error
		// No tracer: this pass counts; replayTraces sends the traces.
		p, err = pipeline.New(pipeline.DefaultConfig(), pipeline.Options{MTA: o.mta, Registerer: reg})
		return p, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	st, err := source.ReplayWith(ctx, o.files, newSink, source.ReplayOptions{Name: o.source, Location: loc})
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: %v (read %d lines of %d files before it; nothing printed)\n", err, st.Lines, st.Files)
		return 2
	}
	// Messages still in the table end here, so their per-message series
	// and the summary's outcomes count them (as end="flush").
	p.Flush()
	if o.otlp.OTLP.Endpoint != "" {
		if code := replayTraces(ctx, o, loc, st.Restarts, stderr); code != 0 {
			return code
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		fmt.Fprintf(stderr, "mailscope replay: gather metrics: %v\n", err)
		return 2
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
		if err := enc.Encode(newReplayCounts(st, mfs, loc)); err != nil {
			fmt.Fprintf(stderr, "mailscope replay: encode json: %v\n", err)
			return 2
		}
	default:
		writeReplaySummary(&buf, newReplayCounts(st, mfs, loc))
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
// does. The provider waits for the endpoint instead of dropping.
func replayTraces(ctx context.Context, o replayOptions, loc *time.Location, restarts int, stderr io.Writer) int {
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
		return p, err
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
