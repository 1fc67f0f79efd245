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
	var arena []byte
	var ends []int
	var times []time.Time
	flush := func() error {
		if len(ends) == 0 {
			return nil
		}
		batch.Lines = batch.Lines[:0]
		start := 0
		for i, end := range ends {
			batch.Lines = append(batch.Lines, Line{Time: times[i], Text: arena[start:end]})
			start = end
		}
		sink.HandleBatch(batch)
		arena, ends, times = arena[:0], ends[:0], times[:0]
		return ctx.Err()
	}
	err = eachLine(r, o.MaxLineBytes, func(line []byte, oversize bool, n int) error {
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
		arena = append(arena, line...)
		ends = append(ends, len(arena))
		times = append(times, t)
		if len(ends) >= replayBatchLines || len(arena) >= replayBatchBytes {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
