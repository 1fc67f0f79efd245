package postfix

import (
	"bytes"
	"strconv"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// Small scanning helpers over the line's bytes. None of them allocates:
// they return sub-slices of their input.

// cut returns s before and after the first sep, and whether sep was found.
func cut(s []byte, sep string) (before, after []byte, ok bool) {
	i := index(s, sep)
	if i < 0 {
		return s, nil, false
	}
	return s[:i], s[i+len(sep):], true
}

// cutAt is cut with the search anchored on sep[k] (see indexAt).
func cutAt(s []byte, sep string, k int) (before, after []byte, ok bool) {
	i := indexAt(s, sep, k)
	if i < 0 {
		return s, nil, false
	}
	return s[:i], s[i+len(sep):], true
}

// indexAt is index for a separator whose byte k is rarer in the text
// than its first (the ':' of " said: "): candidates are found by that
// byte.
func indexAt(s []byte, sep string, k int) int {
	n := len(sep)
	c := sep[k]
	for off := k; off < len(s); {
		i := bytes.IndexByte(s[off:], c)
		if i < 0 {
			return -1
		}
		start := off + i - k
		if start+n > len(s) {
			return -1
		}
		if string(s[start:start+n]) == sep {
			return start
		}
		off += i + 1
	}
	return -1
}

// index is bytes.Index for the parser's short, constant separators. It
// finds a candidate with the vectorised bytes.IndexByte and compares the
// rest in place: bytes.Index would first copy sep into a []byte and set up
// its general search, which cost more than the search itself on lines this
// short. The anchor byte is sep's first, or its second when the first is a
// space (" said: ", " with "), because spaces are everywhere in a line and
// would stop the scan at every word.
func index(s []byte, sep string) int {
	n := len(sep)
	switch n {
	case 0:
		return 0
	case 1:
		return bytes.IndexByte(s, sep[0])
	case 2:
		// ": " and ", " are most of the calls: compare the second byte
		// directly rather than through memequal.
		for off := 0; off < len(s)-1; {
			i := bytes.IndexByte(s[off:len(s)-1], sep[0])
			if i < 0 {
				return -1
			}
			if s[off+i+1] == sep[1] {
				return off + i
			}
			off += i + 1
		}
		return -1
	}
	if sep[0] == ' ' {
		return indexAt(s, sep, 1)
	}
	return indexAt(s, sep, 0)
}

// hasPrefix is bytes.HasPrefix for a string prefix, without converting the
// prefix to a []byte on every call. The compiler turns a compare with a
// string literal of up to 16 bytes into a few word loads, but not the
// compare inside these helpers (the inlined prefix is a variable, so it
// calls memequal): the hot paths (the lines every busy log is made of)
// write the compare out, len(s) >= len("lit") && string(s[:len("lit")])
// == "lit".
func hasPrefix(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && string(s[:len(prefix)]) == prefix
}

// trimPrefix removes prefix from s and reports whether it was there.
func trimPrefix(s []byte, prefix string) ([]byte, bool) {
	if len(s) >= len(prefix) && string(s[:len(prefix)]) == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

// word returns s up to the first space (or all of s) and the rest after it.
func word(s []byte) (w, rest []byte) {
	i := bytes.IndexByte(s, ' ')
	if i < 0 {
		return s, nil
	}
	return s[:i], s[i+1:]
}

// atoi parses leading decimal digits; ok is false when there are none.
func atoi(s []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<55 {
			n = n*10 + int64(s[i]-'0')
		}
		i++
	}
	return n, s[i:], i > 0
}

// atof parses a non-negative decimal as Postfix prints delays ("0.01",
// ".5", "12", "1e+02" rarely); ok is false when no digit was read. The
// digits are read as one integer and divided once by a power of ten: both
// operands are exact in a float64, so the one division is correctly
// rounded, and it is cheaper than a multiply and a divide per fraction
// digit. Numbers of more than 15 digits, and numbers with an exponent,
// which that cannot do exactly, go to atofLong. TestAtofMatchesParseFloat
// checks both against strconv.ParseFloat.
func atof(s []byte) (f float64, rest []byte, ok bool) {
	i := 0
	var m uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		m = m*10 + uint64(s[i]-'0')
		i++
	}
	ok = i > 0
	digits, frac := i, 0
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			m = m*10 + uint64(s[i]-'0')
			i++
		}
		frac = i - j
		digits += frac
		ok = ok || frac > 0
	}
	if digits > 15 || ok && i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		return atofLong(s)
	}
	if m != 0 && frac != 0 {
		f = float64(m) / pow10[frac]
	} else {
		f = float64(m)
	}
	return f, s[i:], ok
}

// pow10 holds the powers of ten atof divides by, all exact in a float64.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// atofLong is atof for the numbers its one integer cannot hold exactly:
// it finds the number's end as atof reads it (an exponent of 300 or more
// is not part of it) and leaves the value to strconv.ParseFloat. Postfix
// rarely prints such a number, and a short one is converted without an
// allocation.
func atofLong(s []byte) (f float64, rest []byte, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	ok = i > 0
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		ok = ok || i > j
	}
	if !ok {
		return 0, s[i:], false
	}
	if i+1 < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i = exponentEnd(s, i)
	}
	// The text is digits, a point and an exponent below 300: always a
	// valid float64 (huge mantissas round to +Inf with ErrRange).
	f, _ = strconv.ParseFloat(string(s[:i]), 64)
	return f, s[i:], true
}

// exponentEnd returns the index after an "e+NN" at s[i], or i itself when
// it is not a valid exponent below 300.
func exponentEnd(s []byte, i int) int {
	j := i + 1
	if s[j] == '+' || s[j] == '-' {
		j++
	}
	e, r, eok := atoi(s[j:])
	if !eok || e >= 300 {
		return i
	}
	return len(s) - len(r)
}

// angle returns the text inside a leading "<...>" and what follows it.
func angle(s []byte) (inside, rest []byte, ok bool) {
	if len(s) == 0 || s[0] != '<' {
		return nil, s, false
	}
	i := bytes.IndexByte(s, '>')
	if i < 0 {
		return nil, s, false
	}
	return s[1:i], s[i+1:], true
}

// domainOf returns the part of an address after its last '@'.
func domainOf(addr []byte) []byte {
	i := bytes.LastIndexByte(addr, '@')
	if i < 0 {
		return nil
	}
	return addr[i+1:]
}

// hostOf returns "host" of "host[addr]:port" (or the whole value).
func hostOf(s []byte) []byte {
	if i := bytes.IndexByte(s, '['); i >= 0 {
		return s[:i]
	}
	return s
}

// client reads "host[addr]" or "[addr]:port" at the start of s and returns
// it with the rest after it.
func client(s []byte) (c, rest []byte, ok bool) {
	i := bytes.IndexByte(s, ']')
	if i < 0 {
		return nil, s, false
	}
	j := i + 1
	if j+1 < len(s) && s[j] == ':' && isDigit(s[j+1]) {
		// "[addr]:port"
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	return s[:j], s[j:], true
}

// reply reads an optional SMTP code and enhanced status code at the start
// of s ("550 5.7.1 text", "5.7.1 text", "550-5.7.1 text") and returns the
// rest as text.
func reply(s []byte) (code uint16, dsn mailclass.DSN, text []byte) {
	if len(s) >= 4 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && (s[3] == ' ' || s[3] == '-') {
		code = uint16(s[0]-'0')*100 + uint16(s[1]-'0')*10 + uint16(s[2]-'0')
		s = s[4:]
	} else if len(s) == 3 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) {
		return uint16(s[0]-'0')*100 + uint16(s[1]-'0')*10 + uint16(s[2]-'0'), dsn, nil
	}
	if d, rest, ok := mailclass.ParseDSN(s); ok && (len(rest) == 0 || rest[0] == ' ') {
		dsn = d
		if len(rest) > 0 {
			rest = rest[1:]
		}
		s = rest
	}
	return code, dsn, s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lastIndex is bytes.LastIndex for a string separator.
func lastIndex(s []byte, sep string) int { return bytes.LastIndex(s, []byte(sep)) }
