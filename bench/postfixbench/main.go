// Command postfixbench measures one stage of the Postfix (or, with
// -mta=exim, the Exim) log pipeline on a file, for bench/postfix-compare.sh
// and bench/exim-compare.sh: "read" is a plain bufio.Scanner line
// count (the floor any log reader pays), "parse" adds the Postfix parser
// on each line (postfix.Parser, as the pipeline runs it), "source" is the
// replay source with the batches dropped, "pipeline" runs the file through
// the same code as `mailscope replay` (the replay source, then parser,
// classifier, metrics and correlator). It prints one line: mode, lines, seconds, lines/s,
// allocations and bytes allocated per line, with the counts the stage can
// give, so the script can put them next to the cross-check.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/exim"
	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

func main() {
	mode := flag.String("mode", "read", "read, parse, source or pipeline")
	flag.StringVar(&mta, "mta", "postfix", "postfix or exim: the parser of parse and pipeline")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the measured stage to this file")
	repeat := flag.Int("repeat", 1, "run the stage this many times (more samples for -cpuprofile); the figures are per run")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: postfixbench -mode=read|parse|source|pipeline FILE")
		os.Exit(2)
	}
	path := flag.Arg(0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "postfixbench: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
	}
	start := time.Now()
	var lines int64
	var extra string
	var err error
	for range max(*repeat, 1) {
		lines, extra, err = stage(*mode, path)
	}
	elapsed := time.Since(start) / time.Duration(max(*repeat, 1))
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	runtime.ReadMemStats(&after)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postfixbench: %v\n", err)
		os.Exit(1)
	}
	n := float64(max(lines, 1) * int64(max(*repeat, 1)))
	fmt.Printf("mode=%s lines=%d seconds=%.3f lines_per_second=%.0f allocs_per_line=%.4f bytes_per_line=%.2f%s\n",
		*mode, lines, elapsed.Seconds(), float64(lines)/elapsed.Seconds(),
		float64(after.Mallocs-before.Mallocs)/n, float64(after.TotalAlloc-before.TotalAlloc)/n, extra)
}

// mta is the -mta flag.
var mta string

// stage runs one mode over the file once.
func stage(mode, path string) (lines int64, extra string, err error) {
	switch mode {
	case "read":
		lines, err = scan(path, func([]byte) {})
	case "parse":
		var ev event.Event
		var p postfix.Parser
		var j exim.Joiner
		var ep exim.Parser
		parse := p.Parse
		if mta == "exim" {
			// As the pipeline runs it: the Joiner, then the parser.
			parse = func(l []byte, ev *event.Event) bool {
				whole, ok := j.Join(l)
				return !ok || ep.Parse(whole, ev)
			}
		}
		var unparsed, deliveries int64
		lines, err = scan(path, func(l []byte) {
			if !parse(l, &ev) {
				unparsed++
			} else if ev.Kind == event.KindDelivery {
				deliveries++
			}
		})
		extra = fmt.Sprintf(" unparsed=%d delivery_lines=%d", unparsed, deliveries)
	case "pipeline":
		lines, err = replay(path)
	case "source":
		lines, err = replaySource(path)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	return lines, extra, err
}

// scan calls fn for every line, as a plain Go reader would read the file.
func scan(path string, fn func([]byte)) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	var n int64
	for sc.Scan() {
		fn(sc.Bytes())
		n++
	}
	return n, sc.Err()
}

// replaySource is the replay source alone: the lines are read, dated and
// batched as for the pipeline, and the batches dropped.
func replaySource(path string) (int64, error) {
	newSink := func() (source.Sink, error) { return discard{}, nil }
	st, err := source.ReplayWith(context.Background(), []string{path}, newSink, source.ReplayOptions{Name: "bench", Location: time.UTC})
	return st.Lines, err
}

type discard struct{}

func (discard) HandleBatch(*source.Batch) {}

// replay is `mailscope replay` without the output: a fresh pipeline on
// its own registry (a new one if the replay starts over, as it does for a
// file whose year it guessed wrong), no tracer, UTC for timestamps without
// a zone.
func replay(path string) (int64, error) {
	var p *pipeline.Pipeline
	newSink := func() (source.Sink, error) {
		var err error
		p, err = pipeline.New(pipeline.DefaultConfig(), pipeline.Options{MTA: mta, Registerer: prometheus.NewRegistry()})
		return p, err
	}
	st, err := source.ReplayWith(context.Background(), []string{path}, newSink, source.ReplayOptions{Name: "bench", Location: time.UTC})
	if err != nil {
		return st.Lines, err
	}
	p.Flush()
	return st.Lines, nil
}
