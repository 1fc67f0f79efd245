// Package source reads MTA log lines from where they are written (followed
// files, journald, a syslog receiver, old and gzipped files for replay) and
// hands them on in batches. It knows syslog's framing and timestamps, and
// nothing of the MTA that wrote them.
//
// A line's time is the source's alone: it knows the file (a replayed
// file's year comes from its modification time, see Replay) and the zone
// (LiveClock for lines read as they are written). Parsers skip the
// timestamp (StampLen) and read no time from it.
package source

import "time"

// Line is one log line in the traditional syslog text form:
//
//	TIMESTAMP HOST PROGRAM[PID]: MESSAGE
//
// where TIMESTAMP is RFC 3164 ("Nov 26 05:31:21") or RFC 3339
// ("2026-11-26T05:31:21.123456+00:00"). Sources that receive structured
// entries (journald, RFC 5424 syslog) render them in this form, so parsers
// see one format. Exim's own log files have their own form, "2026-11-26
// 05:31:21[.mmm][ +0100] [[PID]] MESSAGE", dated the same way (local time
// unless it has a zone).
type Line struct {
	// Time is when the line was logged: parsed from its timestamp (an RFC
	// 3164 one gets its year from the file's modification time and the
	// rollover of months), or given by the source (journald). Zero when the
	// line has no timestamp a source can read.
	Time time.Time
	// Text is the whole line without its line ending. It is valid only
	// during the Sink call: copy what must outlive it.
	Text []byte
	// StampLen is StampLen(Text) when the source read the stamp to date
	// the line (the replay of a file does), so a parser need not read it
	// again; 0 when the source did not, or the line starts with none.
	StampLen int
}

// Batch is lines from one source, in the order they were written.
type Batch struct {
	// Source is the configured source name (the `source` label).
	Source string
	Lines  []Line
}

// Sink receives batches; a parser and its metrics sit behind it. It must
// not keep the batch or its lines' Text after returning.
type Sink interface {
	HandleBatch(b *Batch)
}
