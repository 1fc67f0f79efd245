package exim

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// referenceScan is the item scanner itemAt replaced, kept as its oracle:
// it returns sub-slices where itemAt returns positions, and was checked
// against every line of the corpora before. next reads the item after
// rest's spaces and returns false when none is left.
type referenceScan struct {
	rest, key, val []byte
	end            bool
}

func (f *referenceScan) next() bool {
	s := f.rest
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) == 0 {
		f.rest = nil
		return false
	}
	f.key, f.end = nil, false
	k := 0
	switch {
	case len(s) > 2 && s[1] == '=':
		k = int(alnumByte[s[0]])
	case len(s) > 3 && s[2] == '=':
		k = int(alnumByte[s[0]] & alnumByte[s[1]] * 2)
	default:
		for k < len(s) && k < 4 && alnumByte[s[k]] != 0 {
			k++
		}
	}
	if k > 0 && k < len(s) && s[k] == '=' && !isDigit(s[0]) {
		f.key = s[:k]
		v := s[k+1:]
		if len(v) > 0 && v[0] == '"' {
			end := closingQuote(v)
			f.val = v[1:end]
			rest := v[min(end+1, len(v)):]
			if len(rest) > 0 && rest[0] == ':' {
				f.end = true
				rest = rest[1:]
			}
			f.rest = rest
			return true
		}
		w, r := word(v)
		if k == 1 && s[0] == 'H' {
			for len(r) > 0 && (r[0] == '(' || r[0] == '[') && !endsColon(w) {
				var w2 []byte
				w2, r = word(r)
				w = v[:len(w)+1+len(w2)]
			}
		}
		f.val, f.rest = w, r
		if endsColon(w) {
			f.val, f.end = w[:len(w)-1], true
		}
		return true
	}
	w, r := word(s)
	f.val, f.rest = w, r
	if endsColon(w) {
		f.val, f.end = w[:len(w)-1], true
	}
	return true
}

// describeItems lists the items of s as each scanner reads them, one
// string per item with the rest after it, "nil" for a nil rest.
func describeItems(s []byte) (got, want []string) {
	show := func(key uint32, val, rest []byte, end bool) string {
		r := "nil"
		if rest != nil {
			r = fmt.Sprintf("%q", rest)
		}
		return fmt.Sprintf("key=%#x val=%q end=%v rest=%s", key, val, end, r)
	}
	ref := referenceScan{rest: s}
	for ref.next() {
		var key uint32
		if ref.key != nil {
			key = keyCode(ref.key)
		}
		want = append(want, show(key, ref.val, ref.rest, ref.end))
	}
	for at := 0; at >= 0; {
		key, vs, ve, next, end, ok := itemAt(s, at)
		if !ok {
			break
		}
		got = append(got, show(key, s[vs:ve], restAt(s, next), end))
		at = next
	}
	return got, want
}

func checkItems(t *testing.T, s []byte) {
	t.Helper()
	got, want := describeItems(s)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("items of %q:\n got  %q\n want %q", s, got, want)
	}
}

// TestItemsAgainstReference: itemAt reads every line of the corpora, from
// each of its spaces on, and a set of edge cases, as the scanner it
// replaced did, slice for position, nil rest for -1.
func TestItemsAgainstReference(t *testing.T) {
	for _, l := range append(corpusLines(t), readLines(t, "testdata/handwritten.log")...) {
		for i := range l {
			if i == 0 || l[i-1] == ' ' {
				checkItems(t, l[i:])
			}
		}
	}
	for _, s := range []string{
		"", " ", "   ", "a", "a=", "=a", "ab=", "abc=", "abcd=", "abcde=x", "1=x", "A1=x", "a-=x",
		`C="250 OK`, `C="`, `C=""`, `C="a\"b" x`, `C="a b":x`, `C="a b": x`, `C="a\`, "S=1:", "S=1: rest",
		"H=", "H= (x)", "H=a (b) [c]:25 X=y", "H=a: (b)", "H=a (b", "H=a [", "H=(b) [c] d", "H=a  (b)",
		"x: y", "x:", "defer (-54): text", "for a b", "QT=1s DT=2s", "id=abc", "SNI=x", "\xff=x", "K M8S PRDR",
		strings.Repeat("R=abcdefgh ", 150) + "H=a (b) [c]: text", strings.Repeat("x", 1030) + " S=1: y", "S=" + strings.Repeat("9", 1100) + " T=t",
		strings.Repeat("F=<a@b.example> ", 70) + `C="` + strings.Repeat("q ", 40) + `": z`,
	} {
		checkItems(t, []byte(s))
	}
}

// FuzzItems: itemAt reads any input as the reference scanner does.
func FuzzItems(f *testing.F) {
	for _, l := range corpusLines(f)[:200] {
		f.Add(l)
	}
	f.Add([]byte(`H=a (b) [c]:25 C="x\" y": rest`))
	f.Fuzz(func(t *testing.T, s []byte) {
		checkItems(t, s)
		if bytes.IndexByte(s, ' ') >= 0 {
			checkItems(t, s[bytes.IndexByte(s, ' ')+1:])
		}
	})
}

// TestItemsWordEnds: the word-at-a-time search for a word's end agrees
// with the reference for words of every length around its eight-byte
// steps, made of bytes one bit away from a space (a carry in the search
// would take those for one).
func TestItemsWordEnds(t *testing.T) {
	for n := range 40 {
		for _, fill := range []byte{'a', 0x21, 0x1f, 0x00, 0xa0, 0x60, 0xff, 0x30, 0x22} {
			w := string(bytes.Repeat([]byte{fill}, n))
			for _, s := range []string{w, w + " x", "S=" + w, "S=" + w + " T=x", "H=" + w + " [" + w + "] y", w + ": z"} {
				checkItems(t, []byte(s))
			}
		}
	}
}
