package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var updateReplay = flag.Bool("update", false, "rewrite the replay golden files in testdata/")

// The committed real-Postfix corpus (written by a real Postfix 3.7.11,
// collectors/mtalog/postfix/testdata/gen-corpus.sh) and the pipeline's
// golden exposition of it: replay must print exactly that, however the
// corpus is split and compressed.
const (
	replayCorpus     = "../../collectors/mtalog/postfix/testdata/real-postfix.log"
	replayPromGolden = "../../collectors/mtalog/pipeline/testdata/real-postfix.prom"
)

func runReplay(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"replay", "--timezone=UTC"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestReplayGoldens replays a copy of the corpus dated by its mtime in
// 2025 (a checkout's mtime would make the years vary) in each format.
func TestReplayGoldens(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	corpus := filepath.Join(t.TempDir(), "mail.log")
	writeWithMtime(t, corpus, raw, time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC))
	for _, c := range []struct {
		format, golden string
	}{
		{"prom", replayPromGolden},
		{"summary", filepath.Join("testdata", "replay-real-postfix.summary")},
		{"json", filepath.Join("testdata", "replay-real-postfix.json")},
	} {
		t.Run(c.format, func(t *testing.T) {
			code, got, stderr := runReplay(t, "--format="+c.format, "--source=maillog", corpus)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if *updateReplay && c.format != "prom" {
				if err := os.WriteFile(c.golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(c.golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("replay --format=%s differs from %s (run with -update and review the diff):\n%s", c.format, c.golden, lineDiffText(string(want), got))
			}
		})
	}
}

// TestReplaySplitGzip splits the corpus into an older gzipped file and a
// newer plain one, dated in 2025 by their mtimes: replaying them oldest
// first must count exactly what the single file counts (messages queued in
// the first and removed in the second included), and every line must get
// the year of its file's mtime, also when the newer file's mtime is in the
// next year (a file rotated in January holding November lines).
func TestReplaySplitGzip(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	half := len(lines) / 2
	// Move the split past a line where a message is still in the queue,
	// so correlation across the files matters.
	for !strings.Contains(lines[half], ": from=<") {
		half++
	}
	half++
	dir := t.TempDir()
	older := filepath.Join(dir, "mail.log.1.gz")
	newer := filepath.Join(dir, "mail.log")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write([]byte(strings.Join(lines[:half], ""))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeWithMtime(t, older, gz.Bytes(), time.Date(2025, 11, 26, 7, 4, 0, 0, time.UTC))
	want, err := os.ReadFile(replayPromGolden)
	if err != nil {
		t.Fatal(err)
	}
	for _, newerMtime := range []time.Time{
		time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 6, 25, 0, 0, time.UTC),
	} {
		writeWithMtime(t, newer, []byte(strings.Join(lines[half:], "")), newerMtime)
		code, got, stderr := runReplay(t, "--format=prom", "--source=maillog", older, newer)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if got != string(want) {
			t.Errorf("newer mtime %s: split replay differs from the single file's:\n%s", newerMtime, lineDiffText(string(want), got))
		}
		c := replayJSON(t, older, newer)
		if c.Files != 2 || c.Lines != int64(len(lines)-1) || c.First != "2025-11-26T07:02:41Z" || c.Last != "2025-11-26T07:04:51Z" {
			t.Errorf("newer mtime %s: files=%d lines=%d first=%s last=%s, want 2 %d 2025-11-26T07:02:41Z 2025-11-26T07:04:51Z",
				newerMtime, c.Files, c.Lines, c.First, c.Last, len(lines)-1)
		}
	}
}

// TestReplayRestartPrintsLastPipeline replays the corpus after two lines
// of another program from a year before: the file spans more than a year,
// so the replay guesses its year wrong, finds out at the corpus's first
// line and starts over on a new pipeline. The counts must be the corpus's
// plus those two lines once, read from the last pipeline only (the first
// saw the two lines alone).
func TestReplayRestartPrintsLastPipeline(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mtime := time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC)
	plain := filepath.Join(dir, "corpus.log")
	writeWithMtime(t, plain, raw, mtime)
	long := filepath.Join(dir, "mail.log")
	writeWithMtime(t, long, append([]byte("Nov  1 00:00:00 mx CRON[1]: (root) CMD (true)\nDec  1 00:00:00 mx CRON[1]: (root) CMD (true)\n"), raw...), mtime)
	want := replayJSON(t, plain)
	want.Lines += 2
	want.Foreign += 2
	want.UnparsedShare = float64(want.Unparsed) / float64(want.Lines)
	want.First = "2024-11-01T00:00:00Z"
	if got := replayJSON(t, long); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestReplayExitCodes(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.gz")
	// A gzip header, then garbage: recognised as gzip, unreadable.
	writeWithMtime(t, corrupt, append([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{0xff}, 64)...), time.Now())
	truncated := filepath.Join(dir, "truncated.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeWithMtime(t, truncated, gz.Bytes()[:gz.Len()/2], time.Now())
	for _, c := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"missing file", []string{filepath.Join(dir, "nope.log")}, "does not exist"},
		{"directory", []string{dir}, "is a directory"},
		{"corrupt gzip", []string{replayCorpus, corrupt}, "corrupt.gz"},
		{"truncated gzip", []string{truncated}, "unexpected EOF"},
		{"unknown mta", []string{"--mta=sendmail", replayCorpus}, "sendmail"},
		{"unknown zone", []string{"--timezone=Mars/Olympus", replayCorpus}, "Mars/Olympus"},
		{"no file", nil, "required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"replay"}, c.args...), &out, &errb)
			if code != 2 || out.Len() != 0 || !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("exit %d (want 2), stdout %q (want none), stderr %q (want %q in it)", code, out.String(), errb.String(), c.stderr)
			}
		})
	}
}

func writeWithMtime(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// lineDiffText lists lines only in want (-) or only in got (+).
func lineDiffText(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	in := func(set []string, l string) bool {
		for _, x := range set {
			if x == l {
				return true
			}
		}
		return false
	}
	var out []string
	for _, l := range w {
		if !in(g, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !in(w, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
