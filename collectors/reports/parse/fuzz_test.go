package parse

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/collectors/reports/parse/parsetest"
)

// recorder writes down what the scanner reports.
type recorder struct{ events []string }

func (r *recorder) start(stack []string) error {
	r.events = append(r.events, "S:"+stack[len(stack)-1])
	return nil
}

func (r *recorder) end(stack []string, text []byte) error {
	r.events = append(r.events, "E:"+stack[len(stack)-1]+":"+strings.ReplaceAll(string(text), "\r", ""))
	return nil
}

func scanEvents(doc []byte) ([]string, error) {
	rec := &recorder{}
	s := newXMLScanner(bufio.NewReader(bytes.NewReader(doc)), rec, DefaultLimits(), func([]byte) string { return "" })
	err := s.run()
	return rec.events, err
}

// referenceEvents is what encoding/xml sees in a well-formed document; ok
// is false where encoding/xml refuses it or it has a directive (which the
// scanner refuses by design).
func referenceEvents(doc []byte) (events []string, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	var text []byte
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return events, true
		}
		if err != nil {
			return nil, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			events = append(events, "S:"+t.Name.Local)
			text = text[:0]
		case xml.CharData:
			text = append(text, t...)
		case xml.EndElement:
			if len(text) > maxText {
				text = text[:maxText]
			}
			events = append(events, "E:"+t.Name.Local+":"+strings.ReplaceAll(string(text), "\r", ""))
			text = text[:0]
		case xml.Directive:
			return nil, false
		}
	}
}

func xmlFixtures(t testing.TB) [][]byte {
	names, _ := filepath.Glob("testdata/*.xml")
	var out [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return append(out, parsetest.AggregateXML(3, 5), []byte(`<a x='1>' y="<">t&amp;<![CDATA[<c>]]><!-- c --><?pi x?><b/>u&#233;&#x41;</a>`))
}

// TestScannerMatchesEncodingXML pins the scanner to encoding/xml on every
// well-formed fixture.
func TestScannerMatchesEncodingXML(t *testing.T) {
	compared := 0
	for _, doc := range xmlFixtures(t) {
		want, ok := referenceEvents(doc)
		if !ok {
			continue
		}
		compared++
		got, err := scanEvents(doc)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("scanner %v (err %v)\nencoding/xml %v", got, err, want)
		}
	}
	if compared < 5 {
		t.Fatalf("only %d documents compared", compared)
	}
}

func FuzzXMLScanner(f *testing.F) {
	for _, doc := range xmlFixtures(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := scanEvents(doc)
		want, ok := referenceEvents(doc)
		if !ok || bytes.Contains(doc, []byte("\r")) {
			return
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("scanner %q (err %v)\nencoding/xml %q", got, err, want)
		}
	})
}

// FuzzParse feeds anything to Parse with small limits: it must never
// panic, and refuse with a *Refusal or return a report of a known kind.
func FuzzParse(f *testing.F) {
	for _, doc := range xmlFixtures(f) {
		f.Add(doc)
		f.Add(gzipped(f, doc))
	}
	for _, name := range []string{"tlsrpt-rfc8460.json", "tlsrpt-quirks.json", "arf-abuse.eml", "dmarc-failure.eml"} {
		f.Add(fixture(f, name))
	}
	f.Add(zipped(f, map[string][]byte{"r.xml": fixture(f, "rfc7489-google.xml")}))
	lim := Limits{MaxInputBytes: 1 << 20, MaxDecompressedBytes: 1 << 20, MaxCompressionRatio: 100, MaxZipMembers: 4,
		MaxMIMEParts: 16, MaxMIMEDepth: 4, MaxHeaderBytes: 16 << 10, MaxXMLDepth: 16, MaxXMLElements: 10_000, MaxJSONDepth: 16}
	f.Fuzz(func(t *testing.T, input []byte) {
		rep, err := Parse(bytes.NewReader(input), lim)
		if err != nil {
			var r *Refusal
			if !errors.As(err, &r) || r.Reason == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if !slices.Contains(Kinds(), rep.Kind) || rep.ID() == "" {
			t.Fatalf("report %+v", rep)
		}
	})
}
