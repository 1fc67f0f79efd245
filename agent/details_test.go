package agent

import (
	"strings"
	"testing"

	"github.com/mailscope/mailscope/collectors"
)

// TestStatusDetails: a collector's StatusDetails table shows on the status
// page (folded) and its own page (open), every cell escaped for HTML,
// scrubbed of configured secrets and of control characters, the rows
// bounded with the rest counted.
func TestStatusDetails(t *testing.T) {
	r := startAgent(t, `testtick:
  interval: 1s
  password: s3cret-pass
  detail_rows: 150
  details: ["<script>alert(1)</script>.evil.example", "token s3cret-pass \x1b[31mred"]
`)
	waitFor(t, "a run", func() bool { s, _ := r.snap("testtick"); return s.Last != nil })
	h := r.a.Handler(HandlerOptions{})
	_, status := get(t, h, "GET", "/")
	_, page := get(t, h, "GET", "/collector/testtick")
	for name, body := range map[string]string{"status page": status, "collector page": page} {
		for _, want := range []string{
			`&lt;script&gt;alert(1)&lt;/script&gt;.evil.example`, `id="table-rows1"`, "<th>First</th><th>Second</th>",
			`<td data-label="Second">token &lt;secret&gt; �[31mred</td>`, "50 more not shown", "A note.",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
		for _, bad := range []string{"<script>alert", "s3cret-pass", "\x1b"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s holds %q", name, bad)
			}
		}
		if n := strings.Count(body, `<td data-label="First" class="nowrap">`); n != collectors.MaxDetailRows {
			t.Errorf("%s: %d rows, want %d", name, n, collectors.MaxDetailRows)
		}
	}
	if !strings.Contains(status, `<details class="detail" id="detail-rows1"><summary>Test rows (100, 50 more)</summary>`) {
		t.Errorf("the status page does not fold the table")
	}
	if !strings.Contains(page, `<h2>Test rows</h2>`) {
		t.Errorf("the collector page does not show the table")
	}
}

func TestBoundCell(t *testing.T) {
	long := strings.Repeat("é", collectors.MaxDetailCell)
	got := boundCell(long, nil)
	if len(got) > collectors.MaxDetailCell || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "éé") {
		t.Errorf("cut to %d bytes: %q", len(got), got[len(got)-8:])
	}
	if got := boundCell("a\xffb\nc", nil); got != "a\uFFFDb\uFFFDc" {
		t.Errorf("invalid UTF-8 and newline: %q", got)
	}
}
