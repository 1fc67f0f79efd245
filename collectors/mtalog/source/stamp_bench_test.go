package source

import (
	"testing"
	"time"
)

// BenchmarkStampLen measures the timestamp scan a parser pays per line,
// on an Exim line with +millisec and on an RFC 3164 one.
func BenchmarkStampLen(b *testing.B) {
	for _, line := range []string{
		"2026-12-06 07:59:25.461 [26459] 1xa79Z-0006sl-1S <= root@example.test U=root P=local S=309",
		"Dec  6 07:59:25 mx postfix/smtpd[26459]: connect from x",
	} {
		text := []byte(line)
		b.Run(line[:10], func(b *testing.B) {
			n := 0
			for b.Loop() {
				n += StampLen(text)
			}
			if n == 0 {
				b.Fatal("no stamp")
			}
		})
	}
}

// BenchmarkLineTime measures the dating of consecutive Exim lines of the
// same second, as a replay dates a busy log.
func BenchmarkLineTime(b *testing.B) {
	lines := [][]byte{
		[]byte("2026-12-06 07:59:25.461 [26459] 1xa79Z-0006sl-1S <= root@example.test"),
		[]byte("2026-12-06 07:59:25.522 [26478] 1xa79Z-0006sl-1S => alice <alice@example.test>"),
		[]byte("2026-12-06 07:59:25 1xa79Z-0006sl-1S Completed"),
	}
	w := newYearWalker(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC, 0, false)
	n := 0
	for b.Loop() {
		if w.lineTime(lines[n%len(lines)]).IsZero() {
			b.Fatal("undated")
		}
		n++
	}
}
