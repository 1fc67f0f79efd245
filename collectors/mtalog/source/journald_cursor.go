package source

import (
	"strconv"
	"strings"
	"time"
)

// maxCursorBytes bounds the saved cursor file; journalctl's cursors are
// about 120 bytes ("s=…;i=…;b=…;m=…;t=…;x=…").
const maxCursorBytes = 4096

// journalCursor is what mailscope reads out of a journal cursor: the
// entry's identity (seqnum ID and seqnum, "s=" and "i=") and its
// wall-clock time ("t=", hex microseconds). Any part may be missing from a
// damaged cursor; journalctl alone decides whether it can seek to one.
type journalCursor struct {
	seqnumID, seqnum string
	realtime         time.Time
}

// parseCursor reads the fields it can; unreadable ones stay empty.
func parseCursor(c string) journalCursor {
	var jc journalCursor
	for field := range strings.SplitSeq(c, ";") {
		key, value, ok := strings.Cut(field, "=")
		if !ok || value == "" {
			continue
		}
		switch key {
		case "s":
			jc.seqnumID = value
		case "i":
			jc.seqnum = value
		case "t":
			// Before 2000 or after 2200 is a damaged value, not a time.
			if us, err := strconv.ParseUint(value, 16, 64); err == nil && us > 946684800e6 && us < 7258118400e6 {
				jc.realtime = time.UnixMicro(int64(us))
			}
		}
	}
	return jc
}

// sameEntry reports whether two cursors name one entry: the same seqnum in
// the same seqnum sequence. False when either lacks them.
func (c journalCursor) sameEntry(o journalCursor) bool {
	return c.seqnumID != "" && c.seqnum != "" && c.seqnumID == o.seqnumID && c.seqnum == o.seqnum
}

// cursorArgument reports whether c can be handed to journalctl as an
// argument: printable ASCII without spaces, of a sane length. A cursor
// file damaged into something else (NUL bytes, binary junk, nothing) is
// refused like a cursor journalctl refuses.
func cursorArgument(c string) bool {
	if c == "" || len(c) > maxCursorBytes {
		return false
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] > '~' {
			return false
		}
	}
	return true
}

// sinceArgument formats t for journalctl --since: "@SECONDS.MICROS".
func sinceArgument(t time.Time) string {
	us := t.UnixMicro()
	return "--since=@" + strconv.FormatInt(us/1e6, 10) + "." + strconv.FormatInt(1e6+us%1e6, 10)[1:]
}
