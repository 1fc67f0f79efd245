package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const handwrittenCorpus = "../../collectors/mtalog/postfix/testdata/handwritten.log"

// replayJSON runs replay with --format=json and decodes the report.
func replayJSON(t *testing.T, args ...string) replayCounts {
	t.Helper()
	code, js, stderr := runReplay(t, append([]string{"--format=json"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var c replayCounts
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReplaySummaryEqualsJSON checks that the json format carries every
// number the summary prints: the summary rendered from the decoded json
// must equal the summary itself, for the real corpus with every optional
// section on.
func TestReplaySummaryEqualsJSON(t *testing.T) {
	for _, corpus := range []string{replayCorpus, handwrittenCorpus} {
		args := []string{"--top-addresses", "--show-unparsed", "--interval=1m", corpus}
		code, text, stderr := runReplay(t, append([]string{"--format=summary"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		c := replayJSON(t, args...)
		var again bytes.Buffer
		writeReplaySummary(&again, c)
		if again.String() != text {
			t.Errorf("%s: the summary made from the json differs from the summary:\n%s", corpus, lineDiffText(text, again.String()))
		}
	}
}

// TestReplayContentRejectsCounted: a header_checks reject is in
// "rejected" and in the reject detail with its check's name.
func TestReplayContentRejectsCounted(t *testing.T) {
	c := replayJSON(t, handwrittenCorpus)
	var smtpd int64
	for _, n := range c.RejectsByReason {
		smtpd += n
	}
	if c.ContentRejects != 1 || c.Rejected != smtpd+1 {
		t.Errorf("content rejects %d (want 1), rejected %d (want smtpd's %d + 1)", c.ContentRejects, c.Rejected, smtpd)
	}
	found := false
	for _, g := range c.Rejects {
		if g.Restriction == "header_checks" && g.Count == 1 {
			found = true
		}
	}
	if !found {
		t.Errorf("no header_checks group in the reject detail: %+v", c.Rejects)
	}
}

// TestReplayWindow: --since/--until keep the lines in the window for
// every format, the metrics included.
func TestReplayWindow(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "mail.log")
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	writeWithMtime(t, corpus, raw, time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC))
	counts := func(args ...string) replayCounts {
		t.Helper()
		return replayJSON(t, append([]string{"--interval=1m"}, append(args, corpus)...)...)
	}
	all := counts()
	before := counts("--until=2025-11-26 07:03")
	after := counts("--since=2025-11-26T07:03:00Z")
	if len(all.Traffic) != 2 || len(before.Traffic) != 1 || len(after.Traffic) != 1 {
		t.Fatalf("traffic rows all %d, before %d, after %d; want 2, 1, 1", len(all.Traffic), len(before.Traffic), len(after.Traffic))
	}
	// Received differs: a message queued before --since and retried in
	// the window is first seen (received) in it.
	noReceived := func(r trafficRow) trafficRow { r.Received = 0; return r }
	if before.Traffic[0] != all.Traffic[0] || noReceived(after.Traffic[0]) != noReceived(all.Traffic[1]) {
		t.Errorf("windowed rows differ from the whole log's: %+v %+v vs %+v", before.Traffic, after.Traffic, all.Traffic)
	}
	if got := before.Deliveries["sent"] + after.Deliveries["sent"]; got != all.Deliveries["sent"] || before.Deliveries["sent"] == 0 {
		t.Errorf("sent before %d + after %d != all %d", before.Deliveries["sent"], after.Deliveries["sent"], all.Deliveries["sent"])
	}
	if before.Until != "2025-11-26T07:03:00Z" || after.Since != "2025-11-26T07:03:00Z" {
		t.Errorf("window not reported: until %q since %q", before.Until, after.Since)
	}
	code, _, stderr := runReplay(t, "--since=yesterday", corpus)
	if code != 2 || !strings.Contains(stderr, `"yesterday"`) {
		t.Errorf("bad --since: exit %d, stderr %q", code, stderr)
	}
}

// TestReplayAddresses: no address in the report unless asked; masked ones
// keep the domain and are stable within the report.
func TestReplayAddresses(t *testing.T) {
	_, plain, _ := runReplay(t, "--format=json", replayCorpus)
	if strings.Contains(plain, "sender@mx.test") || strings.Contains(plain, "user@ok.test") {
		t.Error("an address is in the report without --top-addresses")
	}
	_, masked, _ := runReplay(t, "--format=json", "--top-addresses", "--mask-addresses", replayCorpus)
	c := replayJSON(t, "--top-addresses", "--mask-addresses", replayCorpus)
	if strings.Contains(masked, "sender@mx.test") || len(c.TopSenders) != 2 || len(c.TopRecipients) != 7 {
		t.Fatalf("masked report: %d senders, %d recipients, addresses shown: %v", len(c.TopSenders), len(c.TopRecipients), strings.Contains(masked, "sender@mx.test"))
	}
	if !strings.HasSuffix(c.TopSenders[0].Address, "@mx.test") || !strings.HasPrefix(c.TopSenders[0].Address, "u-") {
		t.Errorf("masked sender %q, want u-...@mx.test", c.TopSenders[0].Address)
	}
	// sender@mx.test is the top sender and a recipient (of the bounces):
	// the same pseudonym in both lists.
	same := false
	for _, r := range c.TopRecipients {
		same = same || r.Address == c.TopSenders[0].Address
	}
	if !same {
		t.Errorf("the top sender's pseudonym %q is not among the recipients %+v", c.TopSenders[0].Address, c.TopRecipients)
	}
}

func TestMaskAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"<user@example.com>: Recipient address rejected": "<*@example.com>: Recipient address rejected",
		"to a.b+c@x.org and d@y.org":                     "to *@x.org and *@y.org",
		"no address @ here":                              "no address @ here",
		"host said: 550 5.1.1 ok":                        "host said: 550 5.1.1 ok",
	} {
		if got := maskAddresses([]byte(in), 200); got != want {
			t.Errorf("maskAddresses(%q) = %q, want %q", in, got, want)
		}
	}
	if got := maskAddresses([]byte("ééééé"), 5); got != "éé…" {
		t.Errorf("cut on a rune boundary: %q", got)
	}
}

func TestRestrictionOf(t *testing.T) {
	for in, want := range map[string]string{
		"<u@ok.test>: Recipient address rejected: no such user; from=<a@b> to=<u@ok.test> proto=SMTP": "Recipient address rejected",
		"Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://x":      "blocked using zen.spamhaus.org",
		"<u@elsewhere.example>: Relay access denied; from=<a@b>":                                      "Relay access denied",
		"[192.0.2.1]: Client host rejected: cannot find your hostname":                                "Client host rejected",
		"": "(none)",
	} {
		if got := restrictionOf([]byte(in)); got != want {
			t.Errorf("restrictionOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReplayStillDeferred: a message deferred and never removed is
// reported with its age and reason; one delivered later is not.
func TestReplayStillDeferred(t *testing.T) {
	log := `Nov 26 07:00:00 mx postfix/smtpd[1]: AAAA11111: client=c[192.0.2.1]
Nov 26 07:00:01 mx postfix/qmgr[2]: AAAA11111: from=<a@mx.test>, size=100, nrcpt=1 (queue active)
Nov 26 07:00:02 mx postfix/smtp[3]: AAAA11111: to=<b@gmail.com>, relay=gmail-smtp-in.l.google.com[192.0.2.2]:25, delay=1, delays=0/0/1/0, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[192.0.2.2] said: 421 4.7.28 Our system has detected an unusual rate of unsolicited mail (in reply to end of DATA command))
Nov 26 07:00:03 mx postfix/smtpd[1]: BBBB22222: client=c[192.0.2.1]
Nov 26 07:00:04 mx postfix/qmgr[2]: BBBB22222: from=<a@mx.test>, size=100, nrcpt=1 (queue active)
Nov 26 07:00:05 mx postfix/smtp[3]: BBBB22222: to=<b@yahoo.com>, relay=mta5.am0.yahoodns.net[192.0.2.3]:25, delay=1, delays=0/0/1/0, dsn=4.7.0, status=deferred (host mta5.am0.yahoodns.net[192.0.2.3] said: 421 4.7.0 [TSS04] Messages from 192.0.2.9 temporarily deferred)
Nov 26 07:30:05 mx postfix/smtp[3]: BBBB22222: to=<b@yahoo.com>, relay=mta5.am0.yahoodns.net[192.0.2.3]:25, delay=1800, delays=0/0/1/0, dsn=2.0.0, status=sent (250 ok)
Nov 26 07:30:06 mx postfix/qmgr[2]: BBBB22222: removed
`
	path := filepath.Join(t.TempDir(), "mail.log")
	writeWithMtime(t, path, []byte(log), time.Date(2025, 11, 26, 8, 0, 0, 0, time.UTC))
	c := replayJSON(t, path)
	sd := c.StillDeferred
	if sd.Messages != 1 || sd.Oldest != "2025-11-26T07:00:00Z" || sd.OldestAge != "30m6s" || len(sd.ByReason) != 1 || sd.ByReason["rate_limited"] != 1 {
		t.Errorf("still deferred %+v, want 1 message from 07:00:00, 30m6s old, rate_limited", sd)
	}
	if c.Pflogsumm.MessagesDeferred != 2 {
		t.Errorf("messages deferred %d, want 2", c.Pflogsumm.MessagesDeferred)
	}
	var yahoo *deliveryRow
	for i := range c.Providers {
		if c.Providers[i].Name == "yahoo" {
			yahoo = &c.Providers[i]
		}
	}
	if yahoo == nil || yahoo.Sent != 1 || yahoo.Deferred != 1 || yahoo.AvgDelay != 1800 || yahoo.MaxDelay != 1800 {
		t.Errorf("yahoo row %+v, want 1 sent, 1 deferred, avg and max 1800s", yahoo)
	}
}

// TestReplayHTMLSelfContained: the page parses as XML-ish markup with no
// reference to anything outside it (no src=, href=, url(), @import).
func TestReplayHTMLSelfContained(t *testing.T) {
	code, page, stderr := runReplay(t, "--format=html", "--show-unparsed", replayCorpus)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, bad := range []string{"src=", "href=", "url(", "@import", "<script", "<link"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q: it must need nothing outside itself", bad)
		}
	}
	for _, want := range []string{"<svg", "Grand totals", "Traffic per", "Deliveries by recipient domain", "Rejects by reason", "Still deferred", "prefers-color-scheme: dark"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The chart is well-formed SVG.
	i, j := strings.Index(page, "<svg"), strings.Index(page, "</svg>")
	if i < 0 || j < i {
		t.Fatal("no chart")
	}
	d := xml.NewDecoder(strings.NewReader(page[i : j+len("</svg>")]))
	for {
		if _, err := d.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Errorf("chart SVG: %v", err)
			}
			break
		}
	}
}

// TestReplayProgress: the progress line goes to the writer given (a
// terminal's standard error), ends cleared, and is absent otherwise.
func TestReplayProgress(t *testing.T) {
	var out, errb, prog bytes.Buffer
	code := replayCommand(replayOptions{mta: "postfix", format: "prom", timezone: "UTC", source: "replay", top: 20, files: []string{replayCorpus}, progress: &prog}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	p := prog.String()
	if !strings.Contains(p, "replay: read ") || !strings.Contains(p, " lines, ") || !strings.HasSuffix(p, "\r\x1b[K") {
		t.Errorf("progress output %q: want a progress line, cleared at the end", p)
	}
	if errb.Len() != 0 {
		t.Errorf("stderr %q without a terminal, want nothing", errb.String())
	}
}

func TestExpectedBytesOfGzip(t *testing.T) {
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mail.log.1.gz")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeWithMtime(t, path, gz.Bytes(), time.Now())
	if got := expectedBytes(path); got != int64(len(raw)) {
		t.Errorf("expectedBytes = %d, want the uncompressed %d", got, len(raw))
	}
}

// TestIsTerminal: /dev/null and a pipe are not terminals (no progress
// line there).
func TestIsTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, f := range map[string]*os.File{"/dev/null": null, "a pipe": w} {
		if isTerminal(f) {
			t.Errorf("%s taken for a terminal", name)
		}
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer taken for a terminal")
	}
}
