package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// progressEvery is how often the progress line is rewritten.
const progressEvery = 250 * time.Millisecond

// replayProgress writes "read 12.3 of 45.6 MB, 123456 lines, 98765
// lines/s, eta 12s" over itself on a terminal's standard error while a
// replay runs. It counts what the sinks are handed, so it costs one
// addition per line and a clock reading per batch.
type replayProgress struct {
	w          io.Writer
	now        func() time.Time
	total      int64 // expected bytes (gzip: the uncompressed sizes the files record)
	start      time.Time
	lastWrite  time.Time
	lines, out int64
	written    bool
}

func newReplayProgress(w io.Writer, paths []string, now func() time.Time) *replayProgress {
	p := &replayProgress{w: w, now: now, start: now()}
	for _, path := range paths {
		p.total += expectedBytes(path)
	}
	return p
}

// HandleBatch implements source.Sink.
func (p *replayProgress) HandleBatch(b *source.Batch) {
	for i := range b.Lines {
		p.out += int64(len(b.Lines[i].Text)) + 1
	}
	p.lines += int64(len(b.Lines))
	if t := p.now(); t.Sub(p.lastWrite) >= progressEvery {
		p.lastWrite = t
		p.write(t)
	}
}

// restart forgets the counts when the replay starts over (see
// source.ReplayWith).
func (p *replayProgress) restart() { p.lines, p.out = 0, 0 }

func (p *replayProgress) write(t time.Time) {
	el := t.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.lines) / el
	}
	eta := "?"
	if p.out > 0 && p.total > p.out && el > 0 {
		left := time.Duration(float64(p.total-p.out) / (float64(p.out) / el) * float64(time.Second))
		eta = left.Round(time.Second).String()
	} else if p.total > 0 && p.out >= p.total {
		eta = "0s"
	}
	fmt.Fprintf(p.w, "\rreplay: read %.1f of %.1f MB, %d lines, %.0f lines/s, eta %s\x1b[K", float64(p.out)/1e6, float64(p.total)/1e6, p.lines, rate, eta)
	p.written = true
}

// done clears the line, so the report (or an error) starts on a clean one.
func (p *replayProgress) done() {
	if p.written {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// expectedBytes is a file's size, or for a gzip file the uncompressed
// size in its trailer (ISIZE, modulo 4 GiB: a guess good enough for an
// eta, and the compressed size when the trailer cannot be read).
func expectedBytes(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	var head [2]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || head != [2]byte{0x1f, 0x8b} || fi.Size() < 18 {
		return fi.Size()
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], fi.Size()-4); err != nil {
		return fi.Size()
	}
	return int64(binary.LittleEndian.Uint32(tail[:]))
}
