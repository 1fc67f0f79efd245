package agent

import (
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The mta row's recent window: the agent samples the mta collector's
// counters every mtaSampleEvery and keeps mtaSamples of them, so the page
// can show the last mtaWindow besides the totals since start.
const (
	mtaWindow      = 15 * time.Minute
	mtaSampleEvery = 30 * time.Second
	mtaSamples     = int(mtaWindow/mtaSampleEvery) + 2
)

// mtaCounts are the mta row's counters at one moment.
type mtaCounts struct {
	Received, Sent, Deferred, Bounced, Expired, Rejected int64
	// tally is by provider, status and reason, for the deferral and
	// bounce findings of the window.
	tally deliveryTally
}

// mtaHistory is a ring of timed samples; its zero value is empty.
type mtaHistory struct {
	mu      sync.Mutex
	at      [mtaSamples]time.Time
	counts  [mtaSamples]mtaCounts
	next, n int
}

func (h *mtaHistory) add(t time.Time, c mtaCounts) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at[h.next], h.counts[h.next] = t, c
	h.next = (h.next + 1) % mtaSamples
	h.n = min(h.n+1, mtaSamples)
}

// window returns the counts since the newest sample at least mtaWindow
// old (else the oldest kept), and how long ago that sample was; false
// when there is none. A counter that went down (the collector restarted
// on a reload) counts from zero.
func (h *mtaHistory) window(now time.Time, cur mtaCounts) (mtaCounts, time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 {
		return mtaCounts{}, 0, false
	}
	oldest := (h.next - h.n + mtaSamples) % mtaSamples
	base := oldest
	for k := 0; k < h.n; k++ {
		i := (oldest + k) % mtaSamples
		if now.Sub(h.at[i]) >= mtaWindow {
			base = i
		}
	}
	b := h.counts[base]
	d := countSince
	return mtaCounts{
		tally:    cur.tally.since(b.tally),
		Received: d(cur.Received, b.Received), Sent: d(cur.Sent, b.Sent), Deferred: d(cur.Deferred, b.Deferred),
		Bounced: d(cur.Bounced, b.Bounced), Expired: d(cur.Expired, b.Expired), Rejected: d(cur.Rejected, b.Rejected),
	}, now.Sub(h.at[base]), true
}

// sampleMTA records the mta collector's counters until ctx ends.
func (a *Agent) sampleMTA(done <-chan struct{}) {
	for {
		for _, in := range a.instances() {
			if in.name != "mta" {
				continue
			}
			if mfs, err := in.reg.Gather(); err == nil {
				a.mtaHistory.add(a.opts.Clock.Now(), mtaCountsOf(familyIndex(mfs)))
			}
		}
		select {
		case <-done:
			return
		case <-a.opts.Clock.After(mtaSampleEvery):
		}
	}
}

func mtaCountsOf(fam map[string][]*dto.Metric) mtaCounts {
	sum := func(name string, keep func(map[string]string) bool) int64 {
		var n float64
		for _, m := range fam[name] {
			if keep == nil || keep(labelsOf(m)) {
				n += valueOf(m)
			}
		}
		return int64(n)
	}
	status := func(s string) func(map[string]string) bool {
		return func(l map[string]string) bool { return l["status"] == s }
	}
	return mtaCounts{
		tally:    tallyOf(fam),
		Received: sum("mailscope_mta_messages_received_total", nil),
		Sent:     sum("mailscope_mta_deliveries_total", status("sent")),
		Deferred: sum("mailscope_mta_deliveries_total", status("deferred")),
		Bounced:  sum("mailscope_mta_deliveries_total", status("bounced")),
		Expired:  sum("mailscope_mta_deliveries_total", status("expired")),
		Rejected: sum("mailscope_mta_smtpd_rejects_total", nil) +
			sum("mailscope_mta_content_actions_total", func(l map[string]string) bool { return l["action"] == "reject" }),
	}
}
