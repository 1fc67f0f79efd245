package exim

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// Small scanning helpers over the line's bytes. None of them allocates:
// they return sub-slices of their input.

// field is one item of a line's field list: a KEY=value pair (Key set)
// or a bare word (K, M8S, PRDR, "defer", "(-44)").
type field struct {
	Key, Val []byte
	// End is set when the item ended with ':' before a space: the free
	// text after it (an error) is the rest of the line.
	End bool
}

// nextField reads the next item of s and returns what follows it; ok is
// false at the end of s. It is fieldScan.next for a single item.
func nextField(s []byte) (f field, rest []byte, ok bool) {
	sc := fieldScan{rest: s}
	if !sc.next() {
		return f, nil, false
	}
	return field{Key: sc.key, Val: sc.val, End: sc.end}, sc.rest, true
}

// fieldScan reads a line's items one by one: rest is what is left, and
// key, val and end describe the item next read (as field's Key, Val and
// End). A scanner in place of a function returning the item: eleven
// words of results went through memory on every item of every line.
type fieldScan struct {
	rest     []byte
	key, val []byte
	end      bool
}

// next reads the next item of rest. A value in double quotes (T="subject",
// C="250 OK", DN="CN=x") runs to its closing quote, backslash escapes
// included; H='s value takes the words after it that start with '(' or
// '[' ("H=name (helo) [ip]:port"). It returns false at the end of rest.
func (f *fieldScan) next() bool {
	s := f.rest
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	if len(s) == 0 {
		f.rest = nil
		return false
	}
	f.key, f.end = nil, false
	// KEY= is one to three letters (id= is the only lower-case one).
	k := 0
	switch {
	case len(s) > 2 && s[1] == '=':
		// The common keys of one and two letters, without the loop:
		// the loop would stop at the '=' too.
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
			// Join "(helo)" and "[ip]:port" to the host name.
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

// endsColon reports whether a word ends with ':' that is not part of an
// address or a port ("x@y.example:" ends; "[1.2.3.4]:25" does not).
func endsColon(w []byte) bool {
	return len(w) > 0 && w[len(w)-1] == ':'
}

// closingQuote is the index of the '"' that closes the quoted string
// starting at s[0], or len(s) when it is not closed.
func closingQuote(s []byte) int {
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

// word returns s up to its first space and what follows that space; rest
// is nil when s has no space.
func word(s []byte) (w, rest []byte) {
	if i := indexSpace(s); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, nil
}

// indexSpace is bytes.IndexByte(s, ' '). The words of a log line are
// short, and the call to the vectorised IndexByte cost more than finding
// the space in them: their first bytes are looked at eight at a time in a
// word (the lowest zero byte of x^0x20..20 is the first space), and
// IndexByte takes over for a long one.
func indexSpace(s []byte) int {
	const ones, highs, spaces = 0x0101010101010101, 0x8080808080808080, 0x2020202020202020
	i := 0
	for ; i+8 <= len(s) && i < 32; i += 8 {
		x := binary.LittleEndian.Uint64(s[i:]) ^ spaces
		if t := (x - ones) &^ x & highs; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	if i < 32 {
		for ; i < len(s); i++ {
			if s[i] == ' ' {
				return i
			}
		}
		return -1
	}
	if j := bytes.IndexByte(s[i:], ' '); j >= 0 {
		return i + j
	}
	return -1
}

// cut returns s before and after the first sep, and whether sep was found.
func cut(s []byte, sep string) (before, after []byte, ok bool) {
	i := index(s, sep)
	if i < 0 {
		return s, nil, false
	}
	return s[:i], s[i+len(sep):], true
}

// index is bytes.Index for a short constant separator, anchored on its
// first byte found by the vectorised IndexByte, without converting sep.
func index(s []byte, sep string) int {
	if len(sep) == 0 {
		return 0
	}
	for off := 0; off+len(sep) <= len(s); {
		i := bytes.IndexByte(s[off:len(s)-len(sep)+1], sep[0])
		if i < 0 {
			return -1
		}
		if string(s[off+i:off+i+len(sep)]) == sep {
			return off + i
		}
		off += i + 1
	}
	return -1
}

func hasPrefix(s []byte, p string) bool { return len(s) >= len(p) && string(s[:len(p)]) == p }

// domainOf is the domain of an address ("a@b.example" or "<a@b.example>"),
// nil when it has none.
func domainOf(a []byte) []byte {
	if n := len(a); n > 0 && a[n-1] == '>' {
		a = a[:n-1]
	}
	if i := bytes.LastIndexByte(a, '@'); i >= 0 {
		return a[i+1:]
	}
	return nil
}

// hostName is the name part of an H= value: "mx.example [1.2.3.4]:25"
// gives "mx.example", "(helo) [1.2.3.4]" and "[1.2.3.4]" give the address.
func hostName(h []byte) []byte {
	if len(h) > 0 && h[0] != '(' && h[0] != '[' {
		w, _ := word(h)
		return w
	}
	if i := bytes.IndexByte(h, '['); i >= 0 {
		if j := bytes.IndexByte(h[i:], ']'); j > 0 {
			return h[i+1 : i+j]
		}
	}
	return nil
}

// seconds reads a QT=, DT= or RT= value: "0.449s", "3m12s", "1h2m3s",
// "2d3h" (Exim's readconf_printtime with fractions under +millisec); -1
// when it does not parse.
func seconds(v []byte) float64 {
	if len(v) == 0 {
		return -1
	}
	total, num, frac, scale := 0.0, 0.0, 0.0, 0.1
	inFrac, any := false, false
	for _, c := range v {
		switch {
		case isDigit(c):
			if inFrac {
				frac += float64(c-'0') * scale
				scale /= 10
			} else {
				num = num*10 + float64(c-'0')
			}
			any = true
		case c == '.' && !inFrac:
			inFrac = true
		default:
			var unit float64
			switch c {
			case 's':
				unit = 1
			case 'm':
				unit = 60
			case 'h':
				unit = 3600
			case 'd':
				unit = 86400
			case 'w':
				unit = 7 * 86400
			default:
				return -1
			}
			if !any {
				return -1
			}
			total += (num + frac) * unit
			num, frac, scale, inFrac, any = 0, 0, 0.1, false, false
		}
	}
	if any {
		return -1 // a number without its unit
	}
	return total
}

// atoi reads a non-negative decimal; -1 when s is not one.
func atoi(s []byte) int64 {
	if len(s) == 0 || len(s) > 18 {
		return -1
	}
	var n int64
	for _, c := range s {
		if !isDigit(c) {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// tlsCipher reads an X= value: GnuTLS's "TLS1.3:ECDHE_X25519__...:256" or
// OpenSSL's "TLSv1.3:TLS_AES_256_GCM_SHA384:256", protocol first and the
// cipher's bits last.
func tlsCipher(v []byte, ev *event.Event) {
	proto, rest, _ := cut(v, ":")
	switch string(proto) {
	case "TLS1.3", "TLSv1.3":
		ev.TLSProtocol = event.TLSv13
	case "TLS1.2", "TLSv1.2":
		ev.TLSProtocol = event.TLSv12
	case "TLS1.1", "TLSv1.1":
		ev.TLSProtocol = event.TLSv11
	case "TLS1.0", "TLSv1", "TLSv1.0":
		ev.TLSProtocol = event.TLSv1
	case "SSL3.0", "SSLv3":
		ev.TLSProtocol = event.SSLv3
	default:
		ev.TLSProtocol = event.TLSOther
	}
	if i := bytes.LastIndexByte(rest, ':'); i >= 0 {
		if n := atoi(rest[i+1:]); n > 0 && n < 1<<16 {
			ev.TLSCipherBits = uint16(n)
		}
	}
}
