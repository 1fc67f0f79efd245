package pipeline

import "github.com/prometheus/client_golang/prometheus"

// store holds the series of the pipeline's cell families: plain integers
// and sums the pipeline adds to under its own lock, found by a packed
// integer key (see seriesKey) through a small direct-mapped table
// in front of a map. It is not safe for concurrent use.
type store struct {
	cells map[seriesKey]*cell
	slots [1 << cellSlotBits]cellSlot
	// labels numbers the string label values of keys (see labelID);
	// lastLabel is the last one looked up, as local deliveries come in
	// runs ("local" has no provider-cache slot to carry its ID).
	labels map[string]uint32
	// labelNames are the label values by labelID-1.
	labelNames  []string
	lastLabel   string
	lastLabelID uint32
	// families are every family, in the order they are exposed; a
	// family's id is its index.
	families []*family
}

func newStore() *store {
	s := &store{cells: map[seriesKey]*cell{}, labels: map[string]uint32{}}
	for i := range s.slots {
		s.slots[i].k = noSeries
	}
	return s
}

// family is one metric family of cells.
type family struct {
	id   uint8
	desc *prometheus.Desc
	// buckets are a histogram's upper bounds; nil for a counter.
	buckets []float64
	// labels gives the label values of a key's series, on its first use;
	// it reads the fields the family's key constructor fills.
	labels func(seriesKey) []string
	cells  []*cell
}

// cell is one series: a counter's value, or a histogram's count, sum and
// per-bucket counts (the last for +Inf).
type cell struct {
	labels  []string
	n       uint64
	sum     float64
	buckets []uint64
}

// family adds a family of cells; the order of the calls is the order of
// exposition.
func (s *store) family(desc *prometheus.Desc, buckets []float64, labels func(seriesKey) []string) *family {
	if len(s.families) >= int(noSeries.family()) {
		panic("pipeline: too many metric families for a seriesKey")
	}
	f := &family{id: uint8(len(s.families)), desc: desc, buckets: buckets, labels: labels}
	s.families = append(s.families, f)
	return f
}

// single adds a family of one series without labels and returns it.
func (s *store) single(desc *prometheus.Desc, buckets []float64) *cell {
	return s.family(desc, buckets, nil).newCell(nil)
}

func (f *family) newCell(labels []string) *cell {
	c := &cell{labels: labels}
	if f.buckets != nil {
		c.buckets = make([]uint64, len(f.buckets)+1)
	}
	f.cells = append(f.cells, c)
	return c
}

// observe adds a histogram observation: bucket i counts values up to
// bounds[i], as client_golang's histograms do.
func (c *cell) observe(v float64, bounds []float64) {
	c.n++
	c.sum += v
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	c.buckets[i]++
}

// seriesKey identifies a series of a family by small integers packed in
// one word, so the hot path finds it without building label strings and
// a map keyed by it hashes 8 bytes (a key holding the string would hash
// the string on every lookup): the family's id in the low byte, three
// small enum values above it, and a bounded string label (provider,
// outcome) as its labelID in the high 32 bits. Keys are made only by the
// family's constructor (metrics.deliveryKey, ...), which fills the fields
// its labels function reads: the family travels in the key, so a key
// cannot be looked up in another family.
type seriesKey uint64

// newSeriesKey packs a key of family f; labelID is a string label's
// store.labelID, 0 for none.
func newSeriesKey(f *family, a, b, c uint8, labelID uint32) seriesKey {
	return seriesKey(uint64(f.id) | uint64(a)<<8 | uint64(b)<<16 | uint64(c)<<24 | uint64(labelID)<<32)
}

// noSeries is the key of an empty slot: no family has the id 255 (a
// family's id is a byte, and there are far fewer).
const noSeries = ^seriesKey(0)

func (k seriesKey) family() uint8   { return uint8(k) }
func (k seriesKey) a() uint8        { return uint8(k >> 8) }
func (k seriesKey) b() uint8        { return uint8(k >> 16) }
func (k seriesKey) c() uint8        { return uint8(k >> 24) }
func (k seriesKey) labelID() uint32 { return uint32(k >> 32) }

// labelID is a label value's index in s.labels, given on first sight
// (from 1).
func (s *store) labelID(v string) uint32 {
	if v == s.lastLabel {
		return s.lastLabelID
	}
	id, ok := s.labels[v]
	if !ok {
		id = uint32(len(s.labels)) + 1
		s.labels[v] = id
		s.labelNames = append(s.labelNames, v)
	}
	s.lastLabel, s.lastLabelID = v, id
	return id
}

// label is the string label of a key, "" for none.
func (s *store) label(k seriesKey) string {
	if id := k.labelID(); id > 0 {
		return s.labelNames[id-1]
	}
	return ""
}

// cell returns the key's series, made on first use with its family's
// label values for it. The most recent cells are found by a hash of the
// key in front of the map (see slotOf); this part is small enough for the
// compiler to inline, so a hit costs no call. An empty slot holds
// noSeries, which matches no key, so a hit needs no check for an empty
// slot.
func (s *store) cell(k seriesKey) *cell {
	if slot := s.slots[k*fibonacci>>(64-cellSlotBits)]; slot.k == k {
		return slot.c
	}
	return s.fill(k)
}

// fill puts the key's series in slot, from the map or made.
func (s *store) fill(k seriesKey) *cell {
	slot := &s.slots[slotOf(uint64(k), cellSlotBits)]
	c, ok := s.cells[k]
	if !ok {
		f := s.families[k.family()]
		c = f.newCell(f.labels(k))
		s.cells[k] = c
	}
	slot.k, slot.c = k, c
	return c
}

// The cells last used, by a hash of their packed key: a hit costs a
// multiply and a compare where the map hashed the key and probed a
// group. A collision only sends the lookup to the map.
const cellSlotBits = 8

type cellSlot struct {
	k seriesKey
	c *cell
}

// fibonacci is 2^64 over the golden ratio, the multiplier of Fibonacci
// hashing.
const fibonacci = 0x9E3779B97F4A7C15

// slotOf is a Fibonacci hash of a packed key to bits bits.
func slotOf(k uint64, bits uint) uint64 {
	return (k * fibonacci) >> (64 - bits)
}

// collect appends every cell's value as a constant metric.
func (s *store) collect(out []prometheus.Metric) []prometheus.Metric {
	for _, f := range s.families {
		for _, c := range f.cells {
			if f.buckets == nil {
				out = append(out, prometheus.MustNewConstMetric(f.desc, prometheus.CounterValue, float64(c.n), c.labels...))
				continue
			}
			cum := make(map[float64]uint64, len(f.buckets))
			var n uint64
			for i, b := range f.buckets {
				n += c.buckets[i]
				cum[b] = n
			}
			out = append(out, prometheus.MustNewConstHistogram(f.desc, c.n, c.sum, cum, c.labels...))
		}
	}
	return out
}
