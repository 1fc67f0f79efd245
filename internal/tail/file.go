package tail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// maxReadPerPoll bounds how much one file is read in one poll, so one busy
// file cannot starve the others or delay rotation checks; the follower polls
// again at once when a file hit it.
const maxReadPerPoll = 64 << 20

var errNotRegular = errors.New("not a regular file")

// trackedFile is one open file, known by identity. It stays open while a
// path names it and for RotateWait after it left its path.
type trackedFile struct {
	id   FileID
	path string // the name it was last seen under
	f    *os.File
	sp   splitter
	// fp holds the file's first min(FingerprintBytes, sp.readOff()) bytes
	// as read. If they change, the file was truncated and rewritten, even
	// when it regrew past our offset between two polls.
	fp         []byte
	size       int64
	live       bool      // a path named it at the last poll
	orphanedAt time.Time // when it stopped being live
	deleted    bool      // its link count was zero at the last fstat
	lastGrowth time.Time // last time a read returned bytes
}

// openFile opens path as a new tracked file positioned per startOffset. If
// the opened file turns out to be tracked already (the path changed between
// stat and open), the tracked one is returned.
func (fl *Follower) openFile(path string, now time.Time) (*trackedFile, error) {
	f, err := fl.open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, errNotRegular)
	}
	id, _, _ := fileIdentity(fi)
	if tf := fl.files[id]; tf != nil {
		f.Close()
		return tf, nil
	}
	tf := &trackedFile{
		id:         id,
		path:       path,
		f:          f,
		sp:         newSplitter(fl.cfg.MaxLineBytes, fl.cfg.LongLines == SkipLong),
		size:       fi.Size(),
		live:       true,
		lastGrowth: now,
	}
	off, afterFlush := fl.startOffset(tf, fi.Size())
	tf.sp.reset(off)
	tf.sp.swallowNL = afterFlush
	fpLen := min(int64(fl.cfg.FingerprintBytes), off)
	if fpLen > 0 {
		head, err := fl.readHead(tf.f, int(fpLen))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read fingerprint of %s: %w", path, err)
		}
		tf.fp = append(tf.fp, head...)
	}
	fl.files[id] = tf
	fl.log.Debug("following file", "path", path, "file", id.String(), "offset", off, "size", fi.Size())
	return tf, nil
}

// readHead reads the first n bytes of f into scratch memory; the result is
// shorter than n if the file is.
func (fl *Follower) readHead(f *os.File, n int) ([]byte, error) {
	buf := fl.scratch[:n]
	m, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:m], nil
}

// prefixOK reports whether tf still starts with its fingerprint.
func (fl *Follower) prefixOK(tf *trackedFile) (bool, error) {
	if len(tf.fp) == 0 {
		return true, nil
	}
	head, err := fl.readHead(tf.f, len(tf.fp))
	if err != nil {
		return false, err
	}
	return bytes.Equal(head, tf.fp), nil
}

// readFile reads tf from its position up to EOF, delivering lines as it
// goes. It reports whether it stopped at maxReadPerPoll with more to read.
func (fl *Follower) readFile(tf *trackedFile, now time.Time) (more bool) {
	fi, err := tf.f.Stat()
	if err != nil {
		fl.readError(tf, err)
		return false
	}
	_, nlink, _ := fileIdentity(fi)
	tf.deleted = nlink == 0
	tf.size = fi.Size()
	if tf.size < tf.sp.readOff() {
		fl.truncated(tf, "size")
	} else if ok, err := fl.prefixOK(tf); err != nil {
		fl.readError(tf, err)
		return false
	} else if !ok {
		fl.truncated(tf, "fingerprint")
	}

	grew := false
	for budget := maxReadPerPoll; ; {
		if budget <= 0 {
			more = true
			break
		}
		at := tf.sp.readOff()
		space := tf.sp.space()
		n, err := tf.f.ReadAt(space, at)
		if n > 0 {
			// Check the prefix again after the read: if the file was
			// truncated and regrew between the check above and this read,
			// these bytes come from the new content at our old offset.
			// Delivering them and then re-reading the new content from 0
			// would duplicate them; dropping them can only lose lines
			// written in that same copy-to-truncate window.
			if ok, perr := fl.prefixOK(tf); perr != nil {
				fl.readError(tf, perr)
				return false
			} else if !ok {
				fl.truncated(tf, "fingerprint")
				continue
			}
			if fpLen := int64(len(tf.fp)); fpLen < int64(fl.cfg.FingerprintBytes) && fpLen >= at {
				take := min(int64(n), int64(fl.cfg.FingerprintBytes)-at) - (fpLen - at)
				if take > 0 {
					tf.fp = append(tf.fp, space[fpLen-at:fpLen-at+take]...)
				}
			}
			tf.sp.commit(n)
			budget -= n
			grew = true
			fl.drain(tf)
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			break
		}
		if err != nil {
			fl.readError(tf, err)
			return false
		}
	}
	if tf.size < tf.sp.readOff() {
		tf.size = tf.sp.readOff() // it grew after the fstat
	}

	switch {
	case grew:
		tf.lastGrowth = now
	case tf.sp.pending() > 0 && fl.cfg.PartialLineTimeout > 0 && now.Sub(tf.lastGrowth) >= fl.cfg.PartialLineTimeout:
		fl.flushPartial(tf)
	}
	return more
}

// drain delivers the complete lines buffered for tf as one batch.
func (fl *Follower) drain(tf *trackedFile) {
	before := tf.sp.off
	for {
		line, off, flags, ok := tf.sp.next()
		if !ok {
			break
		}
		fl.batch = append(fl.batch, Line{Path: tf.path, File: tf.id, Offset: off, Bytes: line, Flags: flags})
	}
	fl.deliver(tf, before)
}

// flushPartial delivers tf's partial line, if any, as Unterminated.
func (fl *Follower) flushPartial(tf *trackedFile) {
	before := tf.sp.off
	if line, off, flags, ok := tf.sp.flush(); ok {
		fl.batch = append(fl.batch, Line{Path: tf.path, File: tf.id, Offset: off, Bytes: line, Flags: flags})
		fl.stats.PartialFlushes.Add(1)
	}
	fl.deliver(tf, before)
}

// deliver hands the batch to the handler and counts what tf consumed since
// offset before. Only after the handler returns does the new offset count
// as delivered, and only then can a checkpoint record it.
func (fl *Follower) deliver(tf *trackedFile, before int64) {
	if n := len(fl.batch); n > 0 {
		fl.handler(fl.batch)
		clear(fl.batch) // drop references to the buffer and paths
		fl.batch = fl.batch[:0]
		fl.stats.Lines.Add(int64(n))
	}
	if d := tf.sp.off - before; d > 0 {
		fl.stats.Bytes.Add(d)
	}
	if tf.sp.nulBytes > 0 {
		fl.stats.NULBytes.Add(tf.sp.nulBytes)
		tf.sp.nulBytes = 0
	}
	if tf.sp.oversize > 0 {
		fl.stats.OversizeLines.Add(tf.sp.oversize)
		tf.sp.oversize = 0
	}
}

// truncated restarts tf from offset 0 after its content was replaced in
// place. First it reads the unread tail from the rotated copy, if it finds
// one; a partial line that is still incomplete then can never be completed,
// so it is delivered as it is.
func (fl *Follower) truncated(tf *trackedFile, why string) {
	readOff := tf.sp.readOff()
	copyPath := fl.readRotatedCopy(tf)
	fl.flushPartial(tf)
	fl.stats.rotations[RotationTruncate].Add(1)
	fl.log.Info("file truncated, reading it from the start",
		"path", tf.path, "file", tf.id.String(), "offset", readOff, "size", tf.size, "detected_by", why,
		"tail_read_from", copyPath, "tail_read_to", tf.sp.off)
	tf.sp.reset(0)
	tf.fp = tf.fp[:0]
}

// readError counts and logs a failed stat or read of an open file. A stale
// NFS handle closes the file and remembers its position, so the next poll
// reopens it by path and carries on.
func (fl *Follower) readError(tf *trackedFile, err error) {
	reason := classify(err)
	fl.stats.readErrors[reason].Add(1)
	fl.log.Warn("cannot read file", "path", tf.path, "file", tf.id.String(), "reason", reason.String(), "err", err)
	if reason == ReasonStale {
		fl.ckpt.resume[tf.id] = fl.entryFor(tf)
		fl.closeFile(tf, false)
	}
}

// closeFile stops following tf. A file that is being dropped for good has
// its partial line delivered (flush); one that will be resumed from a
// checkpoint keeps it for the next reader.
func (fl *Follower) closeFile(tf *trackedFile, flush bool) {
	if flush {
		fl.flushPartial(tf)
	}
	if err := tf.f.Close(); err != nil {
		fl.log.Debug("closing file", "path", tf.path, "err", err)
	}
	tf.sp.release()
	delete(fl.files, tf.id)
	if ps := fl.paths[tf.path]; ps != nil && ps.id == tf.id {
		ps.gone, ps.goneDeleted = true, tf.deleted
	}
}
