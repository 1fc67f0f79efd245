package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// Queues are Postfix's queue names, the closed set of the `queue` label
// ("other" for a name a future Postfix adds). Each is reported, at zero
// when empty, so a queue that drains reads 0 rather than vanishing.
var Queues = []string{"maildrop", "incoming", "active", "deferred", "hold", "corrupt", "other"}

// Stats is one queue's content.
type Stats struct {
	Messages int
	Bytes    int64
	// Oldest is the earliest arrival time; zero when the queue is empty.
	Oldest time.Time
}

// DeferKey groups deferred recipients.
type DeferKey struct {
	Reason   mailclass.Reason
	Provider string
}

// Snapshot is the queue at one moment.
type Snapshot struct {
	// Queues holds every name of Queues.
	Queues map[string]*Stats
	// Deferred counts recipients that carry a delay reason (in any queue:
	// a deferred message moved back to active keeps its reason).
	Deferred map[DeferKey]int
	// Warning is what postqueue said on stderr while it worked, such as
	// "Mail system is down -- accessing queue directly" (as root).
	Warning string
}

// record is one line of `postqueue -j` (Postfix 3.1 and later), of which
// the addresses are never kept.
type record struct {
	QueueName   string `json:"queue_name"`
	QueueID     string `json:"queue_id"`
	ArrivalTime int64  `json:"arrival_time"`
	MessageSize int64  `json:"message_size"`
	Recipients  []struct {
		Address     string `json:"address"`
		DelayReason string `json:"delay_reason"`
	} `json:"recipients"`
}

// Parse reads `postqueue -j` output, one JSON object per line, into a
// snapshot, classifying each delay reason and grouping each deferred
// recipient's domain into a provider.
func Parse(r io.Reader, cl *mailclass.Classifier, pr *mailclass.Providers) (*Snapshot, error) {
	s := &Snapshot{Queues: make(map[string]*Stats, len(Queues)), Deferred: map[DeferKey]int{}}
	for _, q := range Queues {
		s.Queues[q] = &Stats{}
	}
	dec := json.NewDecoder(r)
	for n := 1; ; n++ {
		var rec record
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return s, nil
			}
			return nil, fmt.Errorf("postqueue -j record %d: %w", n, err)
		}
		q := s.Queues[rec.QueueName]
		if q == nil {
			q = s.Queues["other"]
		}
		q.Messages++
		q.Bytes += rec.MessageSize
		if at := time.Unix(rec.ArrivalTime, 0); rec.ArrivalTime > 0 && (q.Oldest.IsZero() || at.Before(q.Oldest)) {
			q.Oldest = at
		}
		for _, rc := range rec.Recipients {
			if rc.DelayReason == "" {
				continue
			}
			text := []byte(rc.DelayReason)
			reason := cl.Classify(mailclass.FindDSN(text), text)
			_, domain, _ := strings.Cut(rc.Address, "@")
			s.Deferred[DeferKey{Reason: reason, Provider: pr.Lookup([]byte(domain), relayOf(text))}]++
		}
	}
}

// relayOf returns the host a delay reason names ("connect to
// mx1.gmail.com[...]", "host mx1.gmail.com[...] said"), for grouping
// recipients of hosted domains by their MX; nil when none.
func relayOf(text []byte) []byte {
	for _, p := range []string{"connect to ", "host "} {
		if i := bytes.Index(text, []byte(p)); i >= 0 {
			rest := text[i+len(p):]
			if j := bytes.IndexByte(rest, '['); j > 0 {
				return rest[:j]
			}
		}
	}
	return nil
}

// maxStderr bounds what a failing postqueue's message keeps.
const maxStderr = 4 << 10

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Read runs `postqueue -j` (with -c for a non-default instance) and parses
// its output as it streams, so a huge queue is never held in memory. When
// Postfix is stopped, postqueue run as root reads the queue files itself
// (with a warning); run as another user it fails ("Queue report
// unavailable - mail system is down"), an error for the caller to report.
func Read(ctx context.Context, cfg *Config, mail *mailclass.Taxonomy) (*Snapshot, error) {
	mail = mail.OrDefault()
	bin, err := lookBinary(cfg.Postqueue)
	if err != nil {
		return nil, err
	}
	args := []string{"-j"}
	if cfg.ConfigDir != "" {
		args = append([]string{"-c", cfg.ConfigDir}, args...)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	// A child that keeps the pipe open past the kill must not hold the
	// read beyond its timeout.
	cmd.WaitDelay = time.Second
	stderr := &limitedBuffer{max: maxStderr}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("postqueue: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("postqueue: %w", err)
	}
	snap, perr := Parse(out, mail.Classifier, mail.Providers)
	// Drain what a parse error left unread, so postqueue is not killed
	// by a broken pipe and its own error message is the one reported.
	_, _ = io.Copy(io.Discard, out)
	werr := cmd.Wait()
	if werr != nil {
		msg := strings.TrimSpace(stderr.String())
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postqueue %s: %w", strings.Join(args, " "), ctx.Err())
		}
		return nil, fmt.Errorf("postqueue %s: %w: %s", strings.Join(args, " "), werr, msg)
	}
	if perr != nil {
		return nil, perr
	}
	snap.Warning = strings.TrimSpace(stderr.String())
	return snap, nil
}

// lookBinary finds postqueue: PATH first, then the sbin directories that
// a service's PATH often lacks.
func lookBinary(name string) (string, error) {
	if strings.ContainsRune(name, filepath.Separator) {
		return name, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("postqueue: %q not found on PATH or in /usr/sbin, /usr/local/sbin", name)
}
