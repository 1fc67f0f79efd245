package exim

import (
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// BenchmarkParseLine parses the real corpora line by line with one
// Parser, as the pipeline does; lines/s is reported, and -benchmem shows
// allocations per line (the goal is 0).
func BenchmarkParseLine(b *testing.B) {
	lines := corpusLines(b)
	var ev event.Event
	var p Parser
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		p.Parse(lines[n%len(lines)], &ev)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkJoiner passes the corpora's lines, in syslog form, through a
// Joiner: the cost every line pays for the reassembly of the few split
// ones.
func BenchmarkJoiner(b *testing.B) {
	var lines [][]byte
	for _, l := range corpusLines(b) {
		lines = append(lines, append([]byte("Dec  6 07:54:26 mx exim[4242]: "), l...))
	}
	var j Joiner
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		j.Join(lines[n%len(lines)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}
