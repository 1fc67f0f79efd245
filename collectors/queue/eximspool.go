package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// Exim keeps each queued message as files in its spool directory
// (spec chapter "Format of spool files"): input/ID-H (the envelope: line
// 4 is the arrival time, then "-" option lines such as "-frozen TIME")
// and input/ID-D (the body), and msglog/ID, the message's own log of
// delivery attempts. With split_spool_directory they are one directory
// further down (input/X/, msglog/X/, X the ID's sixth character).
//
// ReadEximSpool reads those files directly: no exim process, and as
// root-free as the files' modes allow (Debian's spool is Debian-exim's).
// A message is in queue "hold" when frozen, "deferred" when its msglog
// has a deferral (==) with no later outcome for that address, "active"
// otherwise. Bytes are the -D and -H files' sizes. The deferred
// recipients are the addresses whose last msglog line is a deferral,
// classified from that line's text as the log pipeline classifies it.

// Bounds of one spool read: an -H header or a msglog larger than this is
// read only this far (a msglog's deferrals are at its end: its last
// maxMsglog bytes are read).
const (
	maxHeader = 64 << 10
	maxMsglog = 256 << 10
	dirBatch  = 1024
)

// ReadEximSpool reads the queue from Exim's spool directory.
func ReadEximSpool(ctx context.Context, spool string, mail *mailclass.Taxonomy) (*Snapshot, error) {
	mail = mail.OrDefault()
	s := &Snapshot{Queues: make(map[string]*Stats, len(Queues)), Deferred: map[DeferKey]int{}}
	for _, q := range Queues {
		s.Queues[q] = &Stats{}
	}
	input := filepath.Join(spool, "input")
	if _, err := os.Stat(input); err != nil {
		return nil, fmt.Errorf("exim spool: %w", err)
	}
	r := spoolReader{ctx: ctx, spool: spool, snap: s, mail: mail}
	if err := r.dir(input, ""); err != nil {
		return nil, err
	}
	return s, nil
}

type spoolReader struct {
	ctx   context.Context
	spool string
	snap  *Snapshot
	mail  *mailclass.Taxonomy
	// buf is reused for every file read, so a read allocates per
	// message only what it keeps.
	buf []byte
}

// readFile reads at most max bytes of f (the last max when from the end)
// into the reused buffer.
func (r *spoolReader) readFile(f *os.File, max int64, fromEnd bool) []byte {
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	n := min(st.Size(), max)
	if fromEnd && st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return nil
		}
	}
	if int64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	got, _ := io.ReadFull(f, r.buf[:n])
	return r.buf[:got]
}

// isEximID reports whether a file name's stem is an Exim message ID: 16
// characters (up to 4.96) or 23 (4.97 and later), dashes after the sixth
// and before the last two or four.
func isEximID(id string) bool {
	switch {
	case len(id) == 16 && id[6] == '-' && id[13] == '-':
	case len(id) == 23 && id[6] == '-' && id[18] == '-':
	default:
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c != '-' && !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// dir reads a directory of spool files in batches, so a million-message
// queue is never listed into memory at once; sub is the split directory
// name ("" at the top).
func (r *spoolReader) dir(path, sub string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("exim spool: %w", err)
	}
	defer f.Close()
	for {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("exim spool: %w", err)
		}
		entries, err := f.ReadDir(dirBatch)
		for _, e := range entries {
			name := e.Name()
			switch {
			case e.IsDir() && sub == "" && len(name) == 1:
				if err := r.dir(filepath.Join(path, name), name); err != nil {
					return err
				}
			case strings.HasSuffix(name, "-H") && isEximID(name[:len(name)-2]):
				r.message(path, sub, name[:len(name)-2])
			}
		}
		if errors.Is(err, io.EOF) || len(entries) == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("exim spool: %w", err)
		}
	}
}

// message adds one message. A message whose files vanish while it is
// read (delivered meanwhile) is left out.
func (r *spoolReader) message(dir, sub, id string) {
	h, err := os.Open(filepath.Join(dir, id+"-H"))
	if err != nil {
		return
	}
	var size int64
	if hst, err := h.Stat(); err == nil {
		size += hst.Size()
	}
	arrival, frozen, ok := readHeader(r.readFile(h, maxHeader, false))
	h.Close()
	if !ok {
		return
	}
	if dst, err := os.Stat(filepath.Join(dir, id+"-D")); err == nil {
		size += dst.Size()
	}
	deferred := r.msglog(filepath.Join(r.spool, "msglog", sub, id), id)
	q := "active"
	switch {
	case frozen:
		q = "hold"
	case deferred:
		q = "deferred"
	}
	st := r.snap.Queues[q]
	st.Messages++
	st.Bytes += size
	if at := time.Unix(arrival, 0); arrival > 0 && (st.Oldest.IsZero() || at.Before(st.Oldest)) {
		st.Oldest = at
	}
}

// readHeader reads an -H file's arrival time (line 4: "TIME COUNT") and
// whether it has a "-frozen" option line.
func readHeader(data []byte) (arrival int64, frozen, ok bool) {
	for n := 1; len(data) > 0; n++ {
		var l []byte
		l, data, _ = bytes.Cut(data, []byte("\n"))
		switch {
		case n == 4:
			t, _, _ := bytes.Cut(l, []byte(" "))
			v, err := strconv.ParseInt(string(t), 10, 64) // no copy: the conversion does not escape
			if err != nil {
				return 0, false, false
			}
			arrival, ok = v, true
		case n > 4 && len(l) > 0 && l[0] == '-':
			if bytes.HasPrefix(l, []byte("-frozen")) {
				frozen = true
			}
		case n > 4:
			return arrival, frozen, ok
		}
	}
	return arrival, frozen, ok
}

// msglog reads a message's msglog and counts its addresses whose last
// line is a deferral; it reports whether there was one.
func (r *spoolReader) msglog(path, id string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	data := r.readFile(f, maxMsglog, true)
	// The last line per address: a deferral, or an outcome that ends it.
	// msglog lines are "STAMP TEXT" without the main log's flags (a real
	// Exim 4.96's, testdata/exim-msglog): a deferral is "ADDR R=... defer
	// (N) ...", a delivery "ADDR: TRANSPORT transport succeeded", a
	// failure "ADDR R=... T=...: ERROR" (no "defer ("). A flagged line
	// ("=> ADDR ...") is read as the main log's, should a version write
	// one.
	last := map[string][]byte{}
	var order []string
	for len(data) > 0 {
		var l []byte
		l, data, _ = bytes.Cut(data, []byte("\n"))
		text := afterStamp(l)
		if len(text) > 3 && text[2] == ' ' {
			switch string(text[:2]) {
			case "=>", "->", ">>", "**", "*>", "==":
				addr, _, _ := bytes.Cut(text[3:], []byte(" "))
				addr = bytes.TrimSuffix(addr, []byte(":"))
				if string(text[:2]) != "==" {
					delete(last, string(addr))
					continue
				}
				text = text[3:]
			}
		}
		addr, rest, _ := bytes.Cut(text, []byte(" "))
		addr = bytes.TrimSuffix(addr, []byte(":"))
		if !bytes.Contains(addr, []byte("@")) {
			continue
		}
		if !bytes.Contains(rest, []byte(" defer (")) && !bytes.HasPrefix(rest, []byte("defer (")) {
			// Delivered or failed: no longer waiting.
			delete(last, string(addr))
			continue
		}
		k := string(addr)
		if _, seen := last[k]; !seen {
			order = append(order, k)
		}
		last[k] = l
	}
	any := false
	for _, k := range order {
		l, ok := last[k]
		if !ok {
			continue
		}
		any = true
		r.snap.Deferred[deferKey(l, k, r.mail)]++
	}
	return any
}

// afterStamp is a msglog line after its "2026-12-06 08:35:00[.513] "
// stamp; nil when it has none.
func afterStamp(l []byte) []byte {
	if len(l) < 20 || l[4] != '-' || l[10] != ' ' || l[13] != ':' {
		return nil
	}
	l = l[19:]
	if len(l) > 0 && l[0] == '.' {
		i := 1
		for i < len(l) && l[i] >= '0' && l[i] <= '9' {
			i++
		}
		l = l[i:]
	}
	if len(l) == 0 || l[0] != ' ' {
		return nil
	}
	return l[1:]
}

// deferKey classifies a msglog deferral line ("STAMP == addr R=r T=t
// defer (-44) H=host [ip]: SMTP error ... : 451 4.7.28 ...") as the log
// pipeline does: the reason from the text after the first ": ", the
// provider from the address's domain and the host.
func deferKey(line []byte, addr string, mail *mailclass.Taxonomy) DeferKey {
	text := line
	if _, after, ok := bytes.Cut(line, []byte(": ")); ok {
		text = after
	}
	var relay []byte
	if _, h, ok := bytes.Cut(line, []byte(" H=")); ok {
		relay, _, _ = bytes.Cut(h, []byte(" "))
	}
	_, domain, _ := strings.Cut(addr, "@")
	return DeferKey{
		Reason:   mail.Classifier.Classify(mailclass.FindDSN(text), text),
		Provider: mail.Providers.Lookup([]byte(domain), relay),
	}
}
