package reports

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/atomicfile"
)

// ReportKey identifies a report across deliveries: a hash of (reporter,
// report id, policy domain, period). Reporters reuse report ids across
// periods, and a secondary MX delivers the same report twice, so the id
// alone is not enough.
type ReportKey [16]byte

// KeyOf returns a report's key.
func KeyOf(rep *parse.Report) ReportKey {
	begin, end := rep.Period()
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00%d", rep.Kind, strings.ToLower(rep.Reporter()), rep.ID(),
		strings.ToLower(rep.Domain()), begin.Unix(), end.Unix())
	var k ReportKey
	copy(k[:], h.Sum(nil))
	return k
}

// Dedup remembers the reports already counted, durably: an append-only
// file of "key period-end" lines in the state directory, compacted when it
// holds many forgotten lines. A report is remembered until its period
// ended Window ago; at most MaxEntries are kept (the oldest go first).
// Not safe for concurrent use: the collector serialises ingestion.
type Dedup struct {
	path   string
	window time.Duration
	max    int
	seen   map[ReportKey]int64 // period end, Unix seconds
	lines  int
	f      *os.File
}

// OpenDedup loads the state file at path (absent: empty), drops what is
// past the window and rewrites it compacted.
func OpenDedup(path string, window time.Duration, maxEntries int, now time.Time) (*Dedup, error) {
	d := &Dedup{path: path, window: window, max: maxEntries, seen: map[ReportKey]int64{}}
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("dedup state: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		k, end, ok := parseDedupLine(sc.Text())
		if ok {
			d.seen[k] = end
		}
	}
	d.expire(now)
	if err := d.compact(); err != nil {
		return nil, err
	}
	return d, nil
}

func parseDedupLine(line string) (ReportKey, int64, bool) {
	var k ReportKey
	hexKey, endText, ok := strings.Cut(line, " ")
	if !ok || len(hexKey) != 2*len(k) {
		return k, 0, false
	}
	if _, err := hex.Decode(k[:], []byte(hexKey)); err != nil {
		return k, 0, false
	}
	end, err := strconv.ParseInt(endText, 10, 64)
	return k, end, err == nil
}

// Stale says whether a report's period ended before the window: it can no
// longer be told from one counted before, so it is not counted.
func (d *Dedup) Stale(end, now time.Time) bool { return end.Before(now.Add(-d.window)) }

// Seen says whether the report was counted before.
func (d *Dedup) Seen(k ReportKey) bool {
	_, ok := d.seen[k]
	return ok
}

// Add remembers a report, on disk before it returns.
func (d *Dedup) Add(k ReportKey, end, now time.Time) error {
	d.seen[k] = end.Unix()
	if len(d.seen) > d.max || d.lines > 2*len(d.seen)+1024 {
		d.expire(now)
		return d.compact()
	}
	if _, err := fmt.Fprintf(d.f, "%s %d\n", hex.EncodeToString(k[:]), end.Unix()); err != nil {
		return fmt.Errorf("dedup state: %w", err)
	}
	d.lines++
	return d.f.Sync()
}

// Len is the number of reports remembered.
func (d *Dedup) Len() int { return len(d.seen) }

// Close closes the state file.
func (d *Dedup) Close() error { return d.f.Close() }

// expire forgets what is past the window, then the oldest tenth past
// MaxEntries (a tenth, so a full set does not sort on every Add).
func (d *Dedup) expire(now time.Time) {
	cut := now.Add(-d.window).Unix()
	for k, end := range d.seen {
		if end < cut {
			delete(d.seen, k)
		}
	}
	if len(d.seen) <= d.max {
		return
	}
	keep := max(d.max-d.max/10, 1)
	ends := make([]int64, 0, len(d.seen))
	for _, end := range d.seen {
		ends = append(ends, end)
	}
	slices.Sort(ends)
	cut = ends[len(ends)-keep]
	for k, end := range d.seen {
		if end < cut {
			delete(d.seen, k)
		}
	}
	// Many reports ending at the same second: drop any of them.
	for k := range d.seen {
		if len(d.seen) <= keep {
			break
		}
		delete(d.seen, k)
	}
}

// compact rewrites the file with what is remembered and reopens it for
// appending.
func (d *Dedup) compact() error {
	if d.f != nil {
		d.f.Close()
		d.f = nil
	}
	var buf bytes.Buffer
	for k, end := range d.seen {
		fmt.Fprintf(&buf, "%s %d\n", hex.EncodeToString(k[:]), end)
	}
	if err := atomicfile.Write(d.path, buf.Bytes()); err != nil {
		return fmt.Errorf("dedup state: %w", err)
	}
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("dedup state: %w", err)
	}
	d.f, d.lines = f, len(d.seen)
	return nil
}
