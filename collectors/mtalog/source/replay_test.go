package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReplayRotatedSet replays a rotated set oldest first, two gzipped and
// two plain files spanning New Year, and checks order, years, CRLF, the
// unterminated last line and an oversize line.
func TestReplayRotatedSet(t *testing.T) {
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
	var paths []string
	for i, f := range files {
		text := strings.Join(f.lines, "\n")
		if i != len(files)-1 {
			text += "\n" // the live file's last line has no LF yet
		}
		data := []byte(text)
		if f.gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(data)
			zw.Close()
			data = b.Bytes()
		}
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	sink := &recordSink{}
	st, err := ReplayWith(context.Background(), paths, sink, ReplayOptions{Name: "backfill", Location: time.UTC, MaxLineBytes: 80})
	if err != nil {
		t.Fatal(err)
	}
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
	_, err = Replay(context.Background(), []string{filepath.Join(dir, "nope")}, sink, "x")
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: %v", err)
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
	sink := &recordSink{}
	st, err := Replay(context.Background(), []string{p}, sink, "big")
	if err != nil {
		t.Fatal(err)
	}
	checkNumbered(t, sink.texts(), n)
	if st.Bytes != int64(b.Len()) {
		t.Errorf("bytes %d, want %d", st.Bytes, b.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Replay(ctx, []string{p}, &recordSink{}, "big"); err == nil {
		t.Error("a cancelled replay returned no error")
	}
}
