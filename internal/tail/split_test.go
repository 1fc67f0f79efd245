package tail

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

type splitLine struct {
	off   int64
	text  string
	flags LineFlags
}

// splitChunks feeds data to a splitter in chunks of the given sizes
// (cycled; 0 means 1) and flushes at the end, as a file's reads would.
func splitChunks(data []byte, maxLine int, skipLong bool, sizes []int) (lines []splitLine, nul, oversize int64) {
	s := newSplitter(maxLine, skipLong)
	s.reset(0)
	collect := func(line []byte, off int64, flags LineFlags) {
		lines = append(lines, splitLine{off, string(line), flags})
	}
	for i, pos := 0, 0; pos < len(data); i++ {
		n := 1
		if len(sizes) > 0 {
			n = max(1, sizes[i%len(sizes)])
		}
		space := s.space()
		n = min(n, len(space), len(data)-pos)
		copy(space, data[pos:pos+n])
		s.commit(n)
		pos += n
		for {
			line, off, flags, ok := s.next()
			if !ok {
				break
			}
			collect(line, off, flags)
		}
	}
	if line, off, flags, ok := s.flush(); ok {
		collect(line, off, flags)
	}
	return lines, s.nulBytes, s.oversize
}

// referenceSplit is the splitter's contract written plainly over the whole
// input at once.
func referenceSplit(data []byte, maxLine int, skipLong bool) (lines []splitLine, nul, oversize int64) {
	pos := 0
	for pos < len(data) {
		for pos < len(data) && data[pos] == 0 { // a line's leading NUL run
			nul++
			pos++
		}
		if pos == len(data) {
			break
		}
		end := bytes.IndexByte(data[pos:], '\n')
		terminated := end >= 0
		if !terminated {
			end = len(data) - pos
		}
		raw := data[pos : pos+end]
		start := int64(pos)
		pos += end + 1
		var flags LineFlags
		if !terminated {
			if len(raw) >= maxLine+2 {
				// Known to be oversize before its end: cut, not a flush.
				oversize++
				if !skipLong {
					l, n := dropNULRef(raw[:maxLine])
					nul += n
					lines = append(lines, splitLine{start, l, Truncated})
				}
				continue
			}
			flags = Unterminated
		}
		if n := len(raw); n > 0 && raw[n-1] == '\r' {
			raw = raw[:n-1]
		}
		if len(raw) > maxLine {
			oversize++
			if skipLong {
				continue
			}
			raw, flags = raw[:maxLine], flags|Truncated
		}
		l, n := dropNULRef(raw)
		nul += n
		lines = append(lines, splitLine{start, l, flags})
	}
	return lines, nul, oversize
}

func dropNULRef(b []byte) (string, int64) {
	s := strings.ReplaceAll(string(b), "\x00", "")
	return s, int64(len(b) - len(s))
}

func TestSplitter(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  int
		want []splitLine
	}{
		{"plain", "a\nbc\n", 10, []splitLine{{0, "a", 0}, {2, "bc", 0}}},
		{"crlf", "a\r\nb\r\n", 10, []splitLine{{0, "a", 0}, {3, "b", 0}}},
		{"lone_cr_kept", "a\rb\n", 10, []splitLine{{0, "a\rb", 0}}},
		{"empty_lines", "\n\n", 10, []splitLine{{0, "", 0}, {1, "", 0}}},
		{"unterminated", "a\nbc", 10, []splitLine{{0, "a", 0}, {2, "bc", Unterminated}}},
		{"nul_hole", "\x00\x00\x00a\n", 10, []splitLine{{3, "a", 0}}},
		{"nul_inside", "a\x00b\n", 10, []splitLine{{0, "ab", 0}}},
		{"long", "abcdefgh\nxy\n", 4, []splitLine{{0, "abcd", Truncated}, {9, "xy", 0}}},
		{"exact_max_with_crlf", "abcd\r\n", 4, []splitLine{{0, "abcd", 0}}},
		{"invalid_utf8", "\xff\xfe\n", 4, []splitLine{{0, "\xff\xfe", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sizes := range [][]int{nil, {1000}, {2, 3}} {
				got, _, _ := splitChunks([]byte(tc.in), tc.max, false, sizes)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("chunks %v: got %+v, want %+v", sizes, got, tc.want)
				}
			}
		})
	}
}

// FuzzSplit checks that any chunking of the same bytes yields the same
// lines, offsets, flags and counters, and that they match the plain
// reference. CI runs only the seeds below; run it for longer with
// go test -run=^$ -fuzz=FuzzSplit -fuzztime=1m ./internal/tail/
func FuzzSplit(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), []byte{1}, uint8(4), false)
	f.Add([]byte("\x00\x00x\x00y\r\n\r\n"), []byte{2, 5}, uint8(3), false)
	f.Add([]byte("0123456789\r\nab\n0123456\r"), []byte{3, 1, 7}, uint8(5), true)
	f.Add([]byte(strings.Repeat("z", 300)+"\r\n\xff"), []byte{8}, uint8(0), false)
	f.Fuzz(func(t *testing.T, data, sizes []byte, maxLine uint8, skip bool) {
		m := int(maxLine%64) + 1
		cs := make([]int, len(sizes))
		for i, b := range sizes {
			cs[i] = int(b)
		}
		want, wantNUL, wantOver := referenceSplit(data, m, skip)
		whole, wNUL, wOver := splitChunks(data, m, skip, []int{len(data) + 1})
		chunked, cNUL, cOver := splitChunks(data, m, skip, cs)
		for _, c := range []struct {
			name     string
			got      []splitLine
			nul, ovr int64
		}{{"whole", whole, wNUL, wOver}, {"chunked", chunked, cNUL, cOver}} {
			if fmt.Sprint(c.got) != fmt.Sprint(want) || c.nul != wantNUL || c.ovr != wantOver {
				t.Fatalf("%s (max %d, chunks %v):\n got %+v nul %d oversize %d\nwant %+v nul %d oversize %d",
					c.name, m, cs, c.got, c.nul, c.ovr, want, wantNUL, wantOver)
			}
		}
		for _, l := range want {
			if strings.ContainsAny(l.text, "\n\x00") || len(l.text) > m {
				t.Fatalf("bad line %q", l.text)
			}
		}
	})
}

// TestSplitterFlushSwallowsLateNewline: a line flushed because its writer
// stalled must not turn its late terminator into an empty line.
func TestSplitterFlushSwallowsLateNewline(t *testing.T) {
	s := newSplitter(100, false)
	s.reset(0)
	feed := func(in string) (out []string) {
		space := s.space()
		s.commit(copy(space, in))
		for {
			line, _, _, ok := s.next()
			if !ok {
				return out
			}
			out = append(out, string(line))
		}
	}
	if got := feed("abc"); len(got) != 0 {
		t.Fatalf("partial line delivered: %q", got)
	}
	if line, _, flags, ok := s.flush(); !ok || string(line) != "abc" || flags != Unterminated {
		t.Fatalf("flush = %q %b %v", line, flags, ok)
	}
	if got := feed("\r"); len(got) != 0 {
		t.Fatalf("got %q after a lone CR", got)
	}
	if _, _, _, ok := s.flush(); ok {
		t.Fatal("a lone CR after a flush was flushed as a line")
	}
	if got := feed("\nd\n\n"); fmt.Sprint(got) != "[d ]" {
		t.Fatalf("got %q, want [d, empty line]", got)
	}
}
