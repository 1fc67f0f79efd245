package postfix

import (
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// BenchmarkParseLine parses the real corpus line by line; lines/s is
// reported, and -benchmem shows allocations per line (the goal is 0).
func BenchmarkParseLine(b *testing.B) { benchParse(b, ParseLine) }

// BenchmarkParser is BenchmarkParseLine through a Parser, as the pipeline
// runs it: the lines in their order, so a line's timestamp, host and
// program repeat the line before's as in a real log.
func BenchmarkParser(b *testing.B) {
	var p Parser
	benchParse(b, p.Parse)
}

func benchParse(b *testing.B, parse func([]byte, *event.Event) bool) {
	lines := corpusLines(b)
	var ev event.Event
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		parse(lines[n%len(lines)], &ev)
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
}

// TestParseLineDoesNotAllocate guards the zero-allocation hot path.
func TestParseLineDoesNotAllocate(t *testing.T) {
	lines := corpusLines(t)
	var ev event.Event
	i := 0
	if a := testing.AllocsPerRun(len(lines)*3, func() {
		ParseLine(lines[i%len(lines)], &ev)
		i++
	}); a != 0 {
		t.Errorf("%v allocations per line, want 0", a)
	}
}
