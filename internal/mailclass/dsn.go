package mailclass

import "bytes"

// DSN is an enhanced mail system status code, class.subject.detail
// (RFC 3463).
type DSN struct {
	Class   uint8 // 2, 4 or 5; 0 when absent
	Subject uint16
	Detail  uint16
}

// IsZero reports whether no enhanced code was present.
func (d DSN) IsZero() bool { return d.Class == 0 }

// DSNClass returns the label value for the code's class.
func (d DSN) DSNClass() string {
	switch d.Class {
	case 2:
		return "2"
	case 4:
		return "4"
	case 5:
		return "5"
	}
	return "none"
}

// DSNClasses is the closed set of DSNClass values.
var DSNClasses = []string{"2", "4", "5", "none"}

// ParseDSN reads an enhanced status code "X.Y.Z" (X one of 2, 4, 5; Y and
// Z numbers of at most 999) at the start of s and returns it with what follows; ok is
// false, and s returned whole, when s does not start with one. It does not
// allocate.
func ParseDSN(s []byte) (d DSN, rest []byte, ok bool) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return d, s, false
	}
	subj, r, ok1 := smallUint(s[2:])
	if !ok1 || len(r) < 2 || r[0] != '.' {
		return d, s, false
	}
	det, r2, ok2 := smallUint(r[1:])
	if !ok2 {
		return d, s, false
	}
	return DSN{Class: s[0] - '0', Subject: subj, Detail: det}, r2, true
}

// FindDSN returns the first enhanced status code standing as a word of a
// free-text reply ("host mx.example[192.0.2.1] said: 450 4.2.1 ..."), a
// word that may end in ',', ';', ':' or ')'; zero when there is none.
func FindDSN(text []byte) DSN {
	for f := range bytes.FieldsSeq(text) {
		d, rest, ok := ParseDSN(f)
		if ok && len(bytes.TrimLeft(rest, ",;:)")) == 0 {
			return d
		}
	}
	return DSN{}
}

// smallUint reads the digits at the start of s as a number of at most
// 999 (leading zeros allowed, as in the MTA's own parser).
func smallUint(s []byte) (uint16, []byte, bool) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n <= 999 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if i == 0 || n > 999 {
		return 0, s, false
	}
	return uint16(n), s[i:], true
}

// AppendDSN appends the enhanced status code "c.s.d" to b (nothing for a
// zero code), without allocating beyond b.
func AppendDSN(b []byte, d DSN) []byte {
	if d.Class == 0 {
		return b
	}
	b = append(b, '0'+d.Class, '.')
	b = appendUint(b, d.Subject)
	b = append(b, '.')
	return appendUint(b, d.Detail)
}

func appendUint(b []byte, n uint16) []byte {
	if n >= 10 {
		b = appendUint(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
