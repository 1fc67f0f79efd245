package parse

import (
	"bytes"
	"testing"

	"github.com/mailscope/mailscope/collectors/reports/parse/parsetest"
)

func BenchmarkParseAggregate100(b *testing.B) {
	doc := gzipped(b, parsetest.AggregateXML(1, 100))
	b.SetBytes(int64(len(parsetest.AggregateXML(1, 100))))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Parse(bytes.NewReader(doc), DefaultLimits())
		if err != nil || len(rep.Aggregate.Records) != 100 {
			b.Fatal(err)
		}
	}
}
