package parse

import (
	"bufio"
	"compress/gzip"
	"errors"
	"io"
	"sync"
)

// parser is the state of one Parse call.
type parser struct {
	lim   Limits
	input capReader
	parts int
}

// Parse reads one report from r within lim: an aggregate report as XML,
// a TLS report as JSON, either one gzip- or zip-compressed, or an email
// carrying any of them or an ARF complaint or DMARC failure report. The
// error is always a *Refusal.
func Parse(r io.Reader, lim Limits) (*Report, error) {
	p := &parser{lim: lim}
	p.input = capReader{r: r, max: lim.MaxInputBytes, what: "input"}
	br := inputReaders.Get().(*bufio.Reader)
	br.Reset(&p.input)
	defer func() {
		br.Reset(nil)
		inputReaders.Put(br)
	}()
	var rep *Report
	var err error
	switch sniff(br) {
	case formEmail:
		rep, err = p.email(br, 0)
	case formEmpty:
		err = refuse(ReasonNotAReport, "empty input")
	case formUnknown:
		err = refuse(ReasonNotAReport, "neither XML, JSON, gzip, zip nor an email")
	default:
		rep, err = p.container(br)
	}
	if err != nil {
		return nil, asRefusal(err, "report")
	}
	return rep, nil
}

// Readers and decompressors are reused across Parse calls: a directory of
// thousands of reports would otherwise allocate (and collect) a 32 KiB
// buffer and a 40 KiB inflater per report.
var (
	inputReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 32<<10) }}
	gzipReaders  sync.Pool
)

// container reads a compressed or bare report.
func (p *parser) container(br *bufio.Reader) (*Report, error) {
	switch sniff(br) {
	case formGzip:
		return p.gzip(br)
	case formZip:
		return p.zip(br)
	}
	return p.payload(br)
}

// payload reads a decompressed report: XML or JSON, never another archive.
func (p *parser) payload(br *bufio.Reader) (*Report, error) {
	switch sniff(br) {
	case formXML:
		return p.aggregate(br)
	case formJSON:
		return p.tlsrpt(br)
	case formGzip, formZip:
		return nil, refuse(ReasonNestedArchive, "an archive inside an archive")
	case formEmpty:
		return nil, refuse(ReasonNotAReport, "empty report")
	}
	return nil, refuse(ReasonNotAReport, "neither XML nor JSON")
}

func (p *parser) gzip(br *bufio.Reader) (*Report, error) {
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(br)
	} else {
		err = zr.Reset(br)
	}
	if err != nil {
		return nil, asRefusal(err, "gzip")
	}
	defer gzipReaders.Put(zr)
	zr.Multistream(false)
	members := &gzipMembers{z: zr, src: br}
	return p.payload(bufio.NewReader(p.inflated(members, "gzip")))
}

// gzipMembers reads the members of a gzip stream one after the other and
// ends, without error, at bytes after a member that are not another
// member: some reporters append padding or garbage after the gzip data.
type gzipMembers struct {
	z    *gzip.Reader
	src  *bufio.Reader
	done bool
}

func (g *gzipMembers) Read(b []byte) (int, error) {
	for {
		if g.done {
			return 0, io.EOF
		}
		n, err := g.z.Read(b)
		if err != io.EOF {
			if err != nil {
				err = asRefusal(err, "gzip")
			}
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		if err := g.z.Reset(g.src); err != nil {
			// io.EOF: no more members; anything else: trailing bytes.
			g.done = true
			if !errors.Is(err, io.EOF) && !errors.Is(err, gzip.ErrHeader) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, asRefusal(err, "gzip")
			}
			continue
		}
		g.z.Multistream(false)
	}
}
