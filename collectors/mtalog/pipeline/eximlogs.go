package pipeline

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/exim"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// Exim writes three logs: main, reject and panic. A source follows one of
// them (Options.RejectLogSources, Options.PanicLogSources; the others are
// main logs).
//
// The reject log repeats the main-log line of every reject, then the
// rejected message's envelope and headers. Its rejects are counted only
// when the main log lacks them (an ACL with log_reject_target = reject):
// rejectMatcher pairs each reject seen in one log with its copy in the
// other, whichever is read first, so following both never counts a
// reject twice. Its header lines are events of kind info, never sampled
// or logged: they hold addresses and subjects.
//
// Every entry of the panic log counts mailscope_mta_panic_log_entries_total
// and sets mailscope_mta_panic_log_last_entry_timestamp_seconds, and
// nothing else: its lines (often a main-log line Exim also wrote to the
// main log, such as a deferral) are counted where they belong, from the
// main log.

// logRole is which of Exim's logs a source follows.
type logRole uint8

const (
	roleMain logRole = iota
	roleReject
	rolePanic
)

// maxPendingRejects bounds the rejects rejectMatcher remembers while
// waiting for their copy in the other log: how far one log's reading may
// lag behind the other's, in rejects, before a reject is counted twice.
const maxPendingRejects = 4096

// rejectMatcher pairs the rejects of the main log with their copies in
// the reject log. A reject is known by a hash of its text after the
// stamp and PID (the same in both logs, and in syslog).
type rejectMatcher struct {
	seed maphash.Seed
	// pending counts the unpaired rejects of each text, by log
	// (0 main, 1 reject).
	pending map[uint64]*[2]int32
	// ring is the order they came in, to forget the oldest first.
	ring []pendingReject
	next int
}

type pendingReject struct {
	key uint64
	log uint8
}

func newRejectMatcher() *rejectMatcher {
	return &rejectMatcher{seed: maphash.MakeSeed(), pending: map[uint64]*[2]int32{}}
}

// copied reports whether the reject line is the copy of one already seen
// in the other log (fromReject: line is the reject log's); otherwise it
// remembers the line for its copy to come.
func (m *rejectMatcher) copied(fromReject bool, line []byte) bool {
	text := exim.MessageText(line)
	if text == nil {
		text = line
	}
	key := maphash.Bytes(m.seed, text)
	mine, other := uint8(0), 1
	if fromReject {
		mine, other = 1, 0
	}
	c := m.pending[key]
	if c != nil && c[other] > 0 {
		c[other]--
		if c[0] == 0 && c[1] == 0 {
			delete(m.pending, key)
		}
		return true
	}
	if c == nil {
		c = new([2]int32)
		m.pending[key] = c
	}
	c[mine]++
	if len(m.ring) < maxPendingRejects {
		m.ring = append(m.ring, pendingReject{key, mine})
		return false
	}
	// Forget the oldest: its copy, if it ever comes, counts again.
	old := m.ring[m.next]
	if oc := m.pending[old.key]; oc != nil && oc[old.log] > 0 {
		oc[old.log]--
		if oc[0] == 0 && oc[1] == 0 {
			delete(m.pending, old.key)
		}
	}
	m.ring[m.next] = pendingReject{key, mine}
	m.next = (m.next + 1) % maxPendingRejects
	return false
}

// eximLogs is the pipeline's state for Exim's reject and panic logs.
type eximLogs struct {
	roles map[string]logRole
	mta   string
	// rejects is set when a reject log is followed.
	rejects *rejectMatcher
	// panicEntries exists when a panic log is followed; panicLast is
	// its last entry's time (unix nanoseconds, 0 before the first).
	panicEntries prometheus.Counter
	panicLast    atomic.Int64
}

// descPanicLast is the panic log's last-entry gauge.
var descPanicLast = prometheus.NewDesc("mailscope_mta_panic_log_last_entry_timestamp_seconds",
	"Timestamp of the last entry read from Exim's panic log (absent before the first).", []string{"mta"}, nil)

// panicLastGauge exposes eximLogs.panicLast, absent while it is 0.
type panicLastGauge struct {
	mta  string
	last *atomic.Int64
}

// Describe implements prometheus.Collector.
func (g panicLastGauge) Describe(ch chan<- *prometheus.Desc) { ch <- descPanicLast }

// Collect implements prometheus.Collector.
func (g panicLastGauge) Collect(ch chan<- prometheus.Metric) {
	if ns := g.last.Load(); ns != 0 {
		ch <- prometheus.MustNewConstMetric(descPanicLast, prometheus.GaugeValue, float64(ns)/1e9, g.mta)
	}
}

// newEximLogs returns nil when o follows neither log.
func newEximLogs(o Options) *eximLogs {
	if len(o.RejectLogSources)+len(o.PanicLogSources) == 0 {
		return nil
	}
	l := &eximLogs{roles: map[string]logRole{}, mta: o.MTA}
	for _, s := range o.RejectLogSources {
		l.roles[s] = roleReject
	}
	if len(o.RejectLogSources) > 0 {
		l.rejects = newRejectMatcher()
	}
	for _, s := range o.PanicLogSources {
		l.roles[s] = rolePanic
	}
	if len(o.PanicLogSources) > 0 {
		c := prometheus.Labels{"mta": o.MTA}
		l.panicEntries = prometheus.NewCounter(prometheus.CounterOpts{Name: "mailscope_mta_panic_log_entries_total",
			Help: "Entries written to Exim's panic log (each a serious error: a failed expansion, an unopenable file, a crash).", ConstLabels: c})
	}
	return l
}

// collectors are the metrics to register: the entry counter is at 0 from
// the start, so the first entry is an increase Prometheus sees; the
// timestamp gauge appears with the first entry.
func (l *eximLogs) collectors() []prometheus.Collector {
	if l == nil || l.panicEntries == nil {
		return nil
	}
	return []prometheus.Collector{l.panicEntries, panicLastGauge{l.mta, &l.panicLast}}
}

// roleOf is the log a source follows.
func (l *eximLogs) roleOf(source string) logRole {
	if l == nil {
		return roleMain
	}
	return l.roles[source]
}

// handleEximLog accounts for one line of a reject or panic log source.
func (p *Pipeline) handleEximLog(src string, l *source.Line) {
	ev := &p.ev
	p.lines++
	sc := p.src
	if !exim.StartsEntry(l.Text) {
		// A reject log entry's envelope and header lines, a panic entry's
		// continuation: part of the entry, never sampled (addresses).
		p.events++
		sc.n[event.KindInfo]++
		return
	}
	if sc.role == rolePanic {
		p.events++
		sc.n[event.KindDiagnostic]++
		p.eximLogs.panicEntries.Inc()
		if !l.Time.IsZero() {
			p.eximLogs.panicLast.Store(l.Time.UnixNano())
		}
		return
	}
	if !exim.ParseLine(l.Text, ev) {
		p.unparsed(src, ev.Daemon, l.Text)
		return
	}
	p.events++
	ev.Time = l.Time
	sc.n[ev.Kind]++
	// Only a reject the main log lacks counts; any other line here
	// (logwrite = :reject:) is the main log's to count.
	if ev.Kind == event.KindReject && !p.eximLogs.rejects.copied(true, l.Text) {
		p.count(ev)
	}
}

// rejectCopied reports whether a main-log reject was already counted
// from the reject log.
func (p *Pipeline) rejectCopied(text []byte) bool {
	return p.eximLogs != nil && p.eximLogs.rejects != nil && p.eximLogs.rejects.copied(false, text)
}
