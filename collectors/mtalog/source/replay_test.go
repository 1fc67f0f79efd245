package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeLog writes text to path, gzipped when gz, with the given mtime.
func writeLog(t *testing.T, path, text string, gz bool, mtime time.Time) {
	t.Helper()
	data := []byte(text)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		if _, err := zw.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = b.Bytes()
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// countedReplay runs ReplayWith with a new recordSink for every run and
// counts, per path, the opens and the bytes read from the opened (and,
// for gzip, decompressed) file.
type countedReplay struct {
	sinks []*recordSink
	opens map[string]int
	read  map[string]int64
	// beforeOpen, when set, runs before each open, given how many times
	// the path was opened before.
	beforeOpen func(path string, opened int)
}

func (c *countedReplay) run(ctx context.Context, paths []string, o ReplayOptions) (ReplayStats, error) {
	c.sinks, c.opens, c.read = nil, map[string]int{}, map[string]int64{}
	o.open = func(path string) (io.Reader, os.FileInfo, func(), error) {
		if c.beforeOpen != nil {
			c.beforeOpen(path, c.opens[path])
		}
		r, fi, closeFn, err := openLog(path)
		if err != nil {
			return nil, nil, nil, err
		}
		c.opens[path]++
		return countingReader{r, path, c}, fi, closeFn, nil
	}
	return ReplayWith(ctx, paths, func() (Sink, error) {
		s := &recordSink{}
		c.sinks = append(c.sinks, s)
		return s, nil
	}, o)
}

// last is the sink of the last run, the one a caller keeps.
func (c *countedReplay) last() *recordSink { return c.sinks[len(c.sinks)-1] }

type countingReader struct {
	r    io.Reader
	path string
	c    *countedReplay
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.c.read[r.path] += int64(n)
	return n, err
}

// rotatedSet writes a rotated set, two gzipped and two plain files
// spanning New Year, with CRLF, an unterminated last line and a line of
// 141 bytes, and returns the paths oldest first and each file's text.
func rotatedSet(t *testing.T) (paths, texts []string) {
	dir := t.TempDir()
	files := []struct {
		name  string
		gz    bool
		lines []string
		mtime time.Time
	}{
		{"mail.log.3.gz", true, []string{"Dec 30 10:00:00 mx postfix/smtpd[1]: seq 1", "Dec 31 23:59:59 mx postfix/smtpd[1]: seq 2"}, time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)},
		{"mail.log.2.gz", true, []string{"Jan  1 00:00:01 mx postfix/smtpd[1]: seq 3", "Jan  1 00:00:02 mx postfix/smtpd[1]: seq 4\r"}, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"mail.log.1", false, []string{"Jan  2 00:00:00 mx postfix/smtpd[1]: seq 5 " + strings.Repeat("x", 100), "2026-01-03T00:00:00.5Z mx postfix/smtpd[1]: seq 6"}, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)},
		{"mail.log", false, []string{"Jan  4 00:00:00 mx postfix/smtpd[1]: seq 7", "Jan  4 00:00:01 mx postfix/smtpd[1]: seq 8"}, time.Date(2026, 1, 4, 0, 0, 1, 0, time.UTC)},
	}
	for i, f := range files {
		text := strings.Join(f.lines, "\n")
		if i != len(files)-1 {
			text += "\n" // the live file's last line has no LF yet
		}
		p := filepath.Join(dir, f.name)
		writeLog(t, p, text, f.gz, f.mtime)
		paths, texts = append(paths, p), append(texts, text)
	}
	return paths, texts
}

// TestReplayRotatedSet replays a rotated set oldest first and checks
// order, years, CRLF, the unterminated last line and an oversize line.
func TestReplayRotatedSet(t *testing.T) {
	paths, _ := rotatedSet(t)
	var c countedReplay
	st, err := c.run(context.Background(), paths, ReplayOptions{Name: "backfill", Location: time.UTC, MaxLineBytes: 80})
	if err != nil {
		t.Fatal(err)
	}
	sink := c.last()
	texts := sink.texts()
	checkNumbered(t, texts, 8)
	wantYears := []int{2025, 2025, 2026, 2026, 2026, 2026, 2026, 2026}
	for i, l := range sink.lines {
		if l.Time.Year() != wantYears[i] {
			t.Errorf("line %d %q dated %v, want year %d", i+1, texts[i], l.Time, wantYears[i])
		}
	}
	if strings.HasSuffix(texts[3], "\r") || len(texts[4]) != 80 {
		t.Errorf("CR kept or oversize not truncated: %q, %d bytes", texts[3], len(texts[4]))
	}
	if st.Files != 4 || st.Lines != 8 || st.OversizeLines != 1 || !sink.names["backfill"] ||
		!st.First.Equal(time.Date(2025, 12, 30, 10, 0, 0, 0, time.UTC)) || !st.Last.Equal(time.Date(2026, 1, 4, 0, 0, 1, 0, time.UTC)) {
		t.Errorf("stats %+v", st)
	}

	// A missing file stops the replay with its name.
	_, err = Replay(context.Background(), []string{filepath.Join(t.TempDir(), "nope")}, func() (Sink, error) { return &recordSink{}, nil }, "x")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: %v", err)
	}
}

// TestReplayReadsEachFileOnce replays files that span less than a year,
// plain and gzipped, across New Year and with an mtime in the year after
// the last line: each is opened once and read once to its end, into one
// sink.
func TestReplayReadsEachFileOnce(t *testing.T) {
	paths, texts := rotatedSet(t)
	corpus, err := os.ReadFile("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	// The corpus is more than one block of eachLineInPlace and of the
	// gzip reader; its lines are from November 26.
	dir := t.TempDir()
	for _, name := range []string{"corpus.gz", "corpus"} {
		p := filepath.Join(dir, name)
		writeLog(t, p, string(corpus), strings.HasSuffix(name, ".gz"), time.Date(2026, 1, 2, 6, 25, 0, 0, time.UTC))
		paths, texts = append(paths, p), append(texts, string(corpus))
	}
	var c countedReplay
	st, err := c.run(context.Background(), paths, ReplayOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.sinks) != 1 || st.Restarts != 0 {
		t.Errorf("%d sinks, %d restarts; want 1, 0", len(c.sinks), st.Restarts)
	}
	for i, p := range paths {
		if c.opens[p] != 1 || c.read[p] != int64(len(texts[i])) {
			t.Errorf("%s: opened %d times, %d bytes read; want once, %d bytes", filepath.Base(p), c.opens[p], c.read[p], len(texts[i]))
		}
	}
	// November's lines in files modified in January are last year's.
	if want := time.Date(2025, 11, 26, 7, 2, 41, 0, time.UTC); !st.First.Equal(want) {
		t.Errorf("first line %v, want %v", st.First, want)
	}
}

// rfc3164Lines renders times as numbered RFC 3164 lines, the year left
// out.
func rfc3164Lines(times []time.Time, from int) string {
	var b strings.Builder
	for i, tm := range times {
		fmt.Fprintf(&b, "%s mx postfix/smtpd[1]: seq %d\n", tm.Format(time.Stamp), from+i)
	}
	return b.String()
}

// checkTimes asserts that the sink holds exactly one line per time, in
// order, each dated as want says.
func checkTimes(t *testing.T, sink *recordSink, want []time.Time) {
	t.Helper()
	checkNumbered(t, sink.texts(), len(want))
	for i, l := range sink.lines {
		if !l.Time.Equal(want[i]) || l.Time.Location() != want[i].Location() {
			t.Errorf("line %q dated %v, want %v", l.Text, l.Time, want[i])
		}
	}
}

// Files whose first line's year the replay guesses wrong, with the times
// the rule (the last line in mtime's year, or the one before if its month
// is later than mtime's, and one year back at each month rollover) gives
// their lines, worked out by hand; and how many lines the replay hands to
// the first sink before it knows the guess is wrong.
var wrongGuessCases = []struct {
	name      string
	want      []time.Time
	mtime     time.Time
	firstSink int
}{
	{
		// Thirteen months: guessed as starting in mtime's year (February
		// is not after March), the walk passes 2026 at the second New
		// Year and stops handing lines on there.
		name: "thirteen months",
		want: []time.Time{
			time.Date(2025, 2, 10, 8, 0, 0, 0, time.UTC), time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 3, 20, 6, 0, 0, 0, time.UTC),
		},
		mtime:     time.Date(2026, 3, 20, 6, 0, 5, 0, time.UTC),
		firstSink: 3,
	},
	{
		// A line written before its predecessor (a clock stepped back
		// across a month end) is a rollover: the rule puts the lines
		// before it a year back.
		name: "month out of order",
		want: []time.Time{
			time.Date(2024, 11, 30, 23, 59, 58, 0, time.UTC), time.Date(2024, 12, 1, 0, 0, 1, 0, time.UTC),
			time.Date(2025, 11, 30, 23, 59, 59, 0, time.UTC), time.Date(2025, 12, 1, 0, 0, 2, 0, time.UTC),
		},
		mtime:     time.Date(2025, 12, 1, 0, 0, 3, 0, time.UTC),
		firstSink: 2,
	},
	{
		// mtime in February, last line in March (its writer's zone is
		// ahead of the replay's): the rule dates the last line a year
		// before mtime's, which shows only at the end.
		name: "mtime older than the last line",
		want: []time.Time{
			time.Date(2025, 2, 27, 10, 0, 0, 0, time.UTC), time.Date(2025, 3, 1, 0, 30, 0, 0, time.UTC),
		},
		mtime:     time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC),
		firstSink: 2,
	},
}

// TestReplayRestartsOnWrongYear checks that a file guessed wrong gets the
// rule's times from a second sink, which sees each line once, and that the
// first sink is dropped.
func TestReplayRestartsOnWrongYear(t *testing.T) {
	for _, c := range wrongGuessCases {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", c.name, gz), func(t *testing.T) {
				p := filepath.Join(t.TempDir(), "mail.log")
				writeLog(t, p, rfc3164Lines(c.want, 1), gz, c.mtime)
				var r countedReplay
				st, err := r.run(context.Background(), []string{p}, ReplayOptions{Location: time.UTC})
				if err != nil {
					t.Fatal(err)
				}
				if len(r.sinks) != 2 || st.Restarts != 1 || r.opens[p] != 2 {
					t.Fatalf("%d sinks, %d restarts, %d opens; want 2, 1, 2", len(r.sinks), st.Restarts, r.opens[p])
				}
				if n := r.sinks[0].count(); n != c.firstSink {
					t.Errorf("first sink got %d lines, want %d", n, c.firstSink)
				}
				checkTimes(t, r.last(), c.want)
				if st.Files != 1 || st.Lines != int64(len(c.want)) || !st.First.Equal(c.want[0]) || !st.Last.Equal(c.want[len(c.want)-1]) {
					t.Errorf("stats %+v are not the last run's alone", st)
				}
			})
		}
	}
}

// TestReplayRestartsFromTheFirstFile checks restarts in a set of files:
// the files before a wrong guess are read again into the new sink, the
// ones after it only once; with every file guessed wrong, each restart
// learns one more year.
func TestReplayRestartsFromTheFirstFile(t *testing.T) {
	nov := []time.Time{time.Date(2024, 11, 2, 0, 0, 0, 0, time.UTC), time.Date(2024, 11, 3, 0, 0, 0, 0, time.UTC)}
	thirteen := wrongGuessCases[0]
	mar := []time.Time{time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)}

	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "mail.log.2"), filepath.Join(dir, "mail.log.1.gz"), filepath.Join(dir, "mail.log")}
	writeLog(t, paths[0], rfc3164Lines(nov, 1), false, time.Date(2024, 11, 3, 0, 0, 1, 0, time.UTC))
	writeLog(t, paths[1], rfc3164Lines(thirteen.want, 3), true, thirteen.mtime)
	writeLog(t, paths[2], rfc3164Lines(mar, 3+len(thirteen.want)), false, time.Date(2026, 3, 21, 0, 0, 1, 0, time.UTC))
	var r countedReplay
	st, err := r.run(context.Background(), paths, ReplayOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.sinks) != 2 || st.Restarts != 1 || st.Files != 3 {
		t.Fatalf("%d sinks, %d restarts, %d files; want 2, 1, 3", len(r.sinks), st.Restarts, st.Files)
	}
	for i, want := range []int{2, 2, 1} {
		if r.opens[paths[i]] != want {
			t.Errorf("%s opened %d times, want %d", paths[i], r.opens[paths[i]], want)
		}
	}
	if n, want := r.sinks[0].count(), len(nov)+thirteen.firstSink; n != want {
		t.Errorf("first sink got %d lines, want %d", n, want)
	}
	want := append(append(append([]time.Time(nil), nov...), thirteen.want...), mar...)
	checkTimes(t, r.last(), want)

	// Three files each guessed wrong: three restarts, as many as files,
	// the bound.
	var all []time.Time
	for i, c := range wrongGuessCases {
		writeLog(t, paths[i], rfc3164Lines(c.want, len(all)+1), i == 1, c.mtime)
		all = append(all, c.want...)
	}
	st, err = r.run(context.Background(), paths, ReplayOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.sinks) != 4 || st.Restarts != 3 {
		t.Fatalf("%d sinks, %d restarts; want 4, 3", len(r.sinks), st.Restarts)
	}
	for i, want := range []int{4, 3, 2} {
		if r.opens[paths[i]] != want {
			t.Errorf("%s opened %d times, want %d", paths[i], r.opens[paths[i]], want)
		}
	}
	checkTimes(t, r.last(), all)
}

// TestReplayLearnedYearKept changes a file's mtime between the run that
// learns its year and the next: the next run dates it from the year
// learned, without checking it again, so the file causes one restart and
// not an unbounded series (a live file can change between runs).
func TestReplayLearnedYearKept(t *testing.T) {
	c := wrongGuessCases[0]
	p := filepath.Join(t.TempDir(), "mail.log")
	writeLog(t, p, rfc3164Lines(c.want, 1), false, c.mtime)
	r := countedReplay{beforeOpen: func(path string, opened int) {
		if opened == 1 {
			later := c.mtime.AddDate(1, 0, 0)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Error(err)
			}
		}
	}}
	st, err := r.run(context.Background(), []string{p}, ReplayOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if st.Restarts != 1 || r.opens[p] != 2 {
		t.Fatalf("%d restarts, %d opens; want 1, 2", st.Restarts, r.opens[p])
	}
	checkTimes(t, r.last(), c.want)
}

// TestReplayNewSinkError checks that newSink's error ends the replay
// before any file is read.
func TestReplayNewSinkError(t *testing.T) {
	paths, _ := rotatedSet(t)
	errNoSink := errors.New("no sink")
	st, err := Replay(context.Background(), paths, func() (Sink, error) { return nil, errNoSink }, "x")
	if !errors.Is(err, errNoSink) || st.Files != 0 || st.Lines != 0 {
		t.Errorf("got %+v, %v; want nothing read and %v", st, err, errNoSink)
	}
}

func TestReplayManyBatches(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.log")
	var b strings.Builder
	const n = 5000
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "Nov 26 05:31:21 mx postfix/smtpd[1]: seq %d\n", i)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var r countedReplay
	st, err := r.run(context.Background(), []string{p}, ReplayOptions{Name: "big"})
	if err != nil {
		t.Fatal(err)
	}
	checkNumbered(t, r.last().texts(), n)
	if st.Bytes != int64(b.Len()) {
		t.Errorf("bytes %d, want %d", st.Bytes, b.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.run(ctx, []string{p}, ReplayOptions{Name: "big"}); err == nil {
		t.Error("a cancelled replay returned no error")
	}
}

// TestReplayKeepsTheLineAfterNULs: a run of NUL bytes (a log file
// preallocated, then a crash) before a line does not cost the line: NULs
// are dropped as the live follower drops them, so the line reads as
// itself.
func TestReplayKeepsTheLineAfterNULs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	var b strings.Builder
	for i := 1; i <= 5; i++ {
		if i == 3 {
			b.WriteString(strings.Repeat("\x00", 4096))
		}
		fmt.Fprintf(&b, "Nov 26 05:31:%02d mx postfix/smtpd[1]: seq %06d\n", i, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var c countedReplay
	st, err := c.run(context.Background(), []string{path}, ReplayOptions{Name: "r", Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	texts := c.last().texts()
	checkNumbered(t, texts, 5)
	if st.Lines != 5 || !strings.HasPrefix(texts[2], "Nov 26 05:31:03 ") {
		t.Errorf("%d lines, the third begins %.40q", st.Lines, texts[2])
	}
}

// TestReplayStampLen: a replayed line's StampLen is StampLen(Text) or,
// for an RFC 3164 line whose time repeats the line before's, 0 (not
// read); lines with a year always carry it, and a line without a stamp
// has 0. The Exim parser skips that many bytes without reading the stamp.
func TestReplayStampLen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mainlog")
	text := "2026-12-06 07:54:26 a\n2026-12-06 07:54:26.123 b\n2026-12-06 07:54:26.5 +0100 c\n2026-12-06 07:54:27 d\n" +
		"Dec  6 07:54:26 mx x[1]: e\nDec  6 07:54:26 mx x[1]: f\n2026-12-06T07:54:26.123456+00:00 mx x: g\n" +
		"2026-12-06T07:54:26.1Z mx x: h\nno stamp\n2026-12-06 07:54:2\x00\x006 i\n2026-12-06 07:54:26x j\n"
	writeLog(t, path, text, false, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	s := &recordSink{}
	if _, err := Replay(context.Background(), []string{path}, func() (Sink, error) { return s, nil }, "x"); err != nil {
		t.Fatal(err)
	}
	if len(s.lines) != 11 {
		t.Fatalf("%d lines", len(s.lines))
	}
	for i, l := range s.lines {
		want := StampLen(l.Text)
		if i == 5 {
			want = 0 // the line before's RFC 3164 time, repeated
		}
		if l.StampLen != want {
			t.Errorf("line %q: StampLen %d, want %d", l.Text, l.StampLen, want)
		}
	}
}
