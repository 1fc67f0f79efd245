package parse

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

// memoryGoal is the bound on what one hostile report may cost.
const memoryGoal = 64 << 20

// countingReader counts the bytes Parse pulled from its input.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// repeatReader yields b n times without holding more than b.
type repeatReader struct {
	b   []byte
	n   int64
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p, r.b[r.off:])
	r.off += k
	if r.off == len(r.b) {
		r.off = 0
		r.n--
	}
	return k, nil
}

// gzipBomb streams a gzip member that inflates to prefix followed by
// mib MiB of spaces. It never holds more than one compressed MiB: the
// deflate block that encodes a MiB of spaces after spaces is made once
// and repeated (each ends with a sync flush, so it stands alone). The
// trailer's checksum is not computed: a reader that checks it has already
// read all 10 GB.
func gzipBomb(t testing.TB, prefix string, mib int64) io.Reader {
	t.Helper()
	var buf bytes.Buffer
	zw, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	spaces := bytes.Repeat([]byte{' '}, 1<<20)
	zw.Write([]byte(prefix))
	zw.Write(spaces[len(prefix):])
	zw.Flush()
	first := bytes.Clone(buf.Bytes())
	buf.Reset()
	zw.Write(spaces)
	zw.Flush()
	block := bytes.Clone(buf.Bytes())
	buf.Reset()
	zw.Close()
	last := bytes.Clone(buf.Bytes())
	header := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}
	trailer := make([]byte, 8)
	return io.MultiReader(bytes.NewReader(header), bytes.NewReader(first),
		&repeatReader{b: block, n: mib - 1}, bytes.NewReader(last), bytes.NewReader(trailer))
}

func TestGzipBombIsRepeatable(t *testing.T) {
	// The bomb is what it claims: 4 MiB of spaces after the prefix.
	r := gzipBomb(t, "<feedback>", 4)
	io.CopyN(io.Discard, r, 10) // the gzip header
	n, err := io.Copy(io.Discard, flate.NewReader(r))
	if err != nil || n != 4<<20 {
		t.Fatalf("inflated %d bytes, err %v; want %d", n, err, 4<<20)
	}
}

// parseMeasured parses with lim and returns the reason, the bytes pulled
// from the input and the bytes allocated meanwhile (an upper bound of the
// heap's growth).
func parseMeasured(t *testing.T, input io.Reader, lim Limits) (Reason, int64, uint64) {
	t.Helper()
	in := &countingReader{r: input}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Parse(in, lim)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("hostile input accepted")
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("refused: %v; read %d input bytes; allocated %.1f MiB", err, in.n, float64(alloc)/(1<<20))
	if alloc > memoryGoal {
		t.Errorf("allocated %d bytes, more than %d", alloc, memoryGoal)
	}
	return ReasonOf(err), in.n, alloc
}

func TestHostileGzip10GB(t *testing.T) {
	const tenGB = 10 << 10 // MiB
	t.Run("default limits", func(t *testing.T) {
		reason, _, _ := parseMeasured(t, gzipBomb(t, "<feedback><report_metadata><org_name>", tenGB), DefaultLimits())
		if reason != ReasonRatio {
			t.Errorf("reason %s, want %s", reason, ReasonRatio)
		}
	})
	t.Run("ratio off: the decompressed cap stops it", func(t *testing.T) {
		lim := DefaultLimits()
		lim.MaxCompressionRatio = 0
		reason, read, _ := parseMeasured(t, gzipBomb(t, "<feedback><report_metadata><org_name>", tenGB), lim)
		if reason != ReasonOversized {
			t.Errorf("reason %s, want %s", reason, ReasonOversized)
		}
		// 50 MiB of spaces take about 50 KiB compressed: reading must stop
		// there, not go on through the 10 MiB the whole bomb takes.
		if read > 1<<20 {
			t.Errorf("read %d compressed bytes; the cap is not where reading stops", read)
		}
	})
}

func TestDecompressedCapStopsAtTheCap(t *testing.T) {
	// The decompressor is asked for at most cap+1 bytes.
	inner := &countingReader{r: strings.NewReader(strings.Repeat("x", 10_000))}
	c := &capReader{r: inner, max: 1000, what: "test"}
	n, err := io.Copy(io.Discard, c)
	if ReasonOf(err) != ReasonOversized || n != 1000 || inner.n != 1001 {
		t.Errorf("passed %d, pulled %d, err %v", n, inner.n, err)
	}
}

// endless yields a start of a report and then spaces forever.
type endless struct{ started bool }

func (e *endless) Read(p []byte) (int, error) {
	if !e.started {
		e.started = true
		return copy(p, "<feedback>"), nil
	}
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestHostileEndlessInput(t *testing.T) {
	// A 2 GB (or endless) body stops at the input cap.
	lim := DefaultLimits()
	reason, read, _ := parseMeasured(t, &endless{}, lim)
	if reason != ReasonOversized || read > lim.MaxInputBytes+1 {
		t.Errorf("reason %s after %d bytes (cap %d)", reason, read, lim.MaxInputBytes)
	}
}

func TestHostileZip(t *testing.T) {
	t.Run("100000 members", func(t *testing.T) {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		for i := range 100_000 {
			if _, err := w.CreateHeader(&zip.FileHeader{Name: fmt.Sprint(i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		lim := DefaultLimits()
		lim.MaxInputBytes = 64 << 20 // let the member cap, not the size cap, refuse it
		reason, _, _ := parseMeasured(t, bytes.NewReader(buf.Bytes()), lim)
		if reason != ReasonZipMembers {
			t.Errorf("reason %s, want %s", reason, ReasonZipMembers)
		}
	})
	xml := fixture(t, "rfc7489-google.xml")
	inner := zipped(t, map[string][]byte{"r.xml": xml})
	for name, input := range map[string][]byte{
		"zip in zip":  zipped(t, map[string][]byte{"r.zip": inner}),
		"gzip in zip": zipped(t, map[string][]byte{"r.xml.gz": gzipped(t, xml)}),
		"zip in gzip": gzipped(t, inner),
	} {
		t.Run(name, func(t *testing.T) {
			if reason, _, _ := parseMeasured(t, bytes.NewReader(input), DefaultLimits()); reason != ReasonNestedArchive {
				t.Errorf("reason %s, want %s", reason, ReasonNestedArchive)
			}
		})
	}
	t.Run("zip bomb member", func(t *testing.T) {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		f, _ := w.Create("r.xml")
		f.Write([]byte("<feedback>"))
		for range 200 {
			f.Write(bytes.Repeat([]byte{' '}, 1<<20))
		}
		w.Close()
		if reason, _, _ := parseMeasured(t, bytes.NewReader(buf.Bytes()), DefaultLimits()); reason != ReasonRatio {
			t.Errorf("reason %s, want %s", reason, ReasonRatio)
		}
	})
}

func TestHostileXML(t *testing.T) {
	bomb := `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>`
	xxe := `<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]><feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>`
	lim := DefaultLimits()
	cases := []struct {
		name  string
		input io.Reader
		want  Reason
	}{
		{"entity bomb", strings.NewReader(bomb), ReasonDoctype},
		{"external entity", strings.NewReader(xxe), ReasonDoctype},
		{"DOCTYPE after the root", strings.NewReader("<feedback><!DOCTYPE x></feedback>"), ReasonDoctype},
		{"deep nesting", io.MultiReader(strings.NewReader("<feedback>"), &repeatReader{b: []byte("<a>"), n: 1_000_000}), ReasonXMLLimits},
		{"too many elements", io.MultiReader(strings.NewReader("<feedback>"), &repeatReader{b: []byte("<a/>"), n: int64(lim.MaxXMLElements) + 1}), ReasonXMLLimits},
		{"huge text", io.MultiReader(strings.NewReader("<feedback><report_metadata><org_name>"), &repeatReader{b: bytes.Repeat([]byte("x"), 4096), n: 1 << 20}), ReasonOversized},
		{"huge tag name", io.MultiReader(strings.NewReader("<feedback><"), &repeatReader{b: bytes.Repeat([]byte("x"), 4096), n: 1 << 20}), ReasonMalformed},
		{"endless attribute", io.MultiReader(strings.NewReader(`<feedback a="`), &repeatReader{b: bytes.Repeat([]byte("x"), 4096), n: 1 << 20}), ReasonOversized},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if reason, _, _ := parseMeasured(t, c.input, lim); reason != c.want {
				t.Errorf("reason %s, want %s", reason, c.want)
			}
		})
	}
	t.Run("entity reference without DTD is not expanded", func(t *testing.T) {
		doc := strings.Replace(string(fixture(t, "rfc7489-google.xml")), "google.com</org_name>", "&lol9;</org_name>", 1)
		rep, err := Parse(strings.NewReader(doc), lim)
		if err != nil || rep.Aggregate.OrgName != "&lol9;" {
			t.Fatalf("%v %+v", err, rep)
		}
	})
}

func TestHostileJSON(t *testing.T) {
	lim := DefaultLimits()
	deep := io.MultiReader(strings.NewReader(`{"organization-name":`), &repeatReader{b: []byte("["), n: 1_000_000})
	if reason, _, _ := parseMeasured(t, deep, lim); reason != ReasonJSONDepth {
		t.Errorf("reason %s, want %s", reason, ReasonJSONDepth)
	}
	// Brackets inside strings do not count.
	doc := strings.Replace(string(fixture(t, "tlsrpt-rfc8460.json")), `"Company-X"`, `"`+strings.Repeat("[{", 100)+`\""`, 1)
	if _, err := Parse(strings.NewReader(doc), lim); err != nil {
		t.Errorf("brackets in a string: %v", err)
	}
}

func TestHostileMIME(t *testing.T) {
	lim := DefaultLimits()
	var many strings.Builder
	many.WriteString("From: a@b.example\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n")
	for range 100_000 {
		many.WriteString("--m\r\nContent-Type: text/plain\r\n\r\nx\r\n")
	}
	many.WriteString("--m--\r\n")
	var deep strings.Builder
	deep.WriteString("From: a@b.example\r\n")
	for i := range 1000 {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=d%d\r\n\r\n--d%d\r\n", i, i)
	}
	var rfc822 strings.Builder
	for range 1000 {
		rfc822.WriteString("From: a@b.example\r\nContent-Type: message/rfc822\r\n\r\n")
	}
	cases := []struct {
		name  string
		input io.Reader
		want  Reason
	}{
		{"100000 parts", strings.NewReader(many.String()), ReasonMIMELimits},
		{"1000 nested multiparts", strings.NewReader(deep.String()), ReasonMIMELimits},
		{"1000 nested messages", strings.NewReader(rfc822.String()), ReasonMIMELimits},
		{"endless header", io.MultiReader(strings.NewReader("From: a@b.example\r\nX-Junk: "), &repeatReader{b: bytes.Repeat([]byte("x"), 4096), n: 1 << 20}), ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if reason, _, _ := parseMeasured(t, c.input, lim); reason != c.want {
				t.Errorf("reason %s, want %s", reason, c.want)
			}
		})
	}
}
