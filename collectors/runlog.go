package collectors

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxRunLog bounds one run's debug log (RunResult.Debug): what a run
// writes beyond it is dropped and the log ends with RunLogTruncated.
const MaxRunLog = 16 << 10

// RunLogTruncated ends a debug log cut at MaxRunLog.
const RunLogTruncated = "\n[debug log truncated at 16 KiB]\n"

// RunLog is one run's debug log: a human-readable trace of what the run
// did (what it checked, against what, with which answer), shown per run on
// the collector's status page like /probe?debug=true. It keeps at most
// MaxRunLog bytes, cut at a character boundary. A nil *RunLog discards
// what is written, so code that runs outside a schedule passes nil.
type RunLog struct {
	b         strings.Builder
	truncated bool
}

// Write appends p, up to the bound; it never fails.
func (l *RunLog) Write(p []byte) (int, error) {
	if l == nil || l.truncated {
		return len(p), nil
	}
	room := MaxRunLog - l.b.Len()
	if len(p) <= room {
		l.b.Write(p)
		return len(p), nil
	}
	cut := room
	for cut > 0 && cut < len(p) && !utf8.RuneStart(p[cut]) {
		cut--
	}
	l.b.Write(p[:cut])
	l.truncated = true
	return len(p), nil
}

// Printf appends one formatted line (a newline is added when format has
// none).
func (l *RunLog) Printf(format string, args ...any) {
	if l == nil {
		return
	}
	s := fmt.Sprintf(format, args...)
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	_, _ = l.Write([]byte(s))
}

// String returns the log, ending with RunLogTruncated when it was cut.
func (l *RunLog) String() string {
	if l == nil {
		return ""
	}
	if l.truncated {
		return l.b.String() + RunLogTruncated
	}
	return l.b.String()
}
