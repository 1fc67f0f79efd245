package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/internal/atomicfile"
)

// periodCounters count by the report's period, not by its arrival. A
// report's counts belong to the UTC day its period begins in. They wait
// in pending until that day ended SettleDelay ago (by then the reports of
// the day have arrived), and are then added to the counters together, so
// increase(counter[1d]) just after the release is that day's mail, once.
// A report for a day already released is added when it arrives (late).
// Pending counts are kept in the state directory, so a restart loses none.
type periodCounters struct {
	settle   time.Duration
	vecs     map[string]*prometheus.CounterVec
	pending  map[int64]map[string]float64 // day (Unix) -> metric, labels joined by labelSep -> count
	released int64                        // newest day released, Unix; 0: none yet
	path     string
	gauge    prometheus.Gauge // the newest released day
}

const labelSep = "\x1f" // not in any label value; valid UTF-8, so it survives JSON

func newPeriodCounters(settle time.Duration, path string, gauge prometheus.Gauge, vecs map[string]*prometheus.CounterVec) *periodCounters {
	return &periodCounters{settle: settle, vecs: vecs, pending: map[int64]map[string]float64{}, path: path, gauge: gauge}
}

// dayOf is the UTC day t falls in.
func dayOf(t time.Time) int64 { return t.UTC().Truncate(24 * time.Hour).Unix() }

// due says whether a day's counts go to the counters at now.
func (p *periodCounters) due(day int64, now time.Time) bool {
	return !now.Before(time.Unix(day, 0).Add(24*time.Hour + p.settle))
}

// Add counts v for the series of metric with labels, in the day of begin.
func (p *periodCounters) Add(metric string, begin, now time.Time, v float64, labels ...string) {
	day := dayOf(begin)
	if p.due(day, now) {
		p.vecs[metric].WithLabelValues(labels...).Add(v)
		return
	}
	m := p.pending[day]
	if m == nil {
		m = map[string]float64{}
		p.pending[day] = m
	}
	m[metric+labelSep+strings.Join(labels, labelSep)] += v
}

// Release adds every due day's counts to the counters.
func (p *periodCounters) Release(now time.Time) {
	days := make([]int64, 0, len(p.pending))
	for d := range p.pending {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, day := range days {
		if !p.due(day, now) {
			break
		}
		for key, v := range p.pending[day] {
			metric, labels, _ := strings.Cut(key, labelSep)
			vec, ok := p.vecs[metric]
			if !ok {
				continue // a metric of an older version
			}
			lv := strings.Split(labels, labelSep)
			if c, err := vec.GetMetricWithLabelValues(lv...); err == nil {
				c.Add(v)
			}
		}
		delete(p.pending, day)
		p.released = max(p.released, day)
	}
	// The newest day whose counts are complete, even if no report came.
	last := dayOf(now.Add(-24*time.Hour - p.settle))
	p.released = max(p.released, last)
	p.gauge.Set(float64(p.released))
}

type pendingState struct {
	Pending map[int64]map[string]float64 `json:"pending"`
}

// Load reads the pending counts saved by a previous run.
func (p *periodCounters) Load() error {
	data, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pending counts: %w", err)
	}
	var f pendingState
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("pending counts %s: %w", p.path, err)
	}
	for day, m := range f.Pending {
		if p.pending[day] == nil {
			p.pending[day] = map[string]float64{}
		}
		for k, v := range m {
			p.pending[day][k] += v
		}
	}
	return nil
}

// Save writes the pending counts.
func (p *periodCounters) Save() error {
	data, err := json.Marshal(pendingState{Pending: p.pending})
	if err != nil {
		return err
	}
	return atomicfile.Write(p.path, data)
}
