package dnsx

// IsHostName reports whether s is a host name as DNS carries it for
// mail: dot-separated labels of ASCII letters, digits, hyphens and
// underscores (DKIM selectors, _dmarc), 1 to 63 bytes each, 253 in all,
// with an optional final dot. NUL, commas, spaces, escapes and other
// bytes that miekg/dns would accept in a presentation-format name are
// refused: a name from a config or a /probe URL is checked here once, for
// every collector.
func IsHostName(s string) bool {
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return label > 0
}
