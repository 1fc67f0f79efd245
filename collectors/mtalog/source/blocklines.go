package source

import (
	"bytes"
	"errors"
	"io"
	"math"
)

// blockLines splits a reader into lines in place: it reads large blocks
// and hands out slices of its buffer, no copy per line. Each line comes
// without its terminator (CRLF or LF); a line longer than max bytes (or
// than 15, for a smaller max) is cut to max and flagged oversize. The
// lines, flags, counts and errors are those of a bufio.Reader of max+1
// bytes read a line at a time (eachLine in the tests, the reference it is
// checked against).
//
// It is an iterator rather than a function calling back per line because
// the replay runs on every line of a file: its loop calls next, a direct
// call, and keeps its own state in its own locals. Through a callback
// (eachLineInPlace, now only the tests' adapter), each line cost an
// indirect call, and every variable the closures shared was read and
// written through memory: together more than the search for the newline.
//
// Use: call next until it returns false, then release every line taken
// (they live in the buffer) through fill's release, and go on while fill
// returns true.
type blockLines struct {
	r        io.Reader
	max, lim int
	buf      []byte
	// start and end bound the bytes not handed on yet.
	start, end int
	// nul is the index in buf of the first NUL byte at or after start,
	// noNUL when buf[start:end] has none: one search per block read, not
	// one per line, tells which lines may hold one.
	nul   int
	state lineState
	// long is the kept part of an oversize line that outgrew buf, and
	// longN that line's bytes so far.
	long  []byte
	longN int
	// eof is set when the reader is done: the bytes left are the last
	// line. err is a read error to return once the complete lines before
	// it are handed on.
	eof   bool
	err   error
	empty int // reads in a row that returned nothing
}

// lineState is where blockLines is in a line that outgrew its buffer.
type lineState uint8

const (
	// inLine is the common state: no line outgrew the buffer.
	inLine lineState = iota
	// skipping: reading past the kept part (long) of a line that
	// outgrew the buffer, counting its bytes.
	skipping
	// longHanded: that line was just handed on, and long is reused by the
	// next such line: next stops until fill has released it.
	longHanded
)

// noNUL is blockLines.nul when there is no NUL byte ahead: a value no
// line end reaches, so "a NUL before this line's end" is one compare.
const noNUL = math.MaxInt

// newBlockLines returns a splitter of r's lines bounded by max bytes.
func newBlockLines(r io.Reader, max int) *blockLines {
	// A bufio.Reader holds at least 16 bytes, so there a line is
	// oversize when it is longer than lim, and then cut to max bytes.
	lim := maxInt(max, 15)
	return &blockLines{
		r: r, max: max, lim: lim, nul: noNUL,
		// Room for a batch's worth of lines plus a partial line of up to
		// lim bytes moved to the front.
		buf: make([]byte, replayBatchBytes+2*(lim+1)),
	}
}

// next returns the next line, whether it was cut (oversize), its bytes as
// read (n, with the terminator) and whether it may hold a NUL byte (nul;
// when false it holds none). ok is false when the lines in the buffer are
// used up: the caller calls fill. A line stays valid until then.
func (b *blockLines) next() (line []byte, oversize bool, n int, nul bool, ok bool) {
	start := b.start
	i := bytes.IndexByte(b.buf[start:b.end], '\n')
	if i < 0 || b.state != inLine {
		return b.nextSlow(i)
	}
	line = b.buf[start : start+i]
	nul = b.nul < start+i
	n = i + 1
	b.start = start + n
	if nul {
		b.nextNUL()
	}
	if i > b.lim {
		line, oversize = line[:b.max], true
	}
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	return line, oversize, n, nul, true
}

// nextSlow is next for a line that outgrew the buffer, for the last line
// of the input (without a newline), and when no complete line is left; i
// is the index of the next newline after start, -1 for none.
func (b *blockLines) nextSlow(i int) (line []byte, oversize bool, n int, nul bool, ok bool) {
	switch {
	case b.state == longHanded:
		return nil, false, 0, false, false
	case i < 0 && !b.eof:
		return nil, false, 0, false, false
	case i < 0 && b.start == b.end:
		if b.state != skipping {
			return nil, false, 0, false, false
		}
		// The input ended in a line that outgrew the buffer.
		b.state = inLine
		return bytes.TrimSuffix(b.long, []byte("\r")), true, b.longN, true, true
	case i < 0:
		// The last line, without a newline.
		i = b.end - b.start
		n = i
	default:
		n = i + 1
	}
	start := b.start
	nul = b.nul < start+i
	b.start = start + n
	if nul {
		b.nextNUL()
	}
	if b.state == skipping {
		// long is reused by the next such line: it is released before
		// fill can overwrite it.
		b.state = longHanded
		return bytes.TrimSuffix(b.long, []byte("\r")), true, b.longN + n, true, true
	}
	line = b.buf[start : start+i]
	if i > b.lim {
		line, oversize = line[:b.max], true
	}
	if k := len(line); k > 0 && line[k-1] == '\r' {
		line = line[:k-1]
	}
	return line, oversize, n, nul, true
}

// nextNUL moves nul to the first NUL byte at or after start, once the
// line holding the last one was handed on.
func (b *blockLines) nextNUL() {
	if b.nul >= b.start {
		return
	}
	b.nul = noNUL
	if j := bytes.IndexByte(b.buf[b.start:b.end], 0); j >= 0 {
		b.nul = b.start + j
	}
}

// fill calls release, which must let go of every line next returned, then
// reads the next block. It returns false when there are no more lines, or
// release or the read failed (err; nil at the end of the input). At the
// end it does not call release: the caller has the last lines to hand on.
func (b *blockLines) fill(release func() error) (bool, error) {
	switch {
	case b.state == longHanded:
		b.state = inLine
		if err := release(); err != nil {
			return false, err
		}
		return true, nil
	case b.eof:
		return false, nil
	case b.err != nil:
		return false, b.err
	}
	// The partial line at the end of the buffer: a line that outgrew it
	// is counted as it comes; one longer than max and not ended yet
	// starts doing so, keeping its first max bytes.
	switch {
	case b.state == skipping:
		b.longN += b.end - b.start
		b.start = b.end
	case b.end-b.start > b.lim:
		b.long = append(b.long[:0], b.buf[b.start:b.start+b.max]...)
		b.state, b.longN = skipping, b.end-b.start
		b.start = b.end
	}
	if err := release(); err != nil {
		return false, err
	}
	// Move the partial line to the front and read more.
	b.end = copy(b.buf, b.buf[b.start:b.end])
	b.start = 0
	n, err := b.r.Read(b.buf[b.end:])
	b.end += n
	b.nul = noNUL
	if j := bytes.IndexByte(b.buf[:b.end], 0); j >= 0 {
		b.nul = j
	}
	switch {
	case err == nil && n == 0:
		// As bufio does for a reader that never makes progress.
		if b.empty++; b.empty >= 100 {
			return false, io.ErrNoProgress
		}
	case err == nil:
		b.empty = 0
	case errors.Is(err, io.EOF):
		b.eof = true
	default:
		// As a bufio.Reader: the lines before the error, not the
		// partial one.
		b.err = err
	}
	return true, nil
}
