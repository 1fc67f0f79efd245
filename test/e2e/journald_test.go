package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// postfixJournal writes Postfix's log lines, as journald stores them, into
// real journal files (systemd-journal-remote) and counts what it wrote,
// independently of mailscope's parser.
type postfixJournal struct {
	w        *harness.JournalWriter
	next     int       // messages written so far
	at       time.Time // the time of the next entry; entries are 1 ms apart
	statuses map[string]int
	lines    int
}

// messages writes n messages of 5 lines each (smtpd, cleanup, qmgr, a
// delivery, qmgr removed) to file; one delivery in 10 is deferred and one
// in 25 bounced. It returns the time of its last entry.
func (p *postfixJournal) messages(t *testing.T, file string, n int) time.Time {
	t.Helper()
	var es []harness.JournalEntry
	add := func(ident string, pid int, text string) {
		es = append(es, harness.PostfixJournalEntry(p.at, ident, pid, text))
		p.at = p.at.Add(time.Millisecond)
		p.lines++
	}
	for range n {
		p.next++
		i := p.next
		id := fmt.Sprintf("%05X%05X", 0x3A1F0, i)
		status, reply := "sent", "250 2.0.0 Ok: queued as 4XYZ"
		switch {
		case i%25 == 0:
			status, reply = "bounced", "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <user@ok.test>: Recipient address rejected: User unknown (in reply to RCPT TO command)"
		case i%10 == 0:
			status, reply = "deferred", "host 127.0.0.1[127.0.0.1] said: 451 4.3.0 Try again later (in reply to RCPT TO command)"
		}
		p.statuses[status]++
		add("postfix/smtpd", 2000+i%50, id+": client=localhost[127.0.0.1]")
		add("postfix/cleanup", 3000+i%20, fmt.Sprintf("%s: message-id=<%d@mx.test>", id, i))
		add("postfix/qmgr", 999, id+": from=<sender@mx.test>, size=512, nrcpt=1 (queue active)")
		add("postfix/smtp", 4000+i%30, fmt.Sprintf("%s: to=<user%d@ok.test>, relay=127.0.0.1[127.0.0.1]:2525, delay=0.05, delays=0.01/0.01/0.02/0.01, dsn=%s, status=%s (%s)",
			id, i, map[string]string{"sent": "2.0.0", "deferred": "4.3.0", "bounced": "5.1.1"}[status], status, reply))
		add("postfix/qmgr", 999, id+": removed")
	}
	p.w.Write(t, file, es)
	return p.at.Add(-time.Millisecond)
}

// reset forgets what was written so far.
func (p *postfixJournal) reset() {
	p.lines, p.statuses = 0, map[string]int{}
}

// journalAgent is a running agent reading the journal directory.
type journalAgent struct {
	*harness.Agent
}

func startJournalAgent(t *testing.T, dir, state, startAt string) journalAgent {
	t.Helper()
	return journalAgent{harness.StartAgent(t, harness.AgentOptions{Config: fmt.Sprintf(`state_dir: %s
mta:
  kind: postfix
  sources:
    - name: journal
      journald: {units: [postfix@-.service], directory: %s, start_at: %s}
`, state, dir, startAt)})}
}

// sum adds the values of a family's series whose labels include every
// `name="value"` of with.
func sum(body, family string, with ...string) float64 {
	total := 0.0
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, family+"{") && !strings.HasPrefix(line, family+" ") {
			continue
		}
		labels, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		match := true
		for _, w := range with {
			match = match && strings.Contains(labels, w)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && match {
			total += v
		}
	}
	return total
}

// counts is what one agent run counted.
type counts struct {
	lines    float64
	statuses map[string]float64
}

// settle waits until the agent has handed on the entry stamped last (the
// journal is read in order: every entry before it is in), then returns
// the counters. Lines read twice would show as more lines.
func (a journalAgent) settle(t *testing.T, last time.Time) counts {
	t.Helper()
	var body string
	testwait.For(t, 120*time.Second, "the last entry read", func() error {
		var err error
		if body, err = harness.Fetch("http://" + a.Addr + "/metrics"); err != nil {
			return err
		}
		got := sum(body, "mailscope_mta_log_last_line_timestamp_seconds", `source="journal"`)
		if math.Abs(got-float64(last.UnixMicro())/1e6) > 0.0005 {
			return fmt.Errorf("last line at %.6f, want %.6f; %v lines so far", got, float64(last.UnixMicro())/1e6, sum(body, "mailscope_mta_log_lines_total", `source="journal"`))
		}
		return nil
	})
	if n := sum(body, "mailscope_mta_log_read_errors_total", `source="journal"`); n != 0 {
		t.Errorf("read errors: %v", n)
	}
	c := counts{lines: sum(body, "mailscope_mta_log_lines_total", `source="journal"`), statuses: map[string]float64{}}
	for _, s := range []string{"sent", "deferred", "bounced"} {
		c.statuses[s] = sum(body, "mailscope_mta_deliveries_total", `status="`+s+`"`)
	}
	return c
}

// TestJournaldRestartCountsEveryLine is issue 18's scenario on real journal
// files read by the real journalctl: 10,000 Postfix lines before the agent
// starts, 5,000 while it runs, a graceful restart, 5,000 while it is down;
// every line is counted exactly once over the two runs, and the deliveries
// parsed from them equal the count of the lines written. Then the same
// with start_at: end (the lines before the first start are not read), with
// the journal file of the saved cursor vacuumed while the agent is down,
// and with a directory that gains journal files while it is followed.
func TestJournaldRestartCountsEveryLine(t *testing.T) {
	for _, tc := range []struct {
		name    string
		startAt string
		// vacuum deletes the file of the first run's entries while the
		// agent is down; newFiles writes the running entries to new files.
		vacuum, newFiles bool
	}{
		{name: "start_at beginning", startAt: "beginning"},
		{name: "start_at end", startAt: "end"},
		{name: "vacuumed cursor", startAt: "beginning", vacuum: true},
		{name: "files added while followed", startAt: "beginning", newFiles: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := harness.Dir(t)
			dir, state := filepath.Join(base, "journal"), filepath.Join(base, "state")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			p := &postfixJournal{w: harness.NewJournalWriter(t, dir), at: time.Now().Add(-2 * time.Hour), statuses: map[string]int{}}
			first := "system@old.journal"

			p.messages(t, first, 2000) // 10,000 lines before the start
			a := startJournalAgent(t, dir, state, tc.startAt)
			c0 := counts{statuses: map[string]float64{}}
			if tc.startAt == "end" {
				// The first run starts at the end: only what is written
				// after it follows is read. Marker messages written until
				// one is read show it follows; the lines before and the
				// markers are left out of the comparison.
				testwait.For(t, 60*time.Second, "the agent follows the journal", func() error {
					p.messages(t, first, 1)
					body, err := harness.Fetch("http://" + a.Addr + "/metrics")
					if err == nil && sum(body, "mailscope_mta_log_lines_total", `source="journal"`) == 0 {
						err = fmt.Errorf("no marker read yet")
					}
					return err
				})
				c0 = a.settle(t, p.messages(t, first, 1))
				if c0.lines >= 10000 {
					t.Fatalf("start_at end read the lines written before the start: %v lines", c0.lines)
				}
				p.reset()
			}
			running := first
			for i := range 5 { // 5,000 lines while it runs
				if tc.newFiles {
					running = fmt.Sprintf("remote-%d.journal", i)
				}
				p.messages(t, running, 200)
			}
			c1 := a.settle(t, p.at.Add(-time.Millisecond))
			a.Proc.Stop(t) // graceful: SIGTERM

			down := first
			if tc.vacuum {
				// What the first run read goes with its file: the second
				// run is compared with what is written while it is down.
				c0, c1 = counts{statuses: map[string]float64{}}, counts{statuses: map[string]float64{}}
				p.reset()
				down = "system.journal"
			}
			last := p.messages(t, down, 1000) // 5,000 lines while it is down
			if tc.vacuum {
				if err := os.Remove(filepath.Join(dir, first)); err != nil {
					t.Fatal(err)
				}
			}
			b := startJournalAgent(t, dir, state, tc.startAt)
			c2 := b.settle(t, last)

			lines := c1.lines - c0.lines + c2.lines
			if int(lines) != p.lines {
				t.Errorf("lines counted %v (first run %v, second %v), written %d", lines, c1.lines-c0.lines, c2.lines, p.lines)
			}
			for _, s := range []string{"sent", "deferred", "bounced"} {
				got := c1.statuses[s] - c0.statuses[s] + c2.statuses[s]
				if int(got) != p.statuses[s] {
					t.Errorf("deliveries %s: %v counted (first run %v, second %v), %d written", s, got, c1.statuses[s]-c0.statuses[s], c2.statuses[s], p.statuses[s])
				}
			}
			t.Logf("%v of %d lines counted; deliveries sent %d, deferred %d, bounced %d", lines, p.lines, p.statuses["sent"], p.statuses["deferred"], p.statuses["bounced"])
		})
	}
}
