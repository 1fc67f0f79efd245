package parse

import (
	"archive/zip"
	"bufio"
	"bytes"
	"errors"
	"io"
)

// centralHeader is the signature of a zip central directory entry.
var centralHeader = []byte("PK\x01\x02")

// zip reads the first file of a zip archive. archive/zip needs random
// access, so the archive is held in memory (it is bounded by the input
// cap). Before archive/zip builds its file list, the central directory
// entries are counted: every entry starts with the signature, so the
// number of signatures in the archive bounds the list archive/zip could
// build, whatever the end record claims.
func (p *parser) zip(r io.Reader) (*Report, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, asRefusal(err, "zip")
	}
	if n := bytes.Count(data, centralHeader); n > p.lim.MaxZipMembers {
		return nil, refuse(ReasonZipMembers, "zip has %d or more members, more than %d", n, p.lim.MaxZipMembers)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, asRefusal(err, "zip")
	}
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, asRefusal(err, "zip member")
		}
		defer rc.Close()
		return p.payload(bufio.NewReader(p.inflated(rc, "zip member")))
	}
	return nil, refuse(ReasonNotAReport, "zip has no file")
}
