package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Replay bounds.
const (
	// DefaultReplayMaxLineBytes bounds a replayed line, as the file
	// follower's default does.
	DefaultReplayMaxLineBytes = 64 << 10
	replayBatchLines          = 512
	replayBatchBytes          = 1 << 20
)

// ReplayStats says what a replay read.
type ReplayStats struct {
	Files         int
	Lines, Bytes  int64
	OversizeLines int64
	// First and Last are the earliest and latest line timestamps seen
	// (zero when no line had one).
	First, Last time.Time
}

// ReplayOptions tune ReplayWith; zero values are the defaults.
type ReplayOptions struct {
	// Name is the Batch.Source of the lines (the `source` label).
	Name string
	// Location is the zone of RFC 3164 timestamps; nil is the local zone.
	Location *time.Location
	// MaxLineBytes bounds a line; longer ones are truncated and counted.
	MaxLineBytes int
}

// Replay reads whole log files, plain or gzipped (recognised by their
// content, not their name), in the order given, which must be oldest first
// (mail.log.3.gz mail.log.2.gz mail.log.1 mail.log), and hands every line
// to sink under the source name. It is what `mailscope replay` and
// backfills use.
//
// RFC 3164 timestamps have no year: each file's lines are dated walking
// back from the file's modification time (the time of its last line), one
// year back at each month rollover (a line in January after one in
// December). A gzipped file is therefore read twice. RFC 3339 timestamps
// are used as they are. Replay stops at the first file it cannot read, or
// when ctx ends, and returns what it read so far.
func Replay(ctx context.Context, paths []string, sink Sink, name string) (ReplayStats, error) {
	return ReplayWith(ctx, paths, sink, ReplayOptions{Name: name})
}

// ReplayWith is Replay with options.
func ReplayWith(ctx context.Context, paths []string, sink Sink, o ReplayOptions) (ReplayStats, error) {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultReplayMaxLineBytes
	}
	var st ReplayStats
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if err := replayFile(ctx, p, sink, o, &st); err != nil {
			return st, fmt.Errorf("replay %s: %w", p, err)
		}
		st.Files++
	}
	return st, nil
}

// openLog opens a plain or gzipped file for reading from its start.
func openLog(path string) (io.Reader, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close(); f.Close() }, nil
	}
	return br, func() { f.Close() }, nil
}

// eachLine calls fn for every line of r without its terminator (CRLF or
// LF), truncating lines to max bytes. fn's slice is valid only during the
// call. It returns the bytes read.
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

// countRollovers is the first pass of replayFile: yearCounter.add over
// every line as eachLine would split it, without eachLine's per-line
// reads. yearCounter looks at no more than a line's first 16 bytes, so
// lines are found with one vectorised search per line over large reads and
// only their starts are kept; a line longer than max is cut by eachLine
// after at least 16 bytes when max > 16 (smaller bounds take eachLine).
func countRollovers(r io.Reader, max int) (yearCounter, error) {
	var yc yearCounter
	if max <= headLen {
		err := eachLine(r, max, func(line []byte, _ bool, _ int) error { yc.add(line); return nil })
		return yc, err
	}
	buf := make([]byte, 256<<10)
	// head keeps the start of a line that goes on past the end of a read.
	var head [headLen]byte
	kept, seen := 0, 0 // bytes of the current line in head, and in all
	for {
		n, err := r.Read(buf)
		b := buf[:n]
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			part := b
			if i >= 0 {
				part = b[:i]
				b = b[i+1:]
			} else {
				b = nil
			}
			if seen == 0 && i >= 0 {
				// The whole line is in this read: no copy.
				yc.add(lineStart(part, len(part)))
				continue
			}
			kept += copy(head[kept:], part)
			seen += len(part)
			if i < 0 {
				break
			}
			yc.add(lineStart(head[:kept], seen))
			kept, seen = 0, 0
		}
		if errors.Is(err, io.EOF) {
			if seen > 0 {
				yc.add(lineStart(head[:kept], seen))
			}
			return yc, nil
		}
		if err != nil {
			return yc, err
		}
	}
}

// headLen is how much of a line's start countRollovers keeps.
const headLen = 16

// lineStart is the start of a line as eachLine hands it on (its CR
// removed) for yearCounter, given at least its first headLen bytes and
// its length without the LF.
func lineStart(start []byte, n int) []byte {
	if n <= headLen {
		return bytes.TrimSuffix(start[:n], []byte("\r"))
	}
	return start[:headLen]
}

func replayFile(ctx context.Context, path string, sink Sink, o ReplayOptions, st *ReplayStats) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	// First pass: the month rollovers, to find the first line's year.
	r, closeFn, err := openLog(path)
	if err != nil {
		return err
	}
	yc, err := countRollovers(r, o.MaxLineBytes)
	closeFn()
	if err != nil {
		return err
	}
	walker := &yearWalker{year: yc.startYear(fi.ModTime().In(o.Location)), loc: o.Location}

	r, closeFn, err = openLog(path)
	if err != nil {
		return err
	}
	defer closeFn()
	batch := &Batch{Source: o.Name}
	var size int // bytes of the lines in batch
	flush := func() error {
		if len(batch.Lines) == 0 {
			return nil
		}
		sink.HandleBatch(batch)
		batch.Lines, size = batch.Lines[:0], 0
		return ctx.Err()
	}
	// The lines stay in eachLineInPlace's buffer until flush hands them
	// on, which it does before the buffer is reused: no copy per line.
	err = eachLineInPlace(r, o.MaxLineBytes, func(line []byte, oversize bool, n int) error {
		t := walker.lineTime(line)
		if !t.IsZero() {
			if st.First.IsZero() || t.Before(st.First) {
				st.First = t
			}
			if t.After(st.Last) {
				st.Last = t
			}
		}
		st.Lines++
		st.Bytes += int64(n)
		if oversize {
			st.OversizeLines++
		}
		batch.Lines = append(batch.Lines, Line{Time: t, Text: line})
		size += len(line)
		if len(batch.Lines) >= replayBatchLines || size >= replayBatchBytes {
			return flush()
		}
		return nil
	}, flush)
	if err != nil {
		return err
	}
	return flush()
}

// eachLineInPlace is eachLine (the same lines, oversize flags and byte
// counts) without a read per line or a copy of each line: it reads r in
// large blocks and hands fn slices of its buffer. A line stays valid until
// eachLineInPlace calls release, which it does before it overwrites the
// buffer (and after an oversize line that did not fit in it, whose kept
// part is in a buffer of its own), so a caller can collect lines and hand
// them on in release.
func eachLineInPlace(r io.Reader, max int, fn func(line []byte, oversize bool, n int) error, release func() error) error {
	// eachLine's bufio.Reader holds at least 16 bytes, so a line is
	// oversize when it is longer than lim, and then cut to max bytes.
	lim := maxInt(max, 15)
	// Room for a batch's worth of lines plus a partial line of up to lim
	// bytes moved to the front.
	buf := make([]byte, replayBatchBytes+2*(lim+1))
	start, end := 0, 0 // the bytes not handed on yet
	var long []byte    // the kept part of an oversize line that outgrew buf
	skipping := false  // reading past the kept part of such a line
	longN := 0         // that line's bytes so far
	// hand hands on the complete lines in buf[start:end], and at EOF the
	// last one without its newline.
	hand := func(atEOF bool) error {
		for start < end {
			i := bytes.IndexByte(buf[start:end], '\n')
			n := i + 1
			if i < 0 {
				switch {
				case atEOF:
					i, n = end-start, end-start
				case skipping:
					longN += end - start
					start = end
					return nil
				case end-start > lim:
					// Longer than max and not ended yet: keep its
					// first max bytes, count the rest as it comes.
					long = append(long[:0], buf[start:start+max]...)
					skipping, longN = true, end-start
					start = end
					return nil
				default:
					return nil
				}
			}
			line := buf[start : start+i]
			start += n
			if skipping {
				skipping = false
				if err := fn(bytes.TrimSuffix(long, []byte("\r")), true, longN+n); err != nil {
					return err
				}
				// long is reused by the next such line.
				if err := release(); err != nil {
					return err
				}
				continue
			}
			oversize := i > lim
			if oversize {
				line = line[:max]
			}
			if err := fn(bytes.TrimSuffix(line, []byte("\r")), oversize, n); err != nil {
				return err
			}
		}
		if atEOF && skipping {
			skipping = false
			return fn(bytes.TrimSuffix(long, []byte("\r")), true, longN)
		}
		return nil
	}
	for empty := 0; ; {
		if err := hand(false); err != nil {
			return err
		}
		// Every complete line is handed on: release them, move the
		// partial line to the front and read more.
		if err := release(); err != nil {
			return err
		}
		end = copy(buf, buf[start:end])
		start = 0
		n, err := r.Read(buf[end:])
		end += n
		switch {
		case err == nil && n == 0:
			// As bufio does for a reader that never makes progress.
			if empty++; empty >= 100 {
				return io.ErrNoProgress
			}
		case err == nil:
			empty = 0
		case errors.Is(err, io.EOF):
			return hand(true)
		default:
			// As eachLine: the lines before the error, not the
			// partial one.
			if herr := hand(false); herr != nil {
				return herr
			}
			return err
		}
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
