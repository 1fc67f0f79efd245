package pipeline

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/correlate"
	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestSeriesLookupMatchesMap looks up 200,000 random keys of every family
// (300 provider names, more than the slots; families whose keys share
// their small integers) in the store and in a plain map keyed by family
// and label values: the same series for the same labels, a new one for
// new labels, with its family's label values, and no series in a family
// it was not made for.
func TestSeriesLookupMatchesMap(t *testing.T) {
	m := newTestMetrics()
	providers := make([]string, 300)
	for i := range providers {
		providers[i] = fmt.Sprintf("provider%d", i)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	small := func() uint8 { return uint8(rng.IntN(6)) }
	status := func() event.Status { return event.Status(rng.IntN(4)) }
	keys := []func() seriesKey{
		func() seriesKey {
			return m.deliveryKey(event.Daemon(small()), status(), provider(m, rng, providers))
		},
		func() seriesKey { return m.delayKey(status(), provider(m, rng, providers)) },
		func() seriesKey {
			return m.failureKey(status(), mailclass.Reason(small()), provider(m, rng, providers))
		},
		func() seriesKey {
			return m.bounceKey(mailclass.DSN{Class: uint8(4 + rng.IntN(2))}, provider(m, rng, providers))
		},
		func() seriesKey { return m.rejectKey(mailclass.Reason(small())) },
		func() seriesKey {
			return m.rejectStageKey(event.Daemon(small()), event.Action(small()), event.Stage(small()))
		},
		func() seriesKey { return m.authMechanismKey(event.SASLMechanism(small())) },
		func() seriesKey { return m.tlsKey(event.Direction(small()%3), event.TLSProtocol(small())) },
		func() seriesKey { return m.postscreenKey(event.PostscreenResult(small())) },
		func() seriesKey { return m.dropKey(event.KindLostConnection, event.Stage(small())) },
		func() seriesKey { return m.diagnosticKey(event.Daemon(small()), event.Severity(small()%4)) },
		func() seriesKey { return m.contentActionKey(event.Action(small())) },
		func() seriesKey { return m.notificationKey(status()) },
		func() seriesKey { return m.verificationKey(status()) },
		func() seriesKey { return m.queueTimeKey(correlate.Outcomes[rng.IntN(len(correlate.Outcomes))]) },
		func() seriesKey { return m.endedKey(correlate.End(rng.IntN(4))) },
	}
	ref := map[string]*cell{}
	owner := map[*cell]*family{}
	for range 200_000 {
		k := keys[rng.IntN(len(keys))]()
		fam := m.store.families[k.family()]
		labels := fam.labels(k)
		id := fam.desc.String() + "|" + strings.Join(labels, "|")
		c := m.store.cell(k)
		want, seen := ref[id]
		switch {
		case seen && c != want:
			t.Fatalf("%s: another series than the first lookup's", id)
		case !seen && owner[c] != nil:
			t.Fatalf("%s: a new label set got an existing series %v", id, c.labels)
		case !slices.Equal(c.labels, labels):
			t.Fatalf("%s: series labelled %v", id, c.labels)
		}
		ref[id], owner[c] = c, fam
		if owner[c] != fam || !slices.Contains(fam.cells, c) {
			t.Fatalf("%s: series not in its family", id)
		}
	}
	n := 0
	for _, f := range m.store.families {
		if f.labels != nil {
			n += len(f.cells)
		}
	}
	if n != len(ref) {
		t.Errorf("%d series made for %d label sets", n, len(ref))
	}
}

// newTestMetrics returns metrics with a store of their own, registered
// nowhere.
func newTestMetrics() *metrics {
	zero := func() float64 { return 0 }
	return newMetrics(&sync.Mutex{}, "postfix", zero, zero)
}

// provider picks a provider name and returns its labelID.
func provider(m *metrics, rng *rand.Rand, names []string) uint32 {
	return m.store.labelID(names[rng.IntN(len(names))])
}
