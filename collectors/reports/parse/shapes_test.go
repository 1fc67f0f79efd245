package parse

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipped(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, b := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ragged is base64 with line breaks where a careless mailer puts them:
// lines of uneven length, CRLF and LF mixed, blank lines.
func ragged(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for i, n := 0, 0; i < len(s); n++ {
		w := []int{76, 13, 64, 1, 70}[n%5]
		w = min(w, len(s)-i)
		out.WriteString(s[i : i+w])
		out.WriteString([]string{"\r\n", "\n", "\r\n\r\n"}[n%3])
		i += w
	}
	return out.String()
}

const reportHeader = "From: noreply-dmarc-support@google.com\r\nTo: rua@example.com\r\nSubject: Report domain: example.com Submitter: google.com Report-ID: 16612488226426405390\r\nMessage-ID: <r1@google.com>\r\nMIME-Version: 1.0\r\n"

func TestEmailShapes(t *testing.T) {
	xmlDoc := fixture(t, "rfc7489-google.xml")
	jsonDoc := fixture(t, "tlsrpt-rfc8460.json")
	want := parseFile(t, "rfc7489-google.xml")
	wantTLS := parseFile(t, "tlsrpt-rfc8460.json")
	gz := gzipped(t, xmlDoc)
	zp := zipped(t, map[string][]byte{"google.com!example.com!1764806400!1764892799.xml": xmlDoc})
	var qp bytes.Buffer
	qw := quotedprintable.NewWriter(&qp)
	qw.Write(xmlDoc)
	qw.Close()
	attachment := reportHeader + "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nThis is an aggregate report from google.com.\r\n" +
		"--b1\r\nContent-Type: application/gzip; name=\"google.com!example.com!1764806400!1764892799.xml.gz\"\r\n" +
		"Content-Disposition: attachment; filename=\"google.com!example.com!1764806400!1764892799.xml.gz\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + ragged(gz) + "\r\n--b1--\r\n"
	cases := []struct {
		name  string
		input []byte
		want  *Report
	}{
		{"bare XML", xmlDoc, want},
		{"gzip", gz, want},
		{"gzip with trailing bytes", append(append([]byte(nil), gz...), "\x00\x00garbage after the member\n"...), want},
		{"two gzip members", append(gzipped(t, xmlDoc[:100]), gzipped(t, xmlDoc[100:])...), want},
		{"zip", zp, want},
		{"attachment, ragged base64", []byte(attachment), want},
		{"whole body zip", []byte(reportHeader + "Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + ragged(zp)), want},
		{"octet-stream named .xml.gz, trailing bytes", []byte(reportHeader + "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" +
			"Content-Type: application/octet-stream; name=report.xml.gz\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			ragged(append(append([]byte(nil), gz...), 0, 0, 0, 0)) + "\r\n--x--\r\n"), want},
		{"nested multipart, quoted-printable XML", []byte(reportHeader + "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
			"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/html\r\n\r\n<html><p>report</p></html>\r\n" +
			"--inner\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + qp.String() + "\r\n--inner--\r\n--outer--\r\n"), want},
		{"forwarded as message/rfc822", []byte("From: admin@example.com\r\nSubject: Fwd: report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=fw\r\n\r\n" +
			"--fw\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--fw\r\nContent-Type: message/rfc822\r\n\r\n" + attachment + "\r\n--fw--\r\n"), want},
		{"TLS-RPT gzip by email", []byte("From: tlsrpt@company-x.example\r\nSubject: Report Domain: example.com\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/report; report-type=tlsrpt; boundary=t\r\n\r\n--t\r\nContent-Type: text/plain\r\n\r\nTLS report\r\n" +
			"--t\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + ragged(gzipped(t, jsonDoc)) + "\r\n--t--\r\n"), wantTLS},
		{"TLS-RPT gzip", gzipped(t, jsonDoc), wantTLS},
		{"TLS-RPT zip", zipped(t, map[string][]byte{"r.json": jsonDoc}), wantTLS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(bytes.NewReader(c.input), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestRefusalsHaveReasons(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  Reason
	}{
		{"empty", "", ReasonNotAReport},
		{"binary", "\x00\x01\x02", ReasonNotAReport},
		{"email without report", "From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n", ReasonNotAReport},
		{"XML not feedback", "<html><body>x</body></html>", ReasonNotAReport},
		{"missing report_id", "<feedback><report_metadata><org_name>x</org_name><date_range><begin>1</begin><end>2</end></date_range></report_metadata><policy_published><domain>example.com</domain></policy_published></feedback>", ReasonMalformed},
		{"bad count", "<feedback><record><row><count>many</count></row></record></feedback>", ReasonMalformed},
		{"bad begin", "<feedback><report_metadata><date_range><begin>yesterday</begin></date_range></report_metadata></feedback>", ReasonMalformed},
		{"truncated tag", "<feedback><report_metadata", ReasonMalformed},
		{"JSON without fields", `{"organization-name":"x"}`, ReasonMalformed},
		{"JSON broken", `{"organization-name":`, ReasonMalformed},
		{"truncated gzip", string(gzipped(t, fixture(t, "rfc7489-google.xml"))[:200]), ReasonMalformed},
		{"feedback without type", "From: a@b.example\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=z\r\n\r\n--z\r\nContent-Type: message/feedback-report\r\n\r\nVersion: 1\r\n\r\n--z--\r\n", ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.input), DefaultLimits())
			if err == nil {
				t.Fatal("accepted")
			}
			if ReasonOf(err) != c.want {
				t.Errorf("reason %s (%v), want %s", ReasonOf(err), err, c.want)
			}
		})
	}
}
