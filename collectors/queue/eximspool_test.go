package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// writeEximMessage writes one message's spool files as Exim 4.96 does
// (spec "Format of spool files", and the files of a real Exim 4.96 run:
// msglog lines have no flags, testdata/exim-msglog); sub is the split
// directory or "".
func writeEximMessage(t testing.TB, spool, sub, id string, arrival int64, frozen bool, msglog string) {
	t.Helper()
	in := filepath.Join(spool, "input", sub)
	ml := filepath.Join(spool, "msglog", sub)
	for _, d := range []string{in, ml} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	opts := "-received_time_usec .123456\n-ident root\n-received_protocol esmtp\n-body_linecount 1\n"
	if frozen {
		opts += fmt.Sprintf("-frozen %d\n", arrival+5)
	}
	h := fmt.Sprintf("%s-H\nDebian-exim 1901 1901\n<sender@example.org>\n%d 0\n%sXX\n1\nuser@gmail.com\n\n042P Received: from x\n", id, arrival, opts)
	if err := os.WriteFile(filepath.Join(in, id+"-H"), []byte(h), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, id+"-D"), []byte(id+"-D\nhello\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if msglog != "" {
		if err := os.WriteFile(filepath.Join(ml, id), []byte(msglog), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReadEximSpool: frozen messages are "hold", messages whose msglog
// ends an address with a deferral are "deferred" (that deferral
// classified as the log pipeline classifies it), others "active"; split
// spool directories, both ID formats, and files that are not messages.
func TestReadEximSpool(t *testing.T) {
	spool := t.TempDir()
	writeEximMessage(t, spool, "", "1xa74k-0001vg-1y", 1000, true, "")
	writeEximMessage(t, spool, "", "1xa74r-0001xT-32", 2000, false,
		"2026-12-06 07:54:34 Received from sender@example.org H=(x) [127.0.0.1] P=esmtp S=309\n"+
			"2026-12-06 07:54:34.511 H=gmail-smtp-in.l.google.com [127.0.0.2] SMTP error from remote mail server after RCPT TO:<user@gmail.com>: 451 4.7.28 rate limited\n"+
			"2026-12-06 07:54:34 user@gmail.com R=remote T=remote_smtp defer (-44) H=gmail-smtp-in.l.google.com [127.0.0.2]:25: SMTP error from remote mail server after RCPT TO:<user@gmail.com>: 451-4.7.28 Our system has detected an unusual rate\\n451 4.7.28 rate limited - gsmtp\n"+
			"2026-12-06 07:54:35 other@yahoo.com R=remote T=remote_smtp defer (-44): SMTP error from remote mail server after RCPT TO:<other@yahoo.com>: 421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred\n"+
			"2026-12-06 07:55:35 => other@yahoo.com R=remote T=remote_smtp H=mta5.am0.yahoodns.net [127.0.0.4]\n")
	writeEximMessage(t, spool, "G", "1tGm8G-000000002Lm-0Agf", 3000, false, "2026-12-06 07:54:34 Received\n")
	// Not messages: a -D without -H, a temporary file, a name not an ID.
	for _, n := range []string{"1xa74z-0001vg-1y-D", "hdr.1234", "README-H"} {
		if err := os.WriteFile(filepath.Join(spool, "input", n), []byte("x"), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	// An -H cut short: skipped.
	if err := os.WriteFile(filepath.Join(spool, "input", "1xa74y-0001vg-1y-H"), []byte("1xa74y-0001vg-1y-H\nDebian-exim 1 1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	s, err := ReadEximSpool(context.Background(), spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"hold": 1, "deferred": 1, "active": 1} {
		if got := s.Queues[q].Messages; got != want {
			t.Errorf("%s: %d messages, want %d", q, got, want)
		}
	}
	if !s.Queues["hold"].Oldest.Equal(time.Unix(1000, 0)) || !s.Queues["active"].Oldest.Equal(time.Unix(3000, 0)) || s.Queues["deferred"].Bytes == 0 {
		t.Errorf("stats: hold %+v active %+v deferred %+v", s.Queues["hold"], s.Queues["active"], s.Queues["deferred"])
	}
	want := map[DeferKey]int{{Reason: mailclass.ReasonRateLimited, Provider: "gmail"}: 1}
	if fmt.Sprint(s.Deferred) != fmt.Sprint(want) {
		t.Errorf("deferred %v, want %v (the yahoo.com address was delivered later)", s.Deferred, want)
	}
	if _, err := ReadEximSpool(context.Background(), filepath.Join(spool, "nope"), nil); err == nil {
		t.Error("a missing spool read without error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadEximSpool(ctx, spool, nil); err == nil {
		t.Error("a cancelled read returned no error")
	}
}

// BenchmarkReadEximSpool reads a synthetic spool of b.N-independent size
// (EXIM_SPOOL_MESSAGES, default 20000) split as split_spool_directory
// does; -benchmem shows the memory a read takes, which does not grow
// with the queue (directories are read in batches, one message at a time).
func BenchmarkReadEximSpool(b *testing.B) {
	n := 20000
	if v := os.Getenv("EXIM_SPOOL_MESSAGES"); v != "" {
		fmt.Sscan(v, &n)
	}
	spool := b.TempDir()
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for i := range n {
		id := fmt.Sprintf("1xa7%c%c-%06d-1y", b62[i/62%62], b62[i%62], i)
		writeEximMessage(b, spool, string(id[5]), id, int64(1000+i), i%100 == 0,
			"2026-12-06 07:54:34 user@gmail.com R=remote T=remote_smtp defer (111): Connection refused\n")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		s, err := ReadEximSpool(context.Background(), spool, nil)
		if err != nil || s.Queues["deferred"].Messages+s.Queues["hold"].Messages != n {
			b.Fatalf("%v %+v", err, s.Queues)
		}
	}
	b.ReportMetric(float64(n), "messages")
}

// TestReadEximSpoolRealMsglog reads the msglog a real Exim 4.96 wrote
// (testdata/exim-msglog) for a message to four addresses: a@ok.test
// delivered at once, c@fail.test refused (500), b@defer.test deferred
// then delivered at the next attempt, d@defer2.test deferred at every
// attempt. Its msglog has no flags: "ADDR: t1 transport succeeded" ends
// b's deferral, so only d waits.
func TestReadEximSpoolRealMsglog(t *testing.T) {
	msglog, err := os.ReadFile(filepath.Join("testdata", "exim-msglog"))
	if err != nil {
		t.Fatal(err)
	}
	spool := t.TempDir()
	writeEximMessage(t, spool, "", "1xa9Mm-0004ux-0X", 1000, false, string(msglog))
	s, err := ReadEximSpool(context.Background(), spool, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Queues["deferred"].Messages != 1 {
		t.Errorf("queues %+v, want the message deferred", s.Queues)
	}
	var n int
	for _, c := range s.Deferred {
		n += c
	}
	if n != 1 {
		t.Errorf("deferred recipients %v: %d, want 1 (d@defer2.test; b@defer.test was delivered, c@fail.test refused)", s.Deferred, n)
	}
}
