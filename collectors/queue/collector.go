// Package queue watches the MTA's mail queue: on an interval it lists the
// queue with `postqueue -j` (Postfix) or reads Exim's spool files, and reports, per queue (active, deferred, hold,
// ...), how many messages it holds, their bytes and the oldest one's age,
// and the deferred recipients by classified delay reason and provider.
// A scrape reports the last listing; it never runs postqueue itself.
//
// A read that fails (Postfix stopped while the agent is not root, a wrong
// config_dir, a timeout) is not a crash: the failure is reported
// (mailscope_queue_up 0, the agent's collector error counter) and the queue
// series disappear until a read works again, so no stale depth is ever
// served as current. As root, postqueue reads a stopped Postfix's queue
// files itself, and the gauges stay true.
package queue

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
)

func init() {
	collectors.Register(collectors.Factory{
		Name:      "queue",
		Help:      "Mail queue depth, bytes, oldest message age and deferred recipients by reason (postqueue -j, or Exim's spool)",
		NewConfig: func() collectors.Config { return NewConfig() },
		New: func(cfg collectors.Config, s collectors.Settings) (collectors.Collector, error) {
			return New(cfg.(*Config), s)
		},
		Auto: collectors.AutoOf(Auto),
	})
}

var (
	messagesDesc = prometheus.NewDesc("mailscope_queue_messages", "Messages in the queue at the last read.", []string{"mta", "queue"}, nil)
	bytesDesc    = prometheus.NewDesc("mailscope_queue_size_bytes", "Total size of the queue's messages at the last read.", []string{"mta", "queue"}, nil)
	oldestDesc   = prometheus.NewDesc("mailscope_queue_oldest_message_age_seconds", "Age of the queue's oldest message at the last read; 0 when the queue is empty.", []string{"mta", "queue"}, nil)
	deferredDesc = prometheus.NewDesc("mailscope_queue_deferred_recipients", "Queued recipients with a delay reason, by classified reason and destination provider.", []string{"mta", "reason", "provider"}, nil)
	upDesc       = prometheus.NewDesc("mailscope_queue_up", "Whether the last queue read worked (1) or failed, e.g. because the MTA is stopped (0).", []string{"mta"}, nil)
	lastDesc     = prometheus.NewDesc("mailscope_queue_last_read_timestamp_seconds", "When the last successful queue read ended.", []string{"mta"}, nil)
)

// Collector reads the queue on its interval.
type Collector struct {
	cfg *Config
	s   collectors.Settings

	mu   sync.Mutex
	snap *Snapshot
	// read is when snap was read; up whether the last read worked.
	read time.Time
	up   bool
	// seen keeps every deferral group reported once, so a group that
	// empties reads 0 instead of vanishing (bounded: reasons x providers).
	seen map[DeferKey]bool
}

// New builds the collector and registers its metrics.
func New(cfg *Config, s collectors.Settings) (*Collector, error) {
	c := &Collector{cfg: cfg, s: s, seen: map[DeferKey]bool{}}
	if err := s.Registerer.Register(c); err != nil {
		return nil, fmt.Errorf("queue: register metrics: %w", err)
	}
	return c, nil
}

// Run reads the queue every interval until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	return collectors.Every(ctx, c.s, c.cfg.Interval, c.ReadOnce)
}

// ReadOnce lists the queue once and keeps the result for scrapes; it
// writes what it ran and what it found to debug (nil for none).
func (c *Collector) ReadOnce(ctx context.Context, debug *collectors.RunLog) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadTimeout())
	defer cancel()
	var snap *Snapshot
	var err error
	if c.cfg.MTA == "exim" {
		debug.Printf("reading the Exim spool %s (timeout %s)", c.cfg.SpoolDirectory, c.cfg.ReadTimeout())
		snap, err = ReadEximSpool(ctx, c.cfg.SpoolDirectory, c.s.Mail)
	} else {
		cmd := c.cfg.Postqueue + " -j"
		if c.cfg.ConfigDir != "" {
			cmd = c.cfg.Postqueue + " -c " + c.cfg.ConfigDir + " -j"
		}
		debug.Printf("running %s (timeout %s)", cmd, c.cfg.ReadTimeout())
		snap, err = Read(ctx, c.cfg, c.s.Mail)
	}
	now := c.s.Clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		debug.Printf("failed: %v", err)
		c.up, c.snap = false, nil
		return "", err
	}
	writeDebug(debug, snap, now)
	c.up, c.snap, c.read = true, snap, now
	for k := range snap.Deferred {
		c.seen[k] = true
	}
	summary := fmt.Sprintf("%d active, %d deferred, %d hold", snap.Queues["active"].Messages, snap.Queues["deferred"].Messages, snap.Queues["hold"].Messages)
	if snap.Warning != "" {
		summary += " (" + snap.Warning + ")"
	}
	return summary, nil
}

// writeDebug writes a read's queues and its deferred recipients by reason
// and provider (no address, no queue ID).
func writeDebug(debug *collectors.RunLog, snap *Snapshot, now time.Time) {
	if snap.Warning != "" {
		debug.Printf("warning: %s", snap.Warning)
	}
	for _, q := range Queues {
		st := snap.Queues[q]
		if st.Oldest.IsZero() {
			debug.Printf("queue %-8s %d messages, %d bytes", q, st.Messages, st.Bytes)
			continue
		}
		debug.Printf("queue %-8s %d messages, %d bytes, oldest %s old", q, st.Messages, st.Bytes, now.Sub(st.Oldest).Round(time.Second))
	}
	keys := slices.SortedFunc(maps.Keys(snap.Deferred), func(a, b DeferKey) int {
		return cmp.Or(cmp.Compare(a.Provider, b.Provider), cmp.Compare(a.Reason, b.Reason))
	})
	for _, k := range keys {
		debug.Printf("deferred recipients: provider %s, reason %s: %d", k.Provider, k.Reason, snap.Deferred[k])
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{messagesDesc, bytesDesc, oldestDesc, deferredDesc, upDesc, lastDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: the last read, ages measured
// from when it was read.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mta := c.cfg.MTA
	if mta == "" {
		mta = "postfix"
	}
	up := 0.0
	if c.up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, mta)
	if c.snap == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(lastDesc, prometheus.GaugeValue, float64(c.read.UnixNano())/1e9, mta)
	for _, q := range Queues {
		st := c.snap.Queues[q]
		age := 0.0
		if !st.Oldest.IsZero() {
			age = max(0, c.read.Sub(st.Oldest).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(messagesDesc, prometheus.GaugeValue, float64(st.Messages), mta, q)
		ch <- prometheus.MustNewConstMetric(bytesDesc, prometheus.GaugeValue, float64(st.Bytes), mta, q)
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, mta, q)
	}
	for k := range c.seen {
		ch <- prometheus.MustNewConstMetric(deferredDesc, prometheus.GaugeValue, float64(c.snap.Deferred[k]), mta, k.Reason.String(), k.Provider)
	}
}
