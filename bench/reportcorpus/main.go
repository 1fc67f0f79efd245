// Command reportcorpus writes the corpus of the `mailscope report`
// benchmark (docs/benchmarks.md, "Report ingestion"): N gzip-compressed
// DMARC aggregate reports of R records each, named as RFC 7489 section
// 7.2.1.1 names them, in a directory.
//
//	go run ./bench/reportcorpus -dir /tmp/corpus -n 10000 -records 100
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mailscope/mailscope/collectors/reports/parse/parsetest"
)

func main() {
	dir := flag.String("dir", "", "directory to write the reports to (created)")
	n := flag.Int("n", 10000, "number of reports")
	records := flag.Int("records", 100, "records per report")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "reportcorpus: -dir is required")
		os.Exit(2)
	}
	if err := write(*dir, *n, *records); err != nil {
		fmt.Fprintln(os.Stderr, "reportcorpus:", err)
		os.Exit(1)
	}
}

func write(dir string, n, records int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	for i := range n {
		buf.Reset()
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(parsetest.AggregateXML(i, records)); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
		name := fmt.Sprintf("google.com!example.com!%d!%d!%d.xml.gz", 1764806400, 1764892799, i)
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
