package parse

import (
	"bytes"
	"io"
)

// capReader passes at most max bytes through; asked for more, it reads one
// byte beyond the cap to learn whether the input goes on, and if it does
// returns a refusal instead of data. So a decompressor behind it is never
// asked for more than max+1 bytes.
type capReader struct {
	r      io.Reader
	n, max int64
	what   string
	// ratioIn, when set, is the count of input bytes the output is
	// measured against; ratio is the cap of n / *ratioIn.
	ratioIn *int64
	ratio   int64
	err     error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if rest := c.max + 1 - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	k, err := c.r.Read(p)
	c.n += int64(k)
	if c.n > c.max {
		// Pass what fits; the refusal comes with the next read.
		c.err = refuse(ReasonOversized, "%s larger than %d bytes", c.what, c.max)
		return k - int(c.n-c.max), nil
	}
	if c.ratioIn != nil && c.ratio > 0 && c.n > ratioFloor && c.n > c.ratio*max(*c.ratioIn, 1) {
		c.err = refuse(ReasonRatio, "%s expands more than %d times (%d bytes from %d)", c.what, c.ratio, c.n, *c.ratioIn)
		return 0, c.err
	}
	return k, err
}

// inflated caps what a decompressor produces, measured against the input
// bytes the parser has read so far.
func (p *parser) inflated(r io.Reader, what string) io.Reader {
	return &capReader{r: r, max: p.lim.MaxDecompressedBytes, what: what, ratioIn: &p.input.n, ratio: p.lim.MaxCompressionRatio}
}

// form is what the first bytes of a payload say it is.
type form int

const (
	formUnknown form = iota
	formEmpty
	formGzip
	formZip
	formXML
	formJSON
	formEmail
)

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// sniff looks at the first bytes without consuming them.
func sniff(br interface{ Peek(int) ([]byte, error) }) form {
	head, _ := br.Peek(512)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return formGzip
	}
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")) {
		return formZip
	}
	head = bytes.TrimLeft(bytes.TrimPrefix(head, utf8BOM), " \t\r\n")
	if len(head) == 0 {
		return formEmpty
	}
	switch head[0] {
	case '<':
		return formXML
	case '{':
		return formJSON
	}
	if looksLikeHeader(head) {
		return formEmail
	}
	return formUnknown
}

// looksLikeHeader says whether the first line is a header field: a name
// of printable characters without spaces, then a colon.
func looksLikeHeader(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ':':
			return i > 0
		case c <= ' ' || c >= 0x7f:
			return false
		}
	}
	return false
}
