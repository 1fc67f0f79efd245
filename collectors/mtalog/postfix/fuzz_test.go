package postfix

import (
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// FuzzParseLine checks that no input panics, that a line is either an
// event with a kind or unparsed (the accounting identity), and that every
// enum field stays in its closed set. Seeds are the real corpus and the
// hand-written lines; CI runs only the seeds.
func FuzzParseLine(f *testing.F) {
	for _, path := range []string{"testdata/real-postfix.log", "testdata/handwritten.log"} {
		for _, l := range readLines(f, path) {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var ev event.Event
		ok := ParseLine(line, &ev)
		if ok != (ev.Kind != event.KindNone) {
			t.Fatalf("ParseLine=%v with kind %v", ok, ev.Kind)
		}
		for _, s := range []string{ev.Kind.String(), ev.Daemon.String(), ev.Stage.String(), ev.Action.String(), ev.Status.String(),
			ev.TLSProtocol.String(), ev.SASLMechanism.String(), ev.Postscreen.String(), ev.DSN.DSNClass()} {
			if s == "" {
				t.Fatalf("empty enum name in %+v", ev)
			}
		}
		if ev.Kind.String() == "none" && ok || ev.Daemon.String() == "other" && ev.Daemon != event.DaemonOther {
			t.Fatalf("enum out of range: %+v", ev)
		}
	})
}
