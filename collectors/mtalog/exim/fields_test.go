package exim

import (
	"bytes"
	"strings"
	"testing"
)

// TestIndexSpace: indexSpace is bytes.IndexByte(s, ' ') for every length
// up to past its switch to IndexByte and every position of the first
// space, with bytes that differ from a space by one bit around it (a
// carry in the word-at-a-time test would find those).
func TestIndexSpace(t *testing.T) {
	for n := 0; n <= 80; n++ {
		for at := -1; at < n; at++ {
			for _, fill := range []byte{'a', 0x21, 0x1f, 0x00, 0xa0, 0x60, 0xff} {
				s := bytes.Repeat([]byte{fill}, n)
				if at >= 0 {
					s[at] = ' '
					if at+1 < n {
						s[at+1] = ' '
					}
				}
				if got, want := indexSpace(s), bytes.IndexByte(s, ' '); got != want {
					t.Fatalf("indexSpace(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}

// TestMentions: the one-pass searches answer as the index calls they
// replace.
func TestMentions(t *testing.T) {
	for _, s := range []string{
		"H=a [1.2.3.4] F=<x@y> rejected after DATA: spam", "H=a rejected RCPT <b>: no", "H=a temporarily rejected RCPT",
		"H=a xrejected after DATA", "H=a rejected", "H=a Rejected RCPT", "rejected ", "H=a notrejected x rejected after DATA",
		"H=a norejected x",
		"H=mx [1.2.3.4] TLS error on connection (recv): reset", "H=mx TLS session: (SSL_connect): error", "H=mx TLS x TLS session: y",
		"H=mx TLS sessions: y", "H=mx TLS", "TLS error on connectio",
	} {
		b := []byte(s)
		wantReject := index(b, "rejected after DATA") >= 0 || index(b, " temporarily rejected ") >= 0 || index(b, " rejected ") >= 0
		if got := mentionsReject(b); got != wantReject {
			t.Errorf("mentionsReject(%q) = %v", s, got)
		}
		wantTLS := index(b, "TLS error on connection") >= 0 || index(b, "TLS session: ") >= 0
		if got := mentionsTLSError(b); got != wantTLS {
			t.Errorf("mentionsTLSError(%q) = %v", s, got)
		}
	}
}

// TestTransportKind: the one-pass check answers as bytes.Contains.
func TestTransportKind(t *testing.T) {
	for _, name := range []string{"", "smtp", "lmtp", "remote_smtp", "dovecot_lmtp", "local_file", "mtp", "xsmtplmtp",
		"smt", "smtpx", "s_m_t_p", "lmtpsmtp", "LMTP", "address_pipe"} {
		l, s := transportKind([]byte(name))
		if l != strings.Contains(name, "lmtp") || s != strings.Contains(name, "smtp") {
			t.Errorf("transportKind(%q) = %v, %v", name, l, s)
		}
	}
}

// TestIndexIsBytesIndex: index and a needle find what bytes.Index finds, for the
// separators the parser looks for and others, at every position of a
// text, where the anchor byte comes often and the rest does not match,
// and at the ends.
func TestIndexIsBytesIndex(t *testing.T) {
	seps := []string{": ", "rejected ", " rejected ", "retry timeout exceeded", "have been failing for a long time",
		" refused", "TLS ", " H=", "x", "ab", "aa", "aab", "\xff\x00"}
	texts := []string{"", "a", "aaaaaaaab", "jjjjj rejected", "rejected x: y", "x rejectedrejected  rejected ", "::: : ",
		"have been failing for a long tim", "retry timeout exceede retry timeout exceeded", "\xff\xff\x00", " H H= H=x",
		strings.Repeat("ej", 50) + " rejected ", "TL TLS TLS"}
	for _, sep := range seps {
		for _, text := range texts {
			for cut := 0; cut <= len(text); cut++ {
				s := []byte(text[cut:])
				want := bytes.Index(s, []byte(sep))
				if got := newNeedle(sep).in(s); got != want {
					t.Fatalf("needle %q in %q = %d, want %d", sep, s, got, want)
				}
				if got := index(s, sep); got != want {
					t.Fatalf("index(%q, %q) = %d, want %d", s, sep, got, want)
				}
			}
		}
	}
}

// TestClosingQuoteAndDomainOf: the searches by IndexByte answer as the
// byte-by-byte loops they replaced.
func TestClosingQuoteAndDomainOf(t *testing.T) {
	slowQuote := func(s []byte) int {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '"':
				return i
			}
		}
		return len(s)
	}
	slowDomain := func(a []byte) []byte {
		if n := len(a); n > 0 && a[n-1] == '>' {
			a = a[:n-1]
		}
		if i := bytes.LastIndexByte(a, '@'); i >= 0 {
			return a[i+1:]
		}
		return nil
	}
	for _, s := range []string{`"`, `""`, `"a"`, `"a\"b" c`, `"a\\" b"`, `"\`, `"a\`, `"a\"`, `"\\\""x"`, `"no end`,
		`"` + strings.Repeat(`\"`, 40) + `"`, `"x" "y"`, "\"a\\\\\\\"b\"", `x"`, ``} {
		if got, want := closingQuote([]byte(s)), slowQuote([]byte(s)); len(s) > 0 && got != want {
			t.Errorf("closingQuote(%q) = %d, want %d", s, got, want)
		}
	}
	for _, a := range []string{"", "a", "a@b", "<a@b>", "a@b@c", "\"a@b\"@c.example", "@", "a@", ">", "<>", "<a@b", "a@b>>", "@@@"} {
		got, want := domainOf([]byte(a)), slowDomain([]byte(a))
		if string(got) != string(want) || (got == nil) != (want == nil) {
			t.Errorf("domainOf(%q) = %q, want %q", a, got, want)
		}
	}
}

// TestRemoteTrouble: remoteTrouble says whether a text contains one of
// its four words, as bytes.Contains does, wherever they stand.
func TestRemoteTrouble(t *testing.T) {
	words := []string{"Connection ", "host", "SMTP ", "connect"}
	for _, s := range []string{"", "retry time not reached", "Connection refused", "all hosts failing", "localhost",
		"SMTP error from remote mail server", "connection timed out", "connect() failed", "Connection", "SMTP", "hos",
		"conne", "mailbox moving", "xConnection y", "ghost"} {
		want := false
		for _, w := range words {
			want = want || strings.Contains(s, w)
		}
		if got := remoteTrouble([]byte(s)); got != want {
			t.Errorf("remoteTrouble(%q) = %v, want %v", s, got, want)
		}
	}
}
