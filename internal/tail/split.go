package tail

import "bytes"

// minBufferBytes is the smallest read buffer a file gets. Larger reads mean
// larger batches and fewer handler calls.
const minBufferBytes = 64 << 10

// splitter turns the bytes of one file into lines. It owns the file's read
// buffer: the caller reads into space(), reports the count with commit(),
// then calls next() until it reports no more complete lines. Lines returned
// by next() point into the buffer and stay valid until the next call to
// space(), so a whole read's worth of lines can be handed out as one batch
// without copying.
//
// The rules, which hold for any chunking of the same bytes (FuzzSplit checks
// this):
//   - a line ends at '\n'; a '\r' right before it is dropped;
//   - NUL bytes are dropped and counted: a run of them at the start of a line
//     (the hole a writer without O_APPEND leaves after copytruncate) is
//     skipped before the line is measured, NULs inside a line are removed
//     after it is measured;
//   - a line longer than max bytes is counted as oversize and is either cut
//     to its first max bytes (flag Truncated) or dropped (skipLong). Once a
//     line is known to be oversize the rest of it is discarded as it
//     arrives, so memory stays bounded by the buffer;
//   - everything else, including invalid UTF-8, passes through untouched.
type splitter struct {
	buf        []byte
	start, end int   // unconsumed bytes are buf[start:end]
	off        int64 // file offset of buf[start]: everything before it is delivered or dropped
	max        int   // longest line delivered whole, in bytes
	skipLong   bool  // drop oversize lines instead of truncating them
	discarding bool  // inside the rest of an oversize line
	swallowNL  bool  // a forced flush just ended a line; its late '\n' is not a new line
	mayNUL     bool  // buf[start:end] may hold NUL bytes (a cheap guard for the slow path)

	// Counters since the caller last took them.
	nulBytes int64
	oversize int64
}

// newSplitter returns a splitter for lines of at most maxLine bytes.
func newSplitter(maxLine int, skipLong bool) splitter {
	return splitter{max: maxLine, skipLong: skipLong}
}

// bufferSize is the read buffer for maxLine: room for a whole maximal line
// plus "\r\n" and a full read after it.
func bufferSize(maxLine int) int {
	return max(minBufferBytes, 2*(maxLine+2))
}

// reset forgets buffered bytes and positions the splitter at file offset off.
func (s *splitter) reset(off int64) {
	s.start, s.end = 0, 0
	s.off = off
	s.discarding = false
	s.swallowNL = false
	s.mayNUL = false
}

// release drops the buffer of a file that is closed, keeping memory
// proportional to open files.
func (s *splitter) release() {
	s.buf = nil
	s.start, s.end = 0, 0
}

// pending is the number of buffered bytes not yet delivered: a partial line.
func (s *splitter) pending() int { return s.end - s.start }

// readOff is the file offset of the next byte to read.
func (s *splitter) readOff() int64 { return s.off + int64(s.end-s.start) }

// space returns the free part of the buffer, moving a partial line to the
// front first. Lines returned earlier are invalid after this call.
func (s *splitter) space() []byte {
	if s.buf == nil {
		s.buf = make([]byte, bufferSize(s.max))
	}
	switch {
	case s.start == s.end:
		s.start, s.end = 0, 0
		s.mayNUL = false
	case s.start > 0:
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	return s.buf[s.end:]
}

// commit records that n bytes were read into the slice space returned.
func (s *splitter) commit(n int) {
	if !s.mayNUL && bytes.IndexByte(s.buf[s.end:s.end+n], 0) >= 0 {
		s.mayNUL = true
	}
	s.end += n
}

func (s *splitter) consume(n int) {
	s.start += n
	s.off += int64(n)
}

// next returns the next complete line, its file offset and flags, or ok
// false when the buffer holds no complete line.
func (s *splitter) next() (line []byte, off int64, flags LineFlags, ok bool) {
	for s.start < s.end {
		if s.swallowNL {
			switch s.buf[s.start] {
			case '\n':
				s.consume(1)
				s.swallowNL = false
				continue
			case '\r':
				if s.start+1 == s.end {
					return nil, 0, 0, false // cannot tell "\r\n" from "\rx" yet
				}
				if s.buf[s.start+1] == '\n' {
					s.consume(2)
					s.swallowNL = false
					continue
				}
			}
			s.swallowNL = false
		}
		if s.mayNUL && s.buf[s.start] == 0 && !s.discarding {
			j := s.start
			for j < s.end && s.buf[j] == 0 {
				j++
			}
			s.nulBytes += int64(j - s.start)
			s.consume(j - s.start)
			continue
		}
		data := s.buf[s.start:s.end]
		i := bytes.IndexByte(data, '\n')
		if s.discarding {
			if i < 0 {
				s.consume(len(data))
				return nil, 0, 0, false
			}
			s.consume(i + 1)
			s.discarding = false
			continue
		}
		if i < 0 {
			// max+2 bytes without '\n' are more than max bytes of content
			// even if the last one turns out to be the '\r' of "\r\n".
			if len(data) < s.max+2 {
				return nil, 0, 0, false
			}
			off = s.off
			s.consume(len(data))
			s.discarding = true
			s.oversize++
			if s.skipLong {
				continue
			}
			return s.dropNUL(data[:s.max]), off, Truncated, true
		}
		raw := data[:i]
		off = s.off
		s.consume(i + 1)
		if n := len(raw); n > 0 && raw[n-1] == '\r' {
			raw = raw[:n-1]
		}
		if len(raw) > s.max {
			s.oversize++
			if s.skipLong {
				continue
			}
			raw, flags = raw[:s.max], Truncated
		}
		return s.dropNUL(raw), off, flags, true
	}
	return nil, 0, 0, false
}

// flush returns the buffered partial line, if any, as an Unterminated line,
// for a file that is closing or whose writer has gone quiet. A '\n' that
// arrives right after it is swallowed rather than read as an empty line.
func (s *splitter) flush() (line []byte, off int64, flags LineFlags, ok bool) {
	if s.discarding {
		s.consume(s.end - s.start)
		s.discarding = false
		return nil, 0, 0, false
	}
	if s.start == s.end {
		return nil, 0, 0, false
	}
	if s.swallowNL && s.end-s.start == 1 && s.buf[s.start] == '\r' {
		return nil, 0, 0, false // maybe the "\r\n" ending the line flushed before
	}
	raw := s.buf[s.start:s.end]
	off = s.off
	s.consume(len(raw))
	s.swallowNL = true
	if n := len(raw); raw[n-1] == '\r' {
		raw = raw[:n-1]
	}
	flags = Unterminated
	if len(raw) > s.max {
		s.oversize++
		if s.skipLong {
			return nil, 0, 0, false
		}
		raw, flags = raw[:s.max], Unterminated|Truncated
	}
	return s.dropNUL(raw), off, flags, true
}

// dropNUL removes NUL bytes from line in place and counts them.
func (s *splitter) dropNUL(line []byte) []byte {
	if !s.mayNUL {
		return line
	}
	i := bytes.IndexByte(line, 0)
	if i < 0 {
		return line
	}
	w := i
	for _, b := range line[i:] {
		if b != 0 {
			line[w] = b
			w++
		}
	}
	s.nulBytes += int64(len(line) - w)
	return line[:w]
}
