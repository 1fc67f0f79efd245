package pipeline

import (
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// BenchmarkPipeline runs the real corpus through parser, classification,
// metrics and correlator, in batches of 256 lines as the file source
// hands them on. Queue IDs repeat across rounds, so the correlator sees
// completed and re-opened messages as in a long run.
func BenchmarkPipeline(b *testing.B) {
	all := readBatch(b, corpora[0]).Lines
	p := newTestPipeline(b, nil)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	batch := &source.Batch{Source: "maillog"}
	for b.Loop() {
		start := (n * 256) % len(all)
		end := min(start+256, len(all))
		batch.Lines = all[start:end]
		p.HandleBatch(batch)
		n++
		b.SetBytes(0)
	}
	lines, _, _ := p.Counts()
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(lines)/float64(b.N), "lines/op")
}
