package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
