package exim

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// Small scanning helpers over the line's bytes. None of them allocates:
// they return sub-slices of their input.

// itemAt reads the item of s that starts at i or after the spaces there:
// a KEY=value pair, or a bare word (K, M8S, PRDR, "defer", "(-44)").
// KEY= is one to four letters or digits, not starting with a digit (id=
// is the only lower-case one); key is its name packed by keyCode, 0 for
// a bare word. The value is s[vs:ve]. A value in double quotes (T="subject",
// C="250 OK", DN="CN=x") runs to its closing quote, backslash escapes
// included; H='s value takes the words after it that start with '(' or
// '[' ("H=name (helo) [ip]:port"). end is set when the item ended with
// ':' before a space: the free text after it (an error) is the rest of
// the line. next is where the rest of s starts, -1 when nothing follows
// the item (no space after it). ok is false when s has only spaces from i.
//
// This runs for every item of every arrival and delivery line, so it
// costs no call in the common case: positions in place of sub-slices (the
// six results fit in registers), the key compared as one integer instead
// of as a string, and the space that ends a word found here, eight bytes
// at a time, not by a call per item.
func itemAt(s []byte, i int) (key uint32, vs, ve, next int, end, ok bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		return 0, 0, 0, -1, false, false
	}
	vs = i
	switch {
	case i+2 < len(s) && s[i+1] == '=':
		// The common keys of one letter, without the loop below.
		if c := s[i]; alnumByte[c] != 0 && !isDigit(c) {
			key, vs = uint32(c), i+2
		}
	case i+3 < len(s) && s[i+2] == '=':
		if c, d := s[i], s[i+1]; alnumByte[c]&alnumByte[d] != 0 && !isDigit(c) {
			key, vs = uint32(c)|uint32(d)<<8, i+3
		}
	case i+3 < len(s) && s[i+3] == '=', i+4 < len(s) && s[i+4] == '=',
		i+1 < len(s) && s[i+1] == '=', i+2 < len(s) && s[i+2] == '=':
		// A key of three or four letters, or one at the end of s. A
		// bare word ("defer", "(-44)") has no '=' in its first five
		// bytes and skips the loop.
		k := 0
		for k < 4 && i+k < len(s) && alnumByte[s[i+k]] != 0 {
			k++
		}
		if k > 0 && i+k < len(s) && s[i+k] == '=' && !isDigit(s[i]) {
			key, vs = keyCode(s[i:i+k]), i+k+1
		}
	}
	if key != 0 && vs < len(s) && s[vs] == '"' {
		e := vs + closingQuote(s[vs:])
		next = min(e+1, len(s))
		if next < len(s) && s[next] == ':' {
			end = true
			next++
		}
		return key, vs + 1, e, next, end, true
	}
	// The word's end: its first space, looked for eight bytes at a time
	// as indexSpace does, here without its call.
	ve, next = len(s), -1
	for j := vs; ; j += 8 {
		if j+8 > len(s) {
			for ; j < len(s); j++ {
				if s[j] == ' ' {
					ve, next = j, j+1
					break
				}
			}
			break
		}
		x := binary.LittleEndian.Uint64(s[j:]) ^ eightSpaces
		if t := (x - eightOnes) &^ x & eightHighs; t != 0 {
			j += bits.TrailingZeros64(t) >> 3
			ve, next = j, j+1
			break
		}
	}
	if key == keyH {
		// Join "(helo)" and "[ip]:port" to the host name.
		for next >= 0 && next < len(s) && (s[next] == '(' || s[next] == '[') && s[ve-1] != ':' {
			if j := indexSpace(s[next:]); j >= 0 {
				ve, next = next+j, next+j+1
			} else {
				ve, next = len(s), -1
			}
		}
	}
	if ve > vs && s[ve-1] == ':' {
		ve, end = ve-1, true
	}
	return key, vs, ve, next, end, true
}

// keyCode packs a KEY= name of one to four bytes into a word, first byte
// lowest, so keyCode("QT") == 'Q'|'T'<<8 can be a switch's case.
func keyCode(k []byte) uint32 {
	var c uint32
	for i := len(k) - 1; i >= 0; i-- {
		c = c<<8 | uint32(k[i])
	}
	return c
}

// Keys of the items the parser reads, as keyCode packs them.
const (
	keyA  = 'A'
	keyC  = 'C'
	keyF  = 'F'
	keyH  = 'H'
	keyI  = 'I'
	keyP  = 'P'
	keyR  = 'R'
	keyS  = 'S'
	keyT  = 'T'
	keyX  = 'X'
	keyQT = 'Q' | 'T'<<8
	keyID = 'i' | 'd'<<8
)

// restAt is s from next, nil when next is -1 (what word's rest is when no
// space follows).
func restAt(s []byte, next int) []byte {
	if next < 0 {
		return nil
	}
	return s[next:]
}

// firstValue is the value of the first item of s ("H=mx [1.2.3.4]:25
// ..." gives "mx [1.2.3.4]:25"), nil when s has none.
func firstValue(s []byte) []byte {
	_, vs, ve, _, _, ok := itemAt(s, 0)
	if !ok {
		return nil
	}
	return s[vs:ve]
}

// endsColon reports whether a word ends with ':' that is not part of an
// address or a port ("x@y.example:" ends; "[1.2.3.4]:25" does not).
func endsColon(w []byte) bool {
	return len(w) > 0 && w[len(w)-1] == ':'
}

// closingQuote is the index of the '"' that closes the quoted string
// starting at s[0], or len(s) when it is not closed. A backslash escapes
// the byte after it. The quote and the backslashes are looked for by the
// vectorised IndexByte: a subject or a reply seldom has a backslash.
func closingQuote(s []byte) int {
	for i := 1; i < len(s); {
		q := bytes.IndexByte(s[i:], '"')
		if q < 0 {
			return len(s)
		}
		q += i
		b := bytes.IndexByte(s[i:q], '\\')
		if b < 0 {
			return q
		}
		i += b + 2
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
	i := 0
	for ; i+8 <= len(s) && i < 32; i += 8 {
		x := binary.LittleEndian.Uint64(s[i:]) ^ eightSpaces
		if t := (x - eightOnes) &^ x & eightHighs; t != 0 {
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

// The words of the eight-bytes-at-a-time search for a space: in
// (x^eightSpaces - eightOnes) &^ (x^eightSpaces) & eightHighs, the lowest
// set high bit marks the first space among x's bytes.
const (
	eightOnes   = 0x0101010101010101
	eightHighs  = 0x8080808080808080
	eightSpaces = 0x2020202020202020
)

// cut returns s before and after the first sep, and whether sep was found.
func cut(s []byte, sep string) (before, after []byte, ok bool) {
	i := index(s, sep)
	if i < 0 {
		return s, nil, false
	}
	return s[:i], s[i+len(sep):], true
}

// index is bytes.Index for a short constant separator whose first byte
// is seldom in the text (": "), anchored on that byte found by the
// vectorised IndexByte, without converting sep. A separator that starts
// with a common byte is a needle.
func index(s []byte, sep string) int {
	return indexAnchored(s, sep, 0)
}

// needle is a constant separator looked for by its rarest byte in log
// text (rareness), chosen once: "rejected " by its 'j', " H=" by its
// 'H', where an anchor on a common first byte ('r', ' ') stopped at
// nearly every word to compare.
type needle struct {
	sep    string
	anchor int
}

func newNeedle(sep string) needle {
	a := 0
	for k := 1; k < len(sep); k++ {
		if rareness[sep[k]] > rareness[sep[a]] {
			a = k
		}
	}
	return needle{sep, a}
}

// in is bytes.Index(s, n.sep).
func (n needle) in(s []byte) int {
	return indexAnchored(s, n.sep, n.anchor)
}

// indexAnchored is bytes.Index(s, sep), found by looking for sep[a].
func indexAnchored(s []byte, sep string, a int) int {
	n := len(sep)
	if n == 0 {
		return 0
	}
	// The anchor of a match at start sits at start+a; the last possible
	// start is len(s)-n.
	for off := a; off <= len(s)-n+a; {
		i := bytes.IndexByte(s[off:len(s)-n+a+1], sep[a])
		if i < 0 {
			return -1
		}
		start := off + i - a
		// The last byte first: most candidates fail on it, without
		// the call a comparison of the whole costs.
		if s[start+n-1] == sep[n-1] && string(s[start:start+n]) == sep {
			return start
		}
		off += i + 1
	}
	return -1
}

// The needles of the parser's searches.
var (
	inAuthenticatorFailedFor      = newNeedle(" authenticator failed for ")
	inClosedByDROP                = newNeedle(" closed by DROP")
	inClosedByQUIT                = newNeedle(" closed by QUIT")
	inDurationField               = newNeedle(" D=")
	inDropped                     = newNeedle(" dropped: ")
	inFrom                        = newNeedle(" from ")
	inHostField                   = newNeedle(" H=")
	inHaveBeenFailingForALongTime = newNeedle("have been failing for a long time")
	inLost                        = newNeedle(" lost")
	inMessageData                 = newNeedle("message data")
	inRefused                     = newNeedle(" refused")
	inRejected                    = newNeedle(" rejected ")
	inRejectedWord                = newNeedle("rejected ")
	inRetryTimeoutExceeded        = newNeedle("retry timeout exceeded")
	inSetID                       = newNeedle(" (set_id=")
	inTCPIPConnectionCount        = newNeedle(" (TCP/IP connection count")
	inTCPIP                       = newNeedle(" (TCP/IP")
	inTLS                         = newNeedle("TLS ")
)

// rareness ranks bytes by how seldom they are in mail log text, higher
// for rarer: a space, the common lower-case letters and the digits are
// nearly everywhere; capitals, most punctuation and the rare letters
// seldom are. Only the order matters.
var rareness = func() (r [256]uint8) {
	for c := range r {
		r[c] = 200 // control bytes, non-ASCII, rare punctuation
	}
	for c := 'A'; c <= 'Z'; c++ {
		r[c] = 150
	}
	for c := '0'; c <= '9'; c++ {
		r[c] = 60
	}
	// Lower case, from English letter frequencies: the rare ones first.
	for i, c := range "zqxjkvbpygfwmucldrhsnioate" {
		r[c] = uint8(140 - i*4)
	}
	for _, c := range ".-=@<>[]():;,_/" {
		r[c] = 110
	}
	r[' '] = 0
	return r
}()

// hasPrefix is bytes.HasPrefix for a constant p. The first bytes are
// compared before the rest: the long chains of prefixes a line is tried
// against then cost a byte compare each, not a call to compare memory.
func hasPrefix(s []byte, p string) bool {
	return len(s) >= len(p) && (len(p) == 0 || s[0] == p[0]) && string(s[:len(p)]) == p
}

// domainOf is the domain of an address ("a@b.example" or "<a@b.example>"),
// after its last '@'; nil when it has none. The '@' is looked for from
// the front by the vectorised IndexByte (an address has one, seldom two),
// not byte by byte from the end.
func domainOf(a []byte) []byte {
	if n := len(a); n > 0 && a[n-1] == '>' {
		a = a[:n-1]
	}
	i := bytes.IndexByte(a, '@')
	if i < 0 {
		return nil
	}
	for {
		j := bytes.IndexByte(a[i+1:], '@')
		if j < 0 {
			return a[i+1:]
		}
		i += j + 1
	}
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
