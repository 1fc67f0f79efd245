package tail

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// readRotatedCopy narrows the copytruncate loss window. When tf was
// truncated, the bytes between our read offset and the truncation exist
// only in the copy logrotate made just before truncating (app.log.1,
// app.log-20260102, ...). That copy starts with the same bytes as tf did,
// so it is found by name prefix and fingerprint, and read from our offset
// to its end, as if tf had not been truncated yet. What remains lost are
// lines written between logrotate's copy and its truncate (in no file at
// all), and the tail of a generation truncated twice between two polls.
//
// It returns the copy's path, or "" if there was none to read.
func (fl *Follower) readRotatedCopy(tf *trackedFile) string {
	off := tf.sp.readOff()
	if len(tf.fp) == 0 || off == 0 {
		return ""
	}
	dir, base := filepath.Split(tf.path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var best *os.File
	var bestPath string
	var bestMod time.Time
	for _, e := range entries {
		name := e.Name()
		if name == base || !strings.HasPrefix(name, base) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, name)
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() < off {
			f.Close()
			continue
		}
		if id, _, _ := fileIdentity(fi); id == tf.id {
			f.Close()
			continue
		}
		head, err := fl.readHead(f, len(tf.fp))
		if err != nil || string(head) != string(tf.fp) {
			f.Close()
			continue
		}
		// Several matches mean an ambiguous fingerprint (a short file);
		// the newest copy is the one made at this truncation.
		if best == nil || fi.ModTime().After(bestMod) {
			if best != nil {
				best.Close()
			}
			best, bestPath, bestMod = f, p, fi.ModTime()
		} else {
			f.Close()
		}
	}
	if best == nil {
		return ""
	}
	defer best.Close()
	for {
		space := tf.sp.space()
		n, err := best.ReadAt(space, tf.sp.readOff())
		if n > 0 {
			tf.sp.commit(n)
			fl.drain(tf)
		}
		if err != nil || n == 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				fl.log.Warn("cannot read rotated copy", "path", bestPath, "err", err)
			}
			break
		}
	}
	fl.stats.CopyRecoveries.Add(1)
	return bestPath
}
