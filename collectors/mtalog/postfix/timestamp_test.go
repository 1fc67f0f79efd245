package postfix

import (
	"fmt"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// TestRFC3164TimeIsTimeDate checks the arithmetic timestamp against
// time.Date(0, month, day, ...) for every month and day (Feb 30 and
// Apr 31 included, which time.Date carries into the next month), and that
// an unknown month is no timestamp.
func TestRFC3164TimeIsTimeDate(t *testing.T) {
	names := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	var ev event.Event
	for i, name := range names {
		for day := 1; day <= 31; day++ {
			for _, hms := range [][3]int{{0, 0, 0}, {13, 7, 59}, {23, 59, 59}} {
				line := fmt.Sprintf("%s %2d %02d:%02d:%02d mx postfix/qmgr[1]: 4BCE3D3F1F: removed", name, day, hms[0], hms[1], hms[2])
				ev.Reset()
				if _, ok := parseTimestamp([]byte(line), &ev); !ok || !ev.NoYear {
					t.Fatalf("%q: not read", line)
				}
				want := time.Date(0, time.Month(i+1), day, hms[0], hms[1], hms[2], 0, time.UTC)
				if ev.Time != want {
					t.Errorf("%q: %v, want %v", line, ev.Time, want)
				}
			}
		}
	}
	for _, bad := range []string{"jan", "Foo", "JAN", "Jum"} {
		ev.Reset()
		if _, ok := parseTimestamp([]byte(bad+" 26 05:31:21 mx postfix/qmgr[1]: x"), &ev); ok {
			t.Errorf("%q read as a month", bad)
		}
	}
}
