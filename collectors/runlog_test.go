package collectors

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRunLogIsBounded(t *testing.T) {
	var l RunLog
	l.Printf("zone %s: %s", "zen.example", "not listed")
	if got := l.String(); got != "zone zen.example: not listed\n" {
		t.Fatalf("log %q", got)
	}
	// Fill up to one byte short of the bound, then a two-byte character:
	// the cut keeps whole characters only.
	l.Printf("%s", strings.Repeat("x", MaxRunLog-l.b.Len()-2))
	l.Printf("é and more")
	l.Printf("dropped")
	got := l.String()
	if !strings.HasSuffix(got, RunLogTruncated) || len(got) > MaxRunLog+len(RunLogTruncated) {
		t.Errorf("a full log: %d bytes, ends %q", len(got), got[len(got)-40:])
	}
	if !utf8.ValidString(got) || strings.Contains(got, "dropped") {
		t.Errorf("the cut log is not valid UTF-8 or kept what came after the cut")
	}
	var none *RunLog
	none.Printf("discarded")
	if n, err := none.Write([]byte("x")); n != 1 || err != nil || none.String() != "" {
		t.Errorf("a nil RunLog: %d, %v, %q", n, err, none.String())
	}
}
