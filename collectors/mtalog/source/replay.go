package source

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Replay bounds.
const (
	// DefaultReplayMaxLineBytes bounds a replayed line, as the file
	// follower's default does.
	DefaultReplayMaxLineBytes = 64 << 10
	replayBatchLines          = 512
	// replayBatchBytes is also the block the replay reads at a time. A
	// block is copied in by the kernel, searched for NULs and newlines,
	// then its lines are dated and parsed: at 64 KiB (with the two
	// line-sized margins, a 192 KiB buffer) it stays in a core's L2
	// cache through all of that, even when a sibling hardware thread
	// takes half of it, where a 1 MiB block was evicted before its last
	// lines were parsed and read again from memory. Same instructions; a
	// 128 KiB block took about a fifth off the Exim pipeline's time in
	// alternating runs, and 64 KiB misses the cache half as often again
	// (docs/benchmarks.md, Exim pipeline, "Third round").
	replayBatchBytes = 64 << 10
)

// ReplayStats says what a replay read.
type ReplayStats struct {
	Files         int
	Lines, Bytes  int64
	OversizeLines int64
	// First and Last are the earliest and latest line timestamps seen
	// (zero when no line had one).
	First, Last time.Time
	// Restarts counts the times the replay started over with a new sink
	// because a file's RFC 3164 lines were in other years than guessed
	// (see Replay); the other fields are the last run's.
	Restarts int
}

// ReplayOptions tune ReplayWith; zero values are the defaults.
type ReplayOptions struct {
	// Name is the Batch.Source of the lines (the `source` label).
	Name string
	// Location is the zone of RFC 3164 timestamps; nil is the local zone.
	Location *time.Location
	// MaxLineBytes bounds a line; longer ones are truncated and counted.
	MaxLineBytes int

	// open opens a file to replay; nil is openLog. Tests count the opens
	// and the bytes read through it.
	open func(path string) (io.Reader, os.FileInfo, func(), error)
}

// Replay reads whole log files, plain or gzipped (recognised by their
// content, not their name), in the order given, which must be oldest first
// (mail.log.3.gz mail.log.2.gz mail.log.1 mail.log), and hands every line
// under the source name to a sink from newSink. It is what `mailscope
// replay` and backfills use.
//
// RFC 3164 timestamps have no year: each file's lines are dated walking
// back from the file's modification time (the time of its last line), one
// year back at each month rollover (a line in January after one in
// December). RFC 3339 timestamps are used as they are. A file is read
// once: the year of its first line is guessed as if the file spans less
// than a year, and checked at its end (see yearWalker). When the guess was
// wrong (a file spanning more than a year, a month out of order, an mtime
// older than the last line), the lines handed on had wrong years: Replay
// drops that sink, asks newSink for a fresh one and starts over from the
// first file, with that file's year now known. Each restart learns one
// more file's year, so there are at most len(paths); a caller keeps only
// the last sink newSink returned.
//
// Replay stops at the first file it cannot read, at newSink's first error
// (returned as it is), or when ctx ends, and returns what the last run
// read so far.
func Replay(ctx context.Context, paths []string, newSink func() (Sink, error), name string) (ReplayStats, error) {
	return ReplayWith(ctx, paths, newSink, ReplayOptions{Name: name})
}

// ReplayWith is Replay with options.
func ReplayWith(ctx context.Context, paths []string, newSink func() (Sink, error), o ReplayOptions) (ReplayStats, error) {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = DefaultReplayMaxLineBytes
	}
	if o.open == nil {
		o.open = openLog
	}
	// learned holds the start years of files whose guess was wrong, by
	// index in paths. Their walks are not checked again, so no file can
	// cause two restarts.
	learned := map[int]int{}
	for restarts := 0; ; restarts++ {
		if restarts > len(paths) {
			// Each restart learns one more file's year: more restarts
			// than files is a bug here, reported rather than looped on.
			return ReplayStats{Restarts: restarts}, fmt.Errorf("replay: started over %d times for %d files (a bug in the year inference)", restarts, len(paths))
		}
		sink, err := newSink()
		if err != nil {
			return ReplayStats{Restarts: restarts}, err
		}
		st := ReplayStats{Restarts: restarts}
		again, err := replayRun(ctx, paths, sink, o, learned, &st)
		if !again || err != nil {
			return st, err
		}
	}
}

// replayRun replays paths into sink once. It returns true, having added
// the right start year to learned, when a file's guessed year was wrong;
// the sink then has had lines with wrong times.
func replayRun(ctx context.Context, paths []string, sink Sink, o ReplayOptions, learned map[int]int, st *ReplayStats) (bool, error) {
	for i, p := range paths {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		start, known := learned[i]
		right, ok, err := replayFile(ctx, p, sink, o, start, known, st)
		if err != nil {
			return false, fmt.Errorf("replay %s: %w", p, err)
		}
		if !ok {
			learned[i] = right
			return true, nil
		}
		st.Files++
	}
	return false, nil
}

// openLog opens a plain or gzipped file for reading from its start, and
// returns the file's metadata as it was when opened.
func openLog(path string) (io.Reader, os.FileInfo, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, fi, func() { zr.Close(); f.Close() }, nil
	}
	return br, fi, func() { f.Close() }, nil
}

// replayFile hands the lines of one file to sink, dated from start when
// known, else from a guess. It returns the file's right start year and
// whether the lines got it; when not, it stops handing lines on as soon as
// the guess is certainly wrong and reads on only to count the rollovers.
//
// This loop runs on every line of a replay: it calls blockLines and the
// walker directly and keeps First and Last as numbers (timeSpan), so a
// line costs little more than the search for its newline.
func replayFile(ctx context.Context, path string, sink Sink, o ReplayOptions, start int, known bool, st *ReplayStats) (int, bool, error) {
	r, fi, closeFn, err := o.open(path)
	if err != nil {
		return 0, false, err
	}
	defer closeFn()
	walker := newYearWalker(fi.ModTime(), o.Location, start, known)
	batch := &Batch{Source: o.Name, Lines: make([]Line, 0, replayBatchLines)}
	var size int // bytes of the lines in batch
	// The lines stay in the blockLines buffer until flush hands them on,
	// which fill has it do before the buffer is reused: no copy per line.
	flush := func() error {
		if len(batch.Lines) > 0 {
			sink.HandleBatch(batch)
			batch.Lines, size = batch.Lines[:0], 0
		}
		return ctx.Err()
	}
	span := spanOf(st)
	lines := newBlockLines(r, o.MaxLineBytes)
	for {
		line, oversize, n, nul, ok := lines.next()
		if !ok {
			more, err := lines.fill(flush)
			if err != nil {
				return 0, false, err
			}
			if !more {
				break
			}
			continue
		}
		// NUL bytes (a preallocated or crashed log) are dropped, as the
		// live follower drops them, so the line after a run of them
		// reads as itself. Only a line blockLines saw one in is
		// searched.
		if nul && bytes.IndexByte(line, 0) >= 0 {
			line = withoutNULs(line)
		}
		t, stampLen, fresh := walker.lineTimeFresh(line)
		if walker.wrong {
			// The sink will be dropped: only the walk goes on.
			continue
		}
		// A time the walker repeats from the line before is already in
		// First and Last; most lines of a busy log repeat it.
		if fresh && !t.IsZero() {
			if sec, ns := t.Unix(), t.Nanosecond(); span.outside(sec, ns) {
				span.widen(t, sec, ns, st)
			}
		}
		st.Lines++
		st.Bytes += int64(n)
		if oversize {
			st.OversizeLines++
		}
		// The fields are stored in place, not through a Line built and
		// then copied.
		k := len(batch.Lines)
		if k == cap(batch.Lines) {
			batch.Lines = append(batch.Lines, Line{})
		} else {
			batch.Lines = batch.Lines[:k+1]
		}
		l := &batch.Lines[k]
		l.Time, l.Text, l.StampLen = t, line, stampLen
		size += len(line)
		if len(batch.Lines) >= replayBatchLines || size >= replayBatchBytes {
			if err := flush(); err != nil {
				return 0, false, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, false, err
	}
	right, ok := walker.startYear()
	return right, ok, nil
}

// timeSpan keeps ReplayStats.First and Last as Unix seconds and
// nanoseconds too: every dated line is compared with both, and comparing
// integers costs a few instructions where time.Time.Before and After are
// a call each, with six words of arguments. The order is theirs: an
// instant strictly before First (after Last) replaces it, so of equal
// instants in different zones the first seen stays.
type timeSpan struct {
	// firstSec is math.MaxInt64 while First is zero (no bound yet), so
	// the first time is before it.
	firstSec, lastSec int64
	firstNs, lastNs   int
}

// spanOf is the span of st's First and Last.
func spanOf(st *ReplayStats) timeSpan {
	s := timeSpan{
		firstSec: st.First.Unix(), firstNs: st.First.Nanosecond(),
		lastSec: st.Last.Unix(), lastNs: st.Last.Nanosecond(),
	}
	if st.First.IsZero() {
		s.firstSec = math.MaxInt64
	}
	return s
}

// outside reports whether the time sec, ns (Unix) is before First or
// after Last. Most lines are within the span already, or just after it:
// the check is small enough to be inlined in the replay's loop.
func (s *timeSpan) outside(sec int64, ns int) bool {
	return sec > s.lastSec || sec < s.firstSec || sec == s.lastSec && ns > s.lastNs || sec == s.firstSec && ns < s.firstNs
}

// widen moves First or Last of st to t, at sec, ns, if outside them.
func (s *timeSpan) widen(t time.Time, sec int64, ns int, st *ReplayStats) {
	if sec < s.firstSec || sec == s.firstSec && ns < s.firstNs {
		st.First, s.firstSec, s.firstNs = t, sec, ns
	}
	if sec > s.lastSec || sec == s.lastSec && ns > s.lastNs {
		st.Last, s.lastSec, s.lastNs = t, sec, ns
	}
}

// withoutNULs removes NUL bytes from line in place.
func withoutNULs(line []byte) []byte {
	w := 0
	for _, c := range line {
		if c != 0 {
			line[w] = c
			w++
		}
	}
	return line[:w]
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}
