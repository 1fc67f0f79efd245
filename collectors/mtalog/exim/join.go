package exim

import (
	"bytes"
)

// Exim splits a log line it sends to syslog into pieces of at most 870
// bytes, and at embedded newlines, when there is more than one (log.c,
// write_syslog): each piece is sent as "[i/n] text", where the separator
// is '\' instead of '/' when the piece ended at a newline and more
// follows. Joiner puts such a line back together from its pieces, so the
// parser sees the line Exim meant to log.

// fragmentPiece is one "[i/n] " piece.
type fragmentPiece struct {
	i, n    int
	newline bool   // the piece ended at a newline of the original
	body    []byte // the text after "[i/n] "
}

// fragment reads the "[i/n] " at the start of a syslog message.
func fragment(msg []byte) (fragmentPiece, bool) {
	var p fragmentPiece
	if len(msg) < 6 || msg[0] != '[' {
		return p, false
	}
	j := 1
	for j < len(msg) && j < 5 && isDigit(msg[j]) {
		p.i = p.i*10 + int(msg[j]-'0')
		j++
	}
	if j == 1 || j >= len(msg) || (msg[j] != '/' && msg[j] != '\\') {
		return p, false
	}
	p.newline = msg[j] == '\\'
	j++
	k := j
	for j < len(msg) && j < k+4 && isDigit(msg[j]) {
		p.n = p.n*10 + int(msg[j]-'0')
		j++
	}
	if j == k || j >= len(msg) || msg[j] != ']' {
		return p, false
	}
	if j+1 < len(msg) && msg[j+1] != ' ' {
		return p, false
	}
	if p.i < 1 || p.n < 2 || p.i > p.n {
		return p, false
	}
	p.body = msg[min(j+2, len(msg)):]
	return p, true
}

// Limits of a Joiner: pieces of at most maxPieces per line, lines of at
// most maxJoined bytes, maxPending lines in progress at once (one per
// Exim process writing a long line at the same moment).
const (
	maxPieces  = 64
	maxJoined  = 64 << 10
	maxPending = 8
	// A line still incomplete after this many other lines is given up.
	maxWait = 4096
)

// Joiner reassembles syslog's "[i/n]" pieces of Exim's long lines. Lines
// that are not pieces pass through untouched. The zero Joiner is ready;
// it is not safe for concurrent use. Memory is bounded by maxPending
// lines of maxJoined bytes.
type Joiner struct {
	pending [maxPending]pendingLine
	seq     uint64
	// out holds the last joined line handed out.
	out []byte
	// Dropped counts pieces given up on: a piece out of order, a line
	// too long, a line whose other pieces never came.
	Dropped uint64
}

// pendingLine is a line whose pieces are being collected, keyed by its
// syslog header (host and program[pid]), which the pieces share.
type pendingLine struct {
	used bool
	key  []byte // "HOST exim[PID]"
	next int    // the piece expected next
	n    int
	seen uint64 // Joiner.seq when the last piece came
	buf  []byte // the first piece's whole line, then the others' text
}

// Join takes one line. It returns the line to parse and true: the line
// itself when it is not a piece, or the whole line when this was its last
// piece. It returns false for a piece held until the rest arrive (or one
// given up on, counted in Dropped). The returned slice is valid until the
// next call.
func (j *Joiner) Join(line []byte) ([]byte, bool) {
	j.seq++
	if len(line) > 10 && line[10] == ' ' {
		// Exim's own stamp ("2026-12-06 07:54:26"), no syslog header:
		// not a piece (syslogKey's answer, without its calls).
		return line, true
	}
	key, msg, ok := syslogKey(line)
	if !ok {
		return line, true
	}
	p, ok := fragment(msg)
	if !ok {
		return line, true
	}
	body := p.body
	j.expire()
	if p.i == 1 && p.n <= maxPieces {
		slot := j.slotFor(key, true)
		slot.used, slot.next, slot.n, slot.seen = true, 2, p.n, j.seq
		slot.key = append(slot.key[:0], key...)
		// The whole first line without its "[1/n] ": the syslog header
		// stays, so the joined line parses as the unsplit one would.
		head := len(line) - len(msg)
		slot.buf = append(append(slot.buf[:0], line[:head]...), body...)
		if p.newline {
			slot.buf = append(slot.buf, ' ')
		}
		return nil, false
	}
	slot := j.slotFor(key, false)
	if slot == nil || p.i != slot.next || p.n != slot.n || len(slot.buf)+len(body) > maxJoined || p.n > maxPieces {
		if slot != nil {
			j.Dropped += uint64(slot.next - 1)
			slot.used = false
		}
		j.Dropped++
		return nil, false
	}
	slot.buf = append(slot.buf, body...)
	if p.newline && p.i < p.n {
		slot.buf = append(slot.buf, ' ')
	}
	slot.next++
	slot.seen = j.seq
	if p.i < p.n {
		return nil, false
	}
	slot.used = false
	j.out, slot.buf = slot.buf, j.out[:0]
	return j.out, true
}

// slotFor finds the pending line of key; with create, a free slot (or the
// oldest, whose pieces are dropped) when there is none.
func (j *Joiner) slotFor(key []byte, create bool) *pendingLine {
	var free, oldest *pendingLine
	for k := range j.pending {
		s := &j.pending[k]
		if s.used && bytes.Equal(s.key, key) {
			if create {
				j.Dropped += uint64(s.next - 1)
			}
			return s
		}
		if !s.used && free == nil {
			free = s
		}
		if s.used && (oldest == nil || s.seen < oldest.seen) {
			oldest = s
		}
	}
	if !create {
		return nil
	}
	if free != nil {
		return free
	}
	j.Dropped += uint64(oldest.next - 1)
	return oldest
}

// expire gives up lines that have waited too long for their next piece.
func (j *Joiner) expire() {
	for k := range j.pending {
		s := &j.pending[k]
		if s.used && j.seq-s.seen > maxWait {
			j.Dropped += uint64(s.next - 1)
			s.used = false
		}
	}
}

// Pending is the number of pieces held, for the accounting of lines.
func (j *Joiner) Pending() int {
	n := 0
	for k := range j.pending {
		if j.pending[k].used {
			n += j.pending[k].next - 1
		}
	}
	return n
}

// syslogKey splits a syslog line of Exim's into its header key ("HOST
// exim[PID]") and its message; false when the line is not one.
func syslogKey(line []byte) (key, msg []byte, ok bool) {
	n := syslogStampLen(line, 0)
	if n == 0 {
		return nil, nil, false
	}
	rest := line[n:]
	i := index(rest, ": ")
	if i < 0 {
		return nil, nil, false
	}
	key = rest[:i]
	sp := bytes.IndexByte(key, ' ')
	if sp < 0 || !isEximProgram(key[sp+1:]) {
		return nil, nil, false
	}
	return key, rest[i+2:], true
}
