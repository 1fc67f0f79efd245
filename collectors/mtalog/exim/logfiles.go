package exim

import (
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// Exim writes three logs (log_file_path's %s: main, reject, panic). The
// main log is ParseLine's; the reject and panic logs hold entries that
// start with a main-log line and may go on with lines of their own: in
// the reject log, the rejected message's envelope and header lines
// ("Envelope-from: <a@b>", "P Received: ...", "  Subject: ...",
// continuations starting with a tab or space).

// StartsEntry reports whether line starts an entry of Exim's own log
// files: it begins with Exim's timestamp. The header lines of a reject
// log entry never do (each begins with a flag character and a space, a
// space, or "Envelope-"), however hostile the rejected message's
// headers.
func StartsEntry(line []byte) bool {
	var stamps source.StampCache
	return eximStampLen(line, 0, &stamps) > 0
}

// MessageText returns a main-log line after its stamp, syslog header
// and PID: the part Exim wrote the same way to its file and to syslog,
// with the message ID when the line has one. It returns nil for a line
// without an Exim message.
func MessageText(line []byte) []byte {
	var ev event.Event
	var stamps source.StampCache
	msg, ok := skipPrefix(line, 0, &ev, &stamps)
	if !ok {
		return nil
	}
	if len(ev.QueueID) > 0 {
		// skipPrefix cut the ID off; it is part of what identifies a
		// line.
		n := len(ev.QueueID) + 1
		return line[len(line)-len(msg)-n:]
	}
	return msg
}
