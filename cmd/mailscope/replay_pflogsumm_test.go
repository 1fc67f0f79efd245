package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pflogsummReport is what the test reads back from pflogsumm's output.
type pflogsummReport struct {
	totals map[string]int64 // "received", "bytes delivered", ...
	// deferrals is the count in "deferred (N deferrals)".
	deferrals int64
	// hours are the per-hour rows: received, delivered, deferred,
	// bounced, rejected, by "0700".
	hours map[string][5]int64
	// domains are "Host/Domain Summary: Message Delivery" rows.
	domains map[string]pflogsummDomain
	// received are "Messages Received" rows: count, bytes.
	received map[string][2]int64
	// senders and recipients are "... by message count" rows.
	senders, recipients map[string]int64
	// sectionTotals sums the "(total: N)" of each detail section.
	sectionTotals map[string]int64
}

type pflogsummDomain struct {
	sent, bytes, defers int64
	avg, max            float64
}

var (
	pfTotalRe  = regexp.MustCompile(`^\s+(\d+)\s+(.+?)\s*(?:\((\d+)\s+deferrals\)|\(\d+%\))?$`)
	pfHourRe   = regexp.MustCompile(`^\s+(\d{4})-\d{4}\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)
	pfDomainRe = regexp.MustCompile(`^\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+) ([smhd])\s+([\d.]+) ([smhd])\s+(\S+)$`)
	pfRcvdRe   = regexp.MustCompile(`^\s+(\d+)\s+(\d+)\s+(\S+)$`)
	pfCountRe  = regexp.MustCompile(`^\s+(\d+)\s+(\S+@\S+)$`)
	pfTotalOf  = regexp.MustCompile(`\(total: (\d+)\)`)
	pfTopN     = regexp.MustCompile(` \(top \d+\)|^top \d+ `)
)

func pfSeconds(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "m":
		return f * 60
	case "h":
		return f * 3600
	case "d":
		return f * 86400
	}
	return f
}

func parsePflogsumm(t *testing.T, out string) pflogsummReport {
	t.Helper()
	r := pflogsummReport{totals: map[string]int64{}, hours: map[string][5]int64{}, domains: map[string]pflogsummDomain{},
		received: map[string][2]int64{}, senders: map[string]int64{}, recipients: map[string]int64{}, sectionTotals: map[string]int64{}}
	section := ""
	atoi := func(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }
	sc := bufio.NewScanner(strings.NewReader(out))
	prev := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "---") || strings.HasPrefix(line, "===") {
			section = strings.TrimSpace(pfTopN.ReplaceAllString(prev, ""))
			prev = line
			continue
		}
		prev = line
		if m := pfTotalOf.FindStringSubmatch(line); m != nil && section != "" {
			r.sectionTotals[section] += atoi(m[1])
		}
		switch {
		case section == "Grand Totals":
			if m := pfTotalRe.FindStringSubmatch(line); m != nil {
				r.totals[m[2]] = atoi(m[1])
				if m[3] != "" {
					r.deferrals = atoi(m[3])
				}
			}
		case section == "Per-Hour Traffic Summary":
			if m := pfHourRe.FindStringSubmatch(line); m != nil {
				r.hours[m[1]] = [5]int64{atoi(m[2]), atoi(m[3]), atoi(m[4]), atoi(m[5]), atoi(m[6])}
			}
		case section == "Host/Domain Summary: Message Delivery":
			if m := pfDomainRe.FindStringSubmatch(line); m != nil {
				r.domains[m[8]] = pflogsummDomain{sent: atoi(m[1]), bytes: atoi(m[2]), defers: atoi(m[3]), avg: pfSeconds(m[4], m[5]), max: pfSeconds(m[6], m[7])}
			}
		case section == "Host/Domain Summary: Messages Received":
			if m := pfRcvdRe.FindStringSubmatch(line); m != nil {
				r.received[m[3]] = [2]int64{atoi(m[1]), atoi(m[2])}
			}
		case section == "Senders by message count":
			if m := pfCountRe.FindStringSubmatch(line); m != nil {
				r.senders[m[2]] = atoi(m[1])
			}
		case section == "Recipients by message count":
			if m := pfCountRe.FindStringSubmatch(line); m != nil {
				r.recipients[m[2]] = atoi(m[1])
			}
		}
	}
	return r
}

// TestReplayAgreesWithPflogsumm runs pflogsumm (Debian package pflogsumm)
// and mailscope replay on the real-Postfix corpus and checks that every
// number both reports define alike is equal; docs/collectors/postfix.md
// explains the others. The corpus's 20 lines of the receiving instance
// (syslog name postfix-in/smtpd) are left out: pflogsumm cannot read a
// service name of three parts and skips them, which the last check pins.
func TestReplayAgreesWithPflogsumm(t *testing.T) {
	pflogsumm, err := exec.LookPath("pflogsumm")
	if err != nil {
		t.Skip("pflogsumm is not installed (Debian package pflogsumm): ", err)
	}
	raw, err := os.ReadFile(replayCorpus)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	skipped := 0
	for _, l := range strings.SplitAfter(string(raw), "\n") {
		if strings.Contains(l, " postfix-in/smtpd/smtpd[") {
			skipped++
			continue
		}
		kept = append(kept, l)
	}
	if skipped != 20 {
		t.Fatalf("corpus has %d lines of postfix-in/smtpd/smtpd, want 20 (the test's premise changed)", skipped)
	}
	corpus := filepath.Join(t.TempDir(), "mail.log")
	writeWithMtime(t, corpus, []byte(strings.Join(kept, "")), time.Date(2025, 11, 26, 7, 5, 0, 0, time.UTC))
	out, err := exec.Command(pflogsumm, "--verbose-msg-detail", "-u", "100", "-h", "100", corpus).CombinedOutput()
	if err != nil {
		t.Fatalf("pflogsumm: %v\n%s", err, out)
	}
	pf := parsePflogsumm(t, string(out))
	if len(pf.totals) < 12 || len(pf.hours) != 24 || len(pf.domains) == 0 {
		t.Fatalf("could not read pflogsumm's report (totals %v, %d hours, %d domains):\n%s", pf.totals, len(pf.hours), len(pf.domains), out)
	}

	c := replayJSON(t, "--interval=1h", "--top=100", "--top-addresses", corpus)
	p := c.Pflogsumm
	eq := func(what string, ours, theirs int64) {
		t.Helper()
		if ours != theirs {
			t.Errorf("%s: mailscope %d, pflogsumm %d", what, ours, theirs)
		}
	}
	eq("received", p.Received, pf.totals["received"])
	eq("delivered", p.Delivered, pf.totals["delivered"])
	eq("delivered (sent deliveries less forwards)", c.Deliveries["sent"]-p.Forwarded, pf.totals["delivered"])
	eq("forwarded", p.Forwarded, pf.totals["forwarded"])
	eq("deferred messages", p.MessagesDeferred, pf.totals["deferred"])
	eq("deferrals", c.Deliveries["deferred"], pf.deferrals)
	eq("bounced", c.Deliveries["bounced"], pf.totals["bounced"])
	eq("rejected", c.Rejected, pf.totals["rejected"])
	eq("bytes received", p.BytesReceived, pf.totals["bytes received"])
	eq("bytes delivered", p.BytesDelivered, pf.totals["bytes delivered"])
	eq("senders", p.Senders, pf.totals["senders"])
	eq("sending domains", p.SendingDomains, pf.totals["sending hosts/domains"])
	eq("recipients", p.Recipients, pf.totals["recipients"])
	eq("recipient domains", p.RecipientDomains, pf.totals["recipient hosts/domains"])

	// Per hour: delivered, deferred, bounced, rejected (received is
	// mailscope's own definition: every message queued).
	ours := map[string]trafficRow{}
	for _, r := range c.Traffic {
		ours[strings.ReplaceAll(r.Start[11:], ":", "")] = r
	}
	for hour, row := range pf.hours {
		o := ours[hour]
		if got := [4]int64{o.Delivered, o.Deferred, o.Bounced, o.Rejected}; got != [4]int64{row[1], row[2], row[3], row[4]} {
			t.Errorf("hour %s: mailscope delivered/deferred/bounced/rejected %v, pflogsumm %v", hour, got, row[1:])
		}
	}
	// Deliveries by domain: pflogsumm lists domains with a sent or
	// deferred delivery (bounces have their own section).
	listed := 0
	for _, d := range c.Domains {
		if d.Sent == 0 && d.Deferred == 0 {
			continue
		}
		listed++
		theirs, ok := pf.domains[d.Name]
		if !ok {
			t.Errorf("domain %s: not in pflogsumm's delivery summary", d.Name)
			continue
		}
		eq("domain "+d.Name+" sent", d.Sent, theirs.sent)
		eq("domain "+d.Name+" bytes", d.Bytes, theirs.bytes)
		eq("domain "+d.Name+" deferrals", d.Deferred, theirs.defers)
		// pflogsumm prints one decimal.
		if math.Abs(d.AvgDelay-theirs.avg) > 0.051 || math.Abs(d.MaxDelay-theirs.max) > 0.051 {
			t.Errorf("domain %s: delay avg/max mailscope %.2f/%.2f, pflogsumm %.1f/%.1f", d.Name, d.AvgDelay, d.MaxDelay, theirs.avg, theirs.max)
		}
	}
	eq("domains in the delivery summary", int64(listed), int64(len(pf.domains)))
	for _, r := range c.SendingDomains {
		if got, want := [2]int64{r.Messages, r.Bytes}, pf.received[r.Domain]; got != want {
			t.Errorf("received from %s: mailscope %v, pflogsumm %v", r.Domain, got, want)
		}
	}
	eq("sending domains listed", int64(len(c.SendingDomains)), int64(len(pf.received)))
	for name, pair := range map[string]struct {
		ours   []addressRow
		theirs map[string]int64
	}{"senders": {c.TopSenders, pf.senders}, "recipients": {c.TopRecipients, pf.recipients}} {
		got := map[string]int64{}
		for _, r := range pair.ours {
			got[r.Address] = r.Messages
		}
		if fmt.Sprint(got) != fmt.Sprint(pair.theirs) {
			t.Errorf("top %s: mailscope %v, pflogsumm %v", name, got, pair.theirs)
		}
	}
	sum := func(gs []textGroup, keep func(textGroup) bool) int64 {
		var n int64
		for _, g := range gs {
			if keep(g) {
				n += g.Count
			}
		}
		return n
	}
	eq("deferral detail", sum(c.FailureTexts, func(g textGroup) bool { return g.Status == "deferred" }), pf.sectionTotals["message deferral detail"])
	eq("bounce detail", sum(c.FailureTexts, func(g textGroup) bool { return g.Status == "bounced" }), pf.sectionTotals["message bounce detail (by relay)"])
	eq("reject detail", sum(c.Rejects, func(textGroup) bool { return true }), pf.sectionTotals["message reject detail"])
	eq("warnings", sum(c.Diagnostics, func(g textGroup) bool { return g.Severity == "warning" }), pf.sectionTotals["Warnings"])

	// The whole corpus: mailscope also counts the receiving instance's
	// five messages, which pflogsumm skips.
	whole := replayJSON(t, replayCorpus)
	eq("received with postfix-in's lines, less pflogsumm's", whole.Pflogsumm.Received-pf.totals["received"], 5)
}
