package exim

import (
	"bytes"
	"testing"
)

// TestMessageText: the same reject as Exim writes it to its file (with
// and without +millisec and +pid) and as syslog delivers it has one
// message text, the message ID kept; reject-log header lines start no
// entry.
func TestMessageText(t *testing.T) {
	const want = "1xa9CF-000640-2K H=([127.0.0.1]) [127.0.0.1] F=<a@b> rejected after DATA: no spam here"
	for _, l := range []string{
		"2026-12-06 10:10:19.735 [23312] " + want,
		"2026-12-06 10:10:19 " + want,
		"Dec  6 10:10:19 mx exim4[23312]: " + want,
		"Dec  6 10:10:19 mx exim4[23312]: 2026-12-06 10:10:19 " + want,
	} {
		if got := string(MessageText([]byte(l))); got != want {
			t.Errorf("MessageText(%q) = %q", l, got)
		}
		if !StartsEntry([]byte(l)) && l[0] == '2' {
			t.Errorf("StartsEntry(%q) = false", l)
		}
	}
	if got := string(MessageText([]byte("2026-12-06 10:10:19.714 [1] H=[127.0.0.1] rejected RCPT <x@y>: no"))); got != "H=[127.0.0.1] rejected RCPT <x@y>: no" {
		t.Errorf("without an ID: %q", got)
	}
	for _, h := range []string{"Envelope-from: <a@b>", "P Received: from x", "  Subject: 2026-12-06 10:10:19 x", "\tby mx", "F From: a@b", ""} {
		if StartsEntry([]byte(h)) {
			t.Errorf("StartsEntry(%q) = true for a header line", h)
		}
	}
}

// FuzzMessageText: whatever the line, the text is a suffix of it.
func FuzzMessageText(f *testing.F) {
	f.Add([]byte("2026-12-06 10:10:19.735 [23312] 1xa9CF-000640-2K H=x rejected after DATA: no"))
	f.Add([]byte("Dec  6 10:10:19 mx exim4[1]: 1tGm8G-000000002Lm-0Agf ** a"))
	f.Fuzz(func(t *testing.T, line []byte) {
		if got := MessageText(line); got != nil && !bytes.HasSuffix(line, got) {
			t.Fatalf("MessageText(%q) = %q, not a suffix", line, got)
		}
		StartsEntry(line)
	})
}
