package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"
	"testing/iotest"
)

// eachLine is the plain way to split a file into bounded lines, a
// bufio.Reader read a line at a time: the reference eachLineInPlace must
// match. It calls fn for every line of r without its terminator (CRLF or
// LF), truncating lines to max bytes; fn's slice is valid only during the
// call.
func eachLine(r io.Reader, max int, fn func(line []byte, oversize bool, n int) error) error {
	// Hidden behind a plain io.Reader: NewReaderSize would reuse a larger
	// *bufio.Reader as it is, and lines would no longer be bounded.
	br := bufio.NewReaderSize(struct{ io.Reader }{r}, max+1)
	var long []byte // the kept part of an oversize line, which the next reads overwrite
	for {
		line, err := br.ReadSlice('\n')
		n := len(line)
		oversize := false
		if errors.Is(err, bufio.ErrBufferFull) {
			oversize = true
			long = append(long[:0], line[:max]...)
			line = long
			for errors.Is(err, bufio.ErrBufferFull) {
				var more []byte
				more, err = br.ReadSlice('\n')
				n += len(more)
			}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if n > 0 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			if ferr := fn(line, oversize, n); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			return nil
		}
	}
}

// lineRecord is what a line callback saw.
type lineRecord struct {
	text     string
	oversize bool
	n        int
}

// TestEachLineInPlaceMatchesEachLine checks the replay's block reader
// against eachLine: the same lines, oversize flags, byte counts and error,
// for every line bound and however the reads split the text; and each
// line still holds its bytes when release is called.
func TestEachLineInPlaceMatchesEachLine(t *testing.T) {
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	inputs := [][]byte{corpus, {}, []byte("\n"), []byte("\r\n"), []byte("x"), []byte("abc\r"), []byte("a\n\nb\r\n"),
		bytes.Repeat([]byte("0123456789\r"), 500), append(bytes.Repeat([]byte("y"), replayBatchBytes+3), "\nz\n"...),
		// NUL bytes anywhere: in a line, alone, at a line's end, in a
		// run across reads and blocks, in an oversize line.
		[]byte("a\x00b\nc\n\x00\n\x00\x00d\r\ne\x00"), append(bytes.Repeat([]byte("\x00"), replayBatchBytes+5), "\nz\x00\n"...),
		append(append(bytes.Repeat([]byte("w\n"), replayBatchBytes/3), bytes.Repeat([]byte("v"), 300)...), "\x00\nq\n"...)}
	for seed := range uint64(10) {
		inputs = append(inputs, yearTestInput(seed))
	}
	for i, in := range inputs {
		for _, max := range []int{1, 2, 10, 11, 12, 40, 200, DefaultReplayMaxLineBytes} {
			var want []lineRecord
			wantErr := eachLine(bytes.NewReader(in), max, func(l []byte, o bool, n int) error {
				want = append(want, lineRecord{string(l), o, n})
				return nil
			})
			readers := map[string]func() io.Reader{
				"whole":     func() io.Reader { return bytes.NewReader(in) },
				"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in)) },
				"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(in)) },
				"data, EOF": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(in)) },
			}
			for name, r := range readers {
				got, err := inPlaceRecords(r(), max)
				if !errors.Is(err, wantErr) || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("input %d, max %d, %s reads: got %d lines (%v), want %d (%v)\ngot  %.300v\nwant %.300v", i, max, name, len(got), err, len(want), wantErr, got, want)
				}
			}
		}
	}
}

// TestEachLineInPlaceReadError checks that a read error ends the lines
// where eachLine ends them: the lines before it, not the partial one.
func TestEachLineInPlaceReadError(t *testing.T) {
	in := []byte("a b\nc d\ne f")
	for _, max := range []int{1, 3, 100} {
		var want []lineRecord
		wantErr := eachLine(iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(in))), max, func(l []byte, o bool, n int) error {
			want = append(want, lineRecord{string(l), o, n})
			return nil
		})
		got, err := inPlaceRecords(iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(in))), max)
		if !errors.Is(wantErr, iotest.ErrTimeout) || !errors.Is(err, iotest.ErrTimeout) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("max %d: got %v (%v), want %v (%v)", max, got, err, want, wantErr)
		}
	}
}

// inPlaceRecords runs eachLineInPlace and checks, at each release, that
// the lines handed on since the last one are unchanged.
func inPlaceRecords(r io.Reader, max int) ([]lineRecord, error) {
	var got []lineRecord
	var pending [][]byte
	var bad error
	err := eachLineInPlace(r, max, func(l []byte, o bool, n int, nul bool) error {
		if !nul && bytes.IndexByte(l, 0) >= 0 && bad == nil {
			bad = fmt.Errorf("line %q has a NUL byte, not flagged", l)
		}
		got = append(got, lineRecord{string(l), o, n})
		pending = append(pending, l)
		return nil
	}, func() error {
		for j, l := range pending {
			if rec := got[len(got)-len(pending)+j]; string(l) != rec.text && bad == nil {
				bad = fmt.Errorf("line %q changed to %q before release", rec.text, l)
			}
		}
		pending = pending[:0]
		return nil
	})
	if bad != nil {
		return got, bad
	}
	return got, err
}
