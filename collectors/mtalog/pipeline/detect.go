package pipeline

import (
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/exim"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
)

// DetectMTA says which MTA wrote lines: the one of MTAs whose parser
// makes an event of its own (not a foreign program's line) of more of
// them; postfix on a tie or when neither does. In a file both wrote, the
// other MTA's lines are then foreign.
func DetectMTA(lines [][]byte) string {
	var ev event.Event
	var pf, ex int
	for _, l := range lines {
		if postfix.ParseLine(l, &ev) && ev.Kind != event.KindForeign {
			pf++
		}
		if exim.ParseLine(l, &ev) && ev.Kind != event.KindForeign {
			ex++
		}
	}
	if ex > pf {
		return "exim"
	}
	return "postfix"
}
