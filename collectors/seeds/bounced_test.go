package seeds

import (
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestMissingSeedsLearnTheMTABouncedThem: a missing seed whose message the
// MTA pipeline reported bounced on the link says so; found seeds and
// missing ones the MTA did not bounce do not.
func TestMissingSeedsLearnTheMTABouncedThem(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	bounces := links.NewBounces(clk)
	hash := func(id string) uint64 { return mailclass.HashMessageID([]byte(mailclass.TrimMessageID(id))) }
	rd := &Round{Seeds: []SeedResult{
		{Name: "gone-1", Folder: FolderMissing, Placement: FolderMissing, MessageID: "<t1.gone@mailscope.test>"},
		{Name: "late-1", Folder: FolderMissing, Placement: FolderMissing, MessageID: "<t1.late@mailscope.test>"},
		{Name: "inbox-1", Folder: FolderInbox, Placement: FolderInbox, MessageID: "<t1.inbox@mailscope.test>"},
	}}
	for _, s := range rd.Seeds {
		bounces.Watch(hash(s.MessageID), clk.Now().Add(time.Hour))
	}
	bounces.Report(hash("t1.gone@mailscope.test"))
	bounces.Report(hash("t1.inbox@mailscope.test"))
	markBounced(rd, bounces)
	if !rd.Seeds[0].MTABounced || rd.Seeds[1].MTABounced || rd.Seeds[2].MTABounced {
		t.Errorf("MTABounced = %v %v %v, want true false false", rd.Seeds[0].MTABounced, rd.Seeds[1].MTABounced, rd.Seeds[2].MTABounced)
	}
	if !strings.Contains(rd.Summary(), "gone-1 missing: the MTA bounced it") {
		t.Errorf("summary: %s", rd.Summary())
	}
	// Without an agent (the CLI) there is nothing to learn, and no panic.
	rd.Seeds[0].MTABounced = false
	markBounced(rd, nil)
	if rd.Seeds[0].MTABounced {
		t.Error("a nil link reported a bounce")
	}
}
