package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// eximCorpora are real Exim 4.96 main logs (bench/exim-corpus.sh) with
// the default and a rich log_selector.
var eximCorpora = []string{"../exim/testdata/exim-default.log", "../exim/testdata/exim-rich.log"}

// TestEximGolden runs each Exim corpus through an mta="exim" pipeline:
// the exposition is testdata/NAME.prom (-update rewrites it for review),
// every line is accounted for, and none is unparsed.
func TestEximGolden(t *testing.T) {
	for _, path := range eximCorpora {
		name := strings.TrimSuffix(filepath.Base(path), ".log")
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			p, err := New(DefaultConfig(), Options{MTA: "exim", Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			b := readBatch(t, path)
			p.HandleBatch(b)
			lines, events, unparsed := p.Counts()
			if lines != uint64(len(b.Lines)) || events+unparsed != lines || unparsed != 0 {
				t.Errorf("%d lines in, lines=%d events=%d unparsed=%d; samples %v", len(b.Lines), lines, events, unparsed, p.Samples())
			}
			p.Flush()
			got := expose(t, reg)
			checkGolden(t, name, got)
		})
	}
}

// TestEximJoinedLineReadsItsOwnStamp: a line syslog split into pieces is
// parsed with the first piece's timestamp, which the Joiner keeps, not
// with the stamp length the source read from the last piece's line: an
// RFC 3339 stamp without trailing zeros in its fraction is shorter than
// the next one's.
func TestEximJoinedLineReadsItsOwnStamp(t *testing.T) {
	p, err := New(DefaultConfig(), Options{MTA: "exim", Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	b := &source.Batch{Source: "maillog"}
	for _, l := range []string{
		`2026-12-06T07:54:26.5+00:00 mx exim[4242]: [1/2] 1xa79Z-0006sl-1S => bob@example.org R=remote T=remote_smtp H=mx.example.org [192.0.2.1]:25 C="250 2.0.0`,
		`2026-12-06T07:54:26.512345+00:00 mx exim[4242]: [2/2]  OK id=1" QT=1s`,
	} {
		text := []byte(l)
		b.Lines = append(b.Lines, source.Line{Time: testNow, Text: text, StampLen: source.StampLen(text)})
	}
	if b.Lines[0].StampLen == b.Lines[1].StampLen {
		t.Fatalf("the stamps must differ in length: %d", b.Lines[0].StampLen)
	}
	p.HandleBatch(b)
	if lines, events, unparsed := p.Counts(); lines != 2 || events != 2 || unparsed != 0 {
		t.Fatalf("lines=%d events=%d unparsed=%d, want 2 2 0; samples %v", lines, events, unparsed, p.Samples())
	}
}
