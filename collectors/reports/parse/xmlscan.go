package parse

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"unicode/utf8"
)

// xmlHandler receives the elements of a document by local name. stack is
// the open elements, the current one last; text is the character data
// directly inside the element, entities decoded, at most maxText bytes.
type xmlHandler interface {
	start(stack []string) error
	end(stack []string, text []byte) error
}

const (
	maxText     = 4096
	maxName     = 256
	maxEntity   = 12
	dmarc2Space = "urn:ietf:params:xml:ns:dmarc-2.0"
)

// xmlScanner is a streaming, forgiving XML reader for reports (see the
// package doc for what it forgives). It never processes a DTD: any `<!`
// other than a comment or CDATA is refused.
type xmlScanner struct {
	r        *bufio.Reader
	h        xmlHandler
	lim      Limits
	stack    []string
	elements int
	text     []byte
	name     []byte
	attr     []byte
	// sawDMARC2 is set when an attribute value is the RFC 9990 namespace.
	sawDMARC2 bool
	// intern returns the known name equal to a name, or "".
	intern func([]byte) string
}

func newXMLScanner(r *bufio.Reader, h xmlHandler, lim Limits, intern func([]byte) string) *xmlScanner {
	return &xmlScanner{r: r, h: h, lim: lim, intern: intern}
}

// run scans to the end of the input. Elements still open at the end are
// closed.
func (s *xmlScanner) run() error {
	for {
		if err := s.textRun(); err != nil {
			return err
		}
		b, err := s.r.ReadByte()
		if err == io.EOF {
			return s.closeTo(0)
		}
		if err != nil {
			return err
		}
		if b == '<' {
			err = s.markup()
		} else {
			err = s.entity()
		}
		if err != nil {
			return err
		}
	}
}

// textRun takes character data up to the next '<' or '&' from the
// buffer in bulk.
func (s *xmlScanner) textRun() error {
	for {
		if s.r.Buffered() == 0 {
			if _, err := s.r.Peek(1); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
		chunk, _ := s.r.Peek(s.r.Buffered())
		i := bytes.IndexByte(chunk, '<')
		if i < 0 {
			i = len(chunk)
		}
		if j := bytes.IndexByte(chunk[:i], '&'); j >= 0 {
			i = j
		}
		s.addText(chunk[:i]...)
		s.r.Discard(i)
		if i < len(chunk) {
			return nil
		}
	}
}

func (s *xmlScanner) addText(b ...byte) {
	if len(s.text)+len(b) <= maxText {
		s.text = append(s.text, b...)
	}
}

// markup reads what follows a '<'.
func (s *xmlScanner) markup() error {
	c, err := s.r.ReadByte()
	if err == io.EOF {
		s.addText('<')
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case c == '/':
		name, err := s.readName()
		if err != nil {
			return err
		}
		if err := s.skipPast('>'); err != nil {
			return err
		}
		return s.endTag(name)
	case c == '?':
		return s.skipPastSeq("?>")
	case c == '!':
		return s.bang()
	case isNameStart(c):
		if err := s.r.UnreadByte(); err != nil {
			return err
		}
		return s.startTag()
	}
	// A '<' that opens nothing: a reporter forgot to escape it.
	s.addText('<')
	return s.r.UnreadByte()
}

// bang reads a comment or CDATA section and refuses anything else
// (DOCTYPE, ENTITY, ...).
func (s *xmlScanner) bang() error {
	head, _ := s.r.Peek(7)
	switch {
	case bytes.HasPrefix(head, []byte("--")):
		s.r.Discard(2)
		return s.skipPastSeq("-->")
	case bytes.Equal(head, []byte("[CDATA[")):
		s.r.Discard(7)
		return s.cdata()
	}
	return refuse(ReasonDoctype, "XML declarations (<!%s...) are refused: no DTD or entity is processed", printable(head))
}

func (s *xmlScanner) cdata() error {
	var prev [2]byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return eofIsMalformed(err, "unterminated CDATA")
		}
		if b == '>' && prev == [2]byte{']', ']'} {
			if len(s.text) >= 2 && len(s.text) <= maxText {
				s.text = s.text[:len(s.text)-2]
			}
			return nil
		}
		prev[0], prev[1] = prev[1], b
		s.addText(b)
	}
}

func (s *xmlScanner) startTag() error {
	name, err := s.readName()
	if err != nil {
		return err
	}
	s.elements++
	if s.elements > s.lim.MaxXMLElements {
		return refuse(ReasonXMLLimits, "more than %d XML elements", s.lim.MaxXMLElements)
	}
	if len(s.stack) >= s.lim.MaxXMLDepth {
		return refuse(ReasonXMLLimits, "XML nested deeper than %d", s.lim.MaxXMLDepth)
	}
	self, err := s.attributes()
	if err != nil {
		return err
	}
	s.stack = append(s.stack, name)
	s.text = s.text[:0]
	if err := s.h.start(s.stack); err != nil {
		return err
	}
	if self {
		return s.endTag(name)
	}
	return nil
}

// attributes reads to the end of a start tag, noting the RFC 9990
// namespace; it reports whether the tag closed itself.
func (s *xmlScanner) attributes() (selfClosing bool, err error) {
	// Fast path: a tag without attributes.
	if head, _ := s.r.Peek(2); len(head) > 0 && head[0] == '>' {
		s.r.Discard(1)
		return false, nil
	} else if len(head) == 2 && head[0] == '/' && head[1] == '>' {
		s.r.Discard(2)
		return true, nil
	}
	var quote byte
	var last byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return false, eofIsMalformed(err, "unterminated tag")
		}
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
				if string(s.attr) == dmarc2Space {
					s.sawDMARC2 = true
				}
			} else if len(s.attr) < maxName {
				s.attr = append(s.attr, b)
			}
		case b == '"' || b == '\'':
			quote = b
			s.attr = s.attr[:0]
		case b == '>':
			return last == '/', nil
		case b == '<':
			return false, refuse(ReasonMalformed, "'<' inside a tag")
		}
		if b > ' ' {
			last = b
		}
	}
}

// endTag closes the named element and any left open inside it; an end tag
// that matches no open element is ignored.
func (s *xmlScanner) endTag(name string) error {
	for i := len(s.stack) - 1; i >= 0; i-- {
		if s.stack[i] == name {
			return s.closeTo(i)
		}
	}
	return nil
}

// closeTo closes the open elements down to depth n.
func (s *xmlScanner) closeTo(n int) error {
	for len(s.stack) > n {
		if err := s.h.end(s.stack, s.text); err != nil {
			return err
		}
		s.text = s.text[:0]
		s.stack = s.stack[:len(s.stack)-1]
	}
	return nil
}

// readName reads an element name and returns its local part, interned
// when known.
func (s *xmlScanner) readName() (string, error) {
	// Fast path: the name is in the buffer.
	buf, _ := s.r.Peek(s.r.Buffered())
	for i, b := range buf {
		if b <= ' ' || b == '>' || b == '/' {
			if i > maxName {
				break
			}
			name := s.local(buf[:i])
			s.r.Discard(i)
			return name, nil
		}
	}
	s.name = s.name[:0]
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return "", eofIsMalformed(err, "unterminated tag name")
		}
		if b <= ' ' || b == '>' || b == '/' {
			if err := s.r.UnreadByte(); err != nil {
				return "", err
			}
			break
		}
		if len(s.name) >= maxName {
			return "", refuse(ReasonMalformed, "XML name longer than %d bytes", maxName)
		}
		s.name = append(s.name, b)
	}
	return s.local(s.name), nil
}

// local returns the local part of a name, interned when known.
func (s *xmlScanner) local(name []byte) string {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	if v := s.intern(name); v != "" {
		return v
	}
	return string(name)
}

func (s *xmlScanner) skipPast(c byte) error {
	_, err := s.r.ReadSlice(c)
	for err == bufio.ErrBufferFull {
		_, err = s.r.ReadSlice(c)
	}
	return eofIsMalformed(err, "unterminated markup")
}

func (s *xmlScanner) skipPastSeq(seq string) error {
	matched := 0
	for matched < len(seq) {
		b, err := s.r.ReadByte()
		if err != nil {
			return eofIsMalformed(err, "unterminated markup")
		}
		switch {
		case b == seq[matched]:
			matched++
		case b == seq[0]:
			matched = 1
		default:
			matched = 0
		}
	}
	return nil
}

// entity decodes a character or predefined entity reference; anything
// else is kept as written.
func (s *xmlScanner) entity() error {
	var buf [maxEntity]byte
	n := 0
	for n < maxEntity {
		b, err := s.r.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if b == ';' {
			if r, ok := decodeEntity(buf[:n]); ok {
				var rb [utf8.UTFMax]byte
				s.addText(utf8.AppendRune(rb[:0], r)...)
				return nil
			}
			s.addText('&')
			s.addText(buf[:n]...)
			s.addText(';')
			return nil
		}
		if b == '<' || b == '&' || b <= ' ' {
			if err := s.r.UnreadByte(); err != nil {
				return err
			}
			break
		}
		buf[n] = b
		n++
	}
	s.addText('&')
	s.addText(buf[:n]...)
	return nil
}

func decodeEntity(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	}
	if len(name) > 1 && name[0] == '#' {
		var v uint64
		var err error
		if name[1] == 'x' || name[1] == 'X' {
			v, err = strconv.ParseUint(string(name[2:]), 16, 32)
		} else {
			v, err = strconv.ParseUint(string(name[1:]), 10, 32)
		}
		if err == nil && utf8.ValidRune(rune(v)) {
			return rune(v), true
		}
	}
	return 0, false
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || c >= 0x80
}

func eofIsMalformed(err error, what string) error {
	if err == io.EOF {
		return refuse(ReasonMalformed, "%s at end of input", what)
	}
	return err
}

// printable shows a few bytes of markup in an error without control
// characters.
func printable(b []byte) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c < ' ' || c >= 0x7f {
			c = '?'
		}
		out = append(out, c)
	}
	return string(out)
}

// textString turns element text into a trimmed string; bytes that are not
// UTF-8 are read as Latin-1, the usual encoding of reporters that get it
// wrong.
func textString(b []byte) string {
	b = bytes.TrimSpace(b)
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			r = rune(b[0])
		}
		out = append(out, r)
		b = b[n:]
	}
	return string(out)
}
