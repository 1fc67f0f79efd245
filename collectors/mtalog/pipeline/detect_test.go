package pipeline

import (
	"bufio"
	"os"
	"testing"
)

// TestDetectMTA: each real corpus is recognised as its MTA's, also with
// the other MTA's lines mixed in, and also in syslog form.
func TestDetectMTA(t *testing.T) {
	read := func(path string, n int) [][]byte {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var out [][]byte
		sc := bufio.NewScanner(f)
		for len(out) < n && sc.Scan() {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
		return out
	}
	pf := read("../postfix/testdata/real-postfix.log", 500)
	ex := read("../exim/testdata/exim-rich.log", 500)
	var exSyslog [][]byte
	for _, l := range read("../exim/testdata/exim-default.log", 500) {
		exSyslog = append(exSyslog, append([]byte("Dec  6 07:54:26 mx exim[4242]: "), l[20:]...))
	}
	for name, tc := range map[string]struct {
		lines [][]byte
		want  string
	}{
		"postfix":           {pf, "postfix"},
		"exim":              {ex, "exim"},
		"exim syslog":       {exSyslog, "exim"},
		"mostly exim":       {append(append([][]byte{}, ex...), pf[:100]...), "exim"},
		"mostly postfix":    {append(append([][]byte{}, pf...), ex[:100]...), "postfix"},
		"nothing":           {nil, "postfix"},
		"another program's": {[][]byte{[]byte("Dec  6 07:54:26 mx dovecot[1]: imap-login: x")}, "postfix"},
	} {
		if got := DetectMTA(tc.lines); got != tc.want {
			t.Errorf("%s: %s, want %s", name, got, tc.want)
		}
	}
}
