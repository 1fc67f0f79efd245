package exim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// eximSplit is Exim's write_syslog (src/log.c) written out plainly: the
// reference the Joiner is checked against. It splits s at newlines and
// every 870 bytes and numbers the pieces "[i/n] ", with '\' for a piece
// that ended at a newline with more to come.
func eximSplit(s string) []string {
	type piece struct {
		text string
		nl   bool
	}
	var pieces []piece
	for tlen := len(s); tlen > 0; {
		plen := tlen
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			plen = i
		}
		plen = min(plen, 870)
		tlen -= plen
		nl := plen < len(s) && s[plen] == '\n'
		if nl {
			tlen--
		}
		pieces = append(pieces, piece{s[:plen], nl && tlen != 0})
		s = s[plen:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
	if len(pieces) == 1 {
		return []string{pieces[0].text}
	}
	out := make([]string, len(pieces))
	for i, p := range pieces {
		sep := '/'
		if p.nl {
			sep = '\\'
		}
		out[i] = fmt.Sprintf("[%d%c%d] %s", i+1, sep, len(pieces), p.text)
	}
	return out
}

// TestJoinerAgainstEximSplit: long lines, some with newlines, split by
// the reference and interleaved between two Exim processes and other
// programs' lines, come out whole (a newline becomes a space), and every
// other line passes through untouched.
func TestJoinerAgainstEximSplit(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var j Joiner
	for round := range 300 {
		// Two messages at once, from two processes.
		var want [2]string
		var pieces [2][]string
		for p := range 2 {
			n := 1 + rng.IntN(4000)
			b := make([]byte, n)
			for i := range b {
				b[i] = "abcdefgh ijklm=<>@.:"[rng.IntN(20)]
				if rng.IntN(500) == 0 {
					b[i] = '\n'
				}
			}
			s := "2026-12-06 07:54:26 1xa74k-0001vg-1y <= " + string(b)
			want[p] = strings.TrimRight(strings.ReplaceAll(s, "\n", " "), " ")
			for _, piece := range eximSplit(s) {
				pieces[p] = append(pieces[p], fmt.Sprintf("Dec  6 07:54:26 mx exim[%d]: %s", 100+p, piece))
			}
		}
		var got []string
		feed := func(line string) {
			out, ok := j.Join([]byte(line))
			if ok {
				got = append(got, string(out))
			}
		}
		for len(pieces[0])+len(pieces[1]) > 0 {
			p := rng.IntN(2)
			if len(pieces[p]) == 0 {
				p = 1 - p
			}
			feed(pieces[p][0])
			pieces[p] = pieces[p][1:]
			if rng.IntN(3) == 0 {
				feed("Dec  6 07:54:26 mx postfix/smtpd[7]: [1/2] not exim")
			}
		}
		var whole []string
		for _, g := range got {
			if strings.Contains(g, "not exim") {
				continue
			}
			_, msg, _ := strings.Cut(g, "]: ")
			whole = append(whole, strings.TrimRight(msg, " "))
		}
		if len(whole) != 2 || !(whole[0] == want[0] && whole[1] == want[1] || whole[0] == want[1] && whole[1] == want[0]) {
			t.Fatalf("round %d: joined %d lines, want the two originals", round, len(whole))
		}
	}
	if j.Dropped != 0 || j.Pending() != 0 {
		t.Fatalf("dropped %d, pending %d", j.Dropped, j.Pending())
	}
}

// TestJoinerBounds: hostile pieces cannot grow the Joiner past its
// limits, and what it gives up on is counted.
func TestJoinerBounds(t *testing.T) {
	var j Joiner
	// First pieces from many processes: at most maxPending are kept.
	for pid := range 100 {
		if _, ok := j.Join(fmt.Appendf(nil, "Dec  6 07:54:26 mx exim[%d]: [1/3] x", pid)); ok {
			t.Fatal("a first piece was handed out")
		}
	}
	if j.Pending() > maxPending {
		t.Fatalf("%d pieces pending", j.Pending())
	}
	if j.Dropped != 100-maxPending {
		t.Fatalf("dropped %d, want %d", j.Dropped, 100-maxPending)
	}
	// Out of order, a wrong count, too many pieces, too long a line.
	j = Joiner{}
	j.Join([]byte("Dec  6 07:54:26 mx exim[1]: [1/3] a"))
	j.Join([]byte("Dec  6 07:54:26 mx exim[1]: [3/3] c"))
	if j.Pending() != 0 || j.Dropped != 2 {
		t.Fatalf("out of order: pending %d dropped %d", j.Pending(), j.Dropped)
	}
	j = Joiner{}
	j.Join([]byte("Dec  6 07:54:26 mx exim[1]: [1/9999] a"))
	if j.Pending() != 0 || j.Dropped != 1 {
		t.Fatalf("too many pieces: pending %d dropped %d", j.Pending(), j.Dropped)
	}
	j = Joiner{}
	big := bytes.Repeat([]byte("x"), 2*maxJoined/maxPieces) // longer than Exim makes: hostile
	for i := 1; i <= maxPieces; i++ {
		j.Join(fmt.Appendf(nil, "Dec  6 07:54:26 mx exim[1]: [%d/%d] %s", i, maxPieces, big))
	}
	if j.Pending() != 0 || j.Dropped == 0 {
		t.Fatalf("too long: pending %d dropped %d", j.Pending(), j.Dropped)
	}
	// A line whose last piece never comes is given up after maxWait lines.
	j = Joiner{}
	j.Join([]byte("Dec  6 07:54:26 mx exim[1]: [1/2] a"))
	for range maxWait + 1 {
		j.Join([]byte("2026-12-06 07:54:26 Start queue run: pid=1"))
	}
	j.Join([]byte("Dec  6 07:54:26 mx exim[2]: [1/2] b"))
	if j.Pending() != 1 || j.Dropped != 1 {
		t.Fatalf("stale: pending %d dropped %d", j.Pending(), j.Dropped)
	}
}

// FuzzJoiner: any sequence of lines (split at '\n' of the input) neither
// panics nor holds more than the bounds, and every line handed out is an
// input line or is made of input pieces' text.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte("Dec  6 07:54:26 mx exim[1]: [1/2] a\nDec  6 07:54:26 mx exim[1]: [2/2] b\n"))
	f.Add([]byte("Dec  6 07:54:26 mx exim[1]: [1\\3] a\nDec  6 07:54:26 mx exim[1]: [2/3] b\nDec  6 07:54:26 mx exim[1]: [3/3] c\n"))
	f.Add([]byte("Dec  6 07:54:26 mx exim[1]: [2/2] b\nDec  6 07:54:26 mx exim[1]: [1/1] a\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var j Joiner
		total := 0
		for _, line := range bytes.Split(in, []byte("\n")) {
			total += len(line)
			out, ok := j.Join(line)
			if ok && len(out) > total {
				t.Fatalf("joined %d bytes from %d bytes of input", len(out), total)
			}
			if j.Pending() > maxPending*maxPieces {
				t.Fatalf("%d pieces pending", j.Pending())
			}
		}
	})
}

// FuzzParseLine checks that no input panics, that a line is either an
// event with a kind or unparsed, that enum fields stay in their closed
// sets, and that a Parser that saw a line before (the same one, whose
// timestamp it then remembers) gives ParseLine's event. Seeds are the
// real corpora and the hand-written lines.
func FuzzParseLine(f *testing.F) {
	for _, path := range append(corpora, "testdata/handwritten.log") {
		for _, l := range readLines(f, path) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev event.Event
		ok := ParseLine(line, &ev)
		if ok == (ev.Kind.String() == "none") {
			t.Fatalf("ParseLine=%v with kind %v", ok, ev.Kind)
		}
		for _, s := range []string{ev.Kind.String(), ev.Daemon.String(), ev.Stage.String(), ev.Action.String(), ev.Status.String(),
			ev.TLSProtocol.String(), ev.SASLMechanism.String(), ev.DSN.DSNClass()} {
			if s == "" {
				t.Fatalf("empty enum name in %+v", ev)
			}
		}
		if ev.Delay < 0 || ev.Size < 0 || ev.Nrcpt < 0 {
			t.Fatalf("negative number in %+v", ev)
		}
		var p Parser
		var again event.Event
		for range 2 {
			if p.Parse(line, &again) != ok || !reflect.DeepEqual(again, ev) {
				t.Fatalf("Parser: %+v, ParseLine: %+v", again, ev)
			}
		}
		// With the stamp's length from the source, as the replay gives it.
		if p.ParseStamped(line, source.StampLen(line), &again) != ok || !reflect.DeepEqual(again, ev) {
			t.Fatalf("ParseStamped: %+v, ParseLine: %+v", again, ev)
		}
	})
}

// TestJoinerPassesEximStampedLines: a line in Exim's own file format is
// never a syslog piece, even with "[1/2]" where a piece has it, and still
// counts toward the wait of the pieces held.
func TestJoinerPassesEximStampedLines(t *testing.T) {
	var j Joiner
	if _, ok := j.Join([]byte("Dec  6 07:54:26 mx exim[1]: [1/2] a")); ok {
		t.Fatal("first piece handed out")
	}
	for i := 0; i < maxWait; i++ {
		l := []byte("2026-12-06 07:54:26 mx exim[1]: [2/2] b")
		if out, ok := j.Join(l); !ok || string(out) != string(l) {
			t.Fatalf("Exim-stamped line: %q, %v", out, ok)
		}
	}
	if j.Pending() != 1 {
		t.Fatalf("pending %d before the wait ran out", j.Pending())
	}
	j.Join([]byte("2026-12-06 07:54:26 x"))
	// The next piece makes the Joiner look at the waits.
	j.Join([]byte("Dec  6 07:54:27 mx exim[2]: [1/2] c"))
	if j.Pending() != 1 || j.Dropped != 1 {
		t.Fatalf("after the wait: pending %d, dropped %d", j.Pending(), j.Dropped)
	}
}
