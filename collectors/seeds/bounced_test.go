package seeds

import (
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
)

// TestMissingSeedsLearnTheMTABouncedThem: a missing seed whose Message-ID
// the MTA pipeline published as bounced says so; found seeds and missing
// ones the MTA did not bounce do not.
func TestMissingSeedsLearnTheMTABouncedThem(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	found := collectors.NewDiscoveries(clk, time.Hour, 10)
	found.Publish(collectors.KindBouncedMessage, "mta", collectors.MessageIDKey(collectors.HashMessageID([]byte("t1.gone@mailscope.test"))))
	found.Publish(collectors.KindBouncedMessage, "mta", collectors.MessageIDKey(collectors.HashMessageID([]byte("t1.inbox@mailscope.test"))))
	rd := &Round{Seeds: []SeedResult{
		{Name: "gone-1", Folder: FolderMissing, Placement: FolderMissing, MessageID: "<t1.gone@mailscope.test>"},
		{Name: "late-1", Folder: FolderMissing, Placement: FolderMissing, MessageID: "<t1.late@mailscope.test>"},
		{Name: "inbox-1", Folder: FolderInbox, Placement: FolderInbox, MessageID: "<t1.inbox@mailscope.test>"},
	}}
	markBounced(rd, found)
	if !rd.Seeds[0].MTABounced || rd.Seeds[1].MTABounced || rd.Seeds[2].MTABounced {
		t.Errorf("MTABounced = %v %v %v, want true false false", rd.Seeds[0].MTABounced, rd.Seeds[1].MTABounced, rd.Seeds[2].MTABounced)
	}
	if !strings.Contains(rd.Summary(), "gone-1 missing: the MTA bounced it") {
		t.Errorf("summary: %s", rd.Summary())
	}
	// Without an agent (the CLI) there is nothing to learn, and no panic.
	markBounced(rd, nil)
}
