package tail

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// benchFileBytes is the size of the benchmark's log file: large enough that
// per-run setup is noise, small enough for the page cache and a CI disk.
const benchFileBytes = 64 << 20

// makeBenchFile writes Postfix-like lines of about 120 bytes.
func makeBenchFile(b *testing.B) (path string, size int64, lines int) {
	b.Helper()
	path = filepath.Join(b.TempDir(), "mail.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for size < benchFileBytes {
		n, _ := fmt.Fprintf(w, "Jan  2 03:04:05 mx1 postfix/smtpd[%d]: %08X: client=unknown[192.0.2.%d], sasl_method=PLAIN, seq=%d\n",
			1000+lines%5000, lines*2654435761, lines%250, lines)
		size += int64(n)
		lines++
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path, size, lines
}

// BenchmarkThroughput compares, in one run, the follower reading a large
// file from its beginning with a plain bufio.Scanner read of the same file.
// Both do the same per-line work (count lines, sum their lengths). See
// docs/benchmarks.md for the figures and the command.
func BenchmarkThroughput(b *testing.B) {
	path, size, lines := makeBenchFile(b)

	b.Run("follower", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			var n, total int
			waker := newStepWaker()
			fl, err := New(Config{
				Paths:           []string{path},
				StartAt:         Beginning,
				DisableFSNotify: true,
				Waker:           waker,
			}, func(batch []Line) {
				n += len(batch)
				for _, l := range batch {
					total += len(l.Bytes)
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- fl.Run(ctx) }()
			waker.await(b) // the first poll reads the whole file
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			if n != lines {
				b.Fatalf("follower read %d lines, want %d", n, lines)
			}
		}
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})

	b.Run("scanner", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			var n, total int
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			s := bufio.NewScanner(f)
			for s.Scan() {
				n++
				total += len(s.Bytes())
			}
			if err := s.Err(); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if n != lines {
				b.Fatalf("scanner read %d lines, want %d", n, lines)
			}
		}
		b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	})
}

// TestNoPerLineAllocation reads polls of 10 and of 1000 lines and asserts
// the allocations per poll do not grow with the number of lines.
func TestNoPerLineAllocation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	delivered := 0
	fl, err := New(Config{Paths: []string{path}, StartAt: Beginning, DisableFSNotify: true},
		func(batch []Line) { delivered += len(batch) })
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	fl.clock = clock
	fl.poll(clock.Now(), nil) // opens the file, allocates its buffer
	allocsFor := func(lines int) float64 {
		chunk := []byte{}
		for i := range lines {
			chunk = fmt.Appendf(chunk, "Jan  2 03:04:05 mx1 postfix/qmgr[1]: %08X: removed\n", i)
		}
		return testing.AllocsPerRun(20, func() {
			if _, err := w.Write(chunk); err != nil {
				t.Fatal(err)
			}
			fl.poll(clock.Now(), nil)
		})
	}
	few, many := allocsFor(10), allocsFor(1000)
	t.Logf("allocations per poll: %.0f with 10 lines, %.0f with 1000 lines", few, many)
	if many > few+2 {
		t.Errorf("allocations grow with lines: %.0f per poll of 10 lines, %.0f per poll of 1000", few, many)
	}
	for _, tf := range fl.files {
		tf.f.Close()
	}
}
