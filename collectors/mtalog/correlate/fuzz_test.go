package correlate

import (
	"bufio"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/postfix"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// fuzzKinds are the kinds a fuzzed op can carry: every kind the correlator
// treats specially, and two it only notes the time of.
var fuzzKinds = []event.Kind{
	event.KindClient, event.KindPickup, event.KindMessageID, event.KindQueued, event.KindDelivery,
	event.KindReject, event.KindContentAction, event.KindExpired, event.KindNotification, event.KindRemoved,
	event.KindTLS, event.KindInfo,
}

// fuzzIDs are few, so random ops hit the same message often; "" is a line
// of no message, which must change nothing.
var fuzzIDs = []string{"", "A1", "B2", "C3", "D4", "E5", "F6", "0A7", "0B8"}

var fuzzStatuses = []event.Status{event.StatusSent, event.StatusDeferred, event.StatusBounced, event.StatusExpired}

// decodeOps turns fuzz bytes into a table config and an event sequence:
// two bytes of config, then four per event (kind, queue ID, time step,
// status/size). Time never goes back, as in one Postfix's log; steps reach
// an hour so the TTL is crossed.
func decodeOps(data []byte) (Config, []*event.Event) {
	cfg := Config{MaxMessages: 1, TTL: time.Hour, MaxAttempts: 1}
	if len(data) >= 2 {
		cfg.MaxMessages = 1 + int(data[0]%8)
		cfg.MaxAttempts = 1 + int(data[1]%4)
		data = data[2:]
	}
	now := t0
	var evs []*event.Event
	for ; len(data) >= 4; data = data[4:] {
		now = now.Add(time.Duration(data[2]) * 15 * time.Second)
		e := &event.Event{
			Kind:    fuzzKinds[int(data[0])%len(fuzzKinds)],
			QueueID: []byte(fuzzIDs[int(data[1])%len(fuzzIDs)]),
			Time:    now,
			Daemon:  event.DaemonQmgr,
			Status:  fuzzStatuses[int(data[3])%len(fuzzStatuses)],
			Size:    int64(data[3]) * 100,
			Nrcpt:   1,
			Origin:  event.OriginSMTP,
		}
		if e.Kind == event.KindDelivery {
			e.Daemon = event.DaemonSmtp
			e.Relay = []byte("mx.example")
		}
		evs = append(evs, e)
	}
	return cfg, evs
}

// startKinds are the kinds that open a message not yet held; any other
// kind with a queue ID only touches a held one.
var startKinds = map[event.Kind]bool{
	event.KindClient: true, event.KindPickup: true, event.KindMessageID: true, event.KindQueued: true,
	event.KindDelivery: true, event.KindReject: true, event.KindContentAction: true, event.KindExpired: true,
	event.KindNotification: true,
}

// shadow is the test's own record of a message the table should hold.
type shadow struct {
	seq        int // order of first sight: evictions take the lowest
	first      time.Time
	size       int64
	queued     bool
	expired    bool
	deliveries int
	rejects    int
}

// checkSequence feeds evs to a correlator and checks its contract against
// a simple model after every event: the table never holds more than
// MaxMessages; every message ends exactly once (done is called once per
// first sight, never for a message not held); evictions take the oldest;
// nothing first seen more than TTL ago is still held; a message is
// received (FirstQueued) once per life; the record handed to done matches
// what was observed; and at the end the eviction counters add up to the
// messages seen.
func checkSequence(t *testing.T, cfg Config, evs []*event.Event) {
	t.Helper()
	live := map[string]*shadow{}
	var starts, seq int
	var ends [4]uint64
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format, args...)
	}
	c := New(cfg, func(m *Message) {
		s, ok := live[m.QueueID()]
		if !ok {
			fail("done for %q, which is not held (ended twice, or never seen)", m.QueueID())
		}
		if m.End != EndRemoved && m.End != EndFlush {
			for id, o := range live {
				if o.seq < s.seq {
					fail("%s eviction of %q (seen #%d) while %q (seen #%d) is older", m.End, m.QueueID(), s.seq, id, o.seq)
				}
			}
		}
		if !m.FirstSeen.Equal(s.first) || m.Queued != s.queued || m.Expired != s.expired || m.Size != s.size {
			fail("record of %q: first %v queued %v expired %v size %d; observed first %v queued %v expired %v size %d",
				m.QueueID(), m.FirstSeen, m.Queued, m.Expired, m.Size, s.first, s.queued, s.expired, s.size)
		}
		if m.AttemptCount != s.deliveries || len(m.Attempts) != min(s.deliveries, cfg.MaxAttempts) || len(m.Rejects) != min(s.rejects, cfg.MaxAttempts) {
			fail("record of %q: %d attempts (%d kept), %d rejects; observed %d deliveries, %d rejects, max %d",
				m.QueueID(), m.AttemptCount, len(m.Attempts), len(m.Rejects), s.deliveries, s.rejects, cfg.MaxAttempts)
		}
		if !slices.Contains(Outcomes, m.Outcome()) {
			fail("outcome %q of %q not in the closed set", m.Outcome(), m.QueueID())
		}
		if m.LastSeen.Before(m.FirstSeen) {
			fail("%q last seen %v before first seen %v", m.QueueID(), m.LastSeen, m.FirstSeen)
		}
		ends[m.End]++
		delete(live, m.QueueID())
	})
	for i, e := range evs {
		id := string(e.QueueID)
		obs := c.Observe(e, "other", mailclass.ReasonOther)
		if id == "" {
			if obs != (Observation{}) {
				fail("event %d without a queue ID observed %+v", i, obs)
			}
		} else {
			switch e.Kind {
			case event.KindRemoved:
				if _, ok := live[id]; ok {
					fail("event %d: %q still held after removed", i, id)
				}
			default:
				if !startKinds[e.Kind] {
					break
				}
				s, ok := live[id]
				if !ok {
					seq++
					starts++
					s = &shadow{seq: seq, first: e.Time}
					live[id] = s
				}
				wantFirst := e.Kind == event.KindQueued && !s.queued
				if obs.FirstQueued != wantFirst {
					fail("event %d (%s %q): FirstQueued %v, want %v", i, e.Kind, id, obs.FirstQueued, wantFirst)
				}
				switch e.Kind {
				case event.KindQueued:
					if !s.queued {
						s.queued, s.size = true, e.Size
					}
				case event.KindDelivery:
					s.deliveries++
				case event.KindReject, event.KindContentAction:
					s.rejects++
				case event.KindExpired:
					s.expired = true
				}
			}
		}
		if c.Len() > cfg.MaxMessages {
			fail("event %d: %d held, cap %d", i, c.Len(), cfg.MaxMessages)
		}
		if c.Len() != len(live) {
			fail("event %d: %d held, the model holds %d", i, c.Len(), len(live))
		}
		// Only an event of a message moves the table's clock.
		if id != "" {
			limit := e.Time.Add(-cfg.TTL)
			for lid, s := range live {
				if s.first.Before(limit) {
					fail("event %d at %v: %q first seen %v is past the TTL and still held", i, e.Time, lid, s.first)
				}
			}
		}
	}
	c.Flush()
	if c.Len() != 0 || len(live) != 0 {
		fail("after Flush: %d held, %d in the model", c.Len(), len(live))
	}
	var total uint64
	for e := EndRemoved; e <= EndFlush; e++ {
		if c.Evictions(e) != ends[e] {
			fail("Evictions(%s) = %d, done saw %d", e, c.Evictions(e), ends[e])
		}
		total += ends[e]
	}
	if total != uint64(starts) {
		fail("%d messages ended, %d first seen", total, starts)
	}
}

// FuzzCorrelator runs random event sequences through a small table (cap 1
// to 8, TTL 1 h) and checks the contract (checkSequence). CI runs only the
// seeds; `go test -fuzz FuzzCorrelator ./collectors/mtalog/correlate/`
// searches further.
func FuzzCorrelator(f *testing.F) {
	op := func(kind event.Kind, id int, step, status byte) []byte {
		return []byte{byte(slices.Index(fuzzKinds, kind)), byte(id), step, status}
	}
	seq := func(cap, attempts byte, ops ...[]byte) []byte {
		return append([]byte{cap, attempts}, slices.Concat(ops...)...)
	}
	// One message's whole life: client, queued twice (a retry), deferred,
	// sent, removed.
	f.Add(seq(7, 3,
		op(event.KindClient, 1, 0, 0), op(event.KindQueued, 1, 1, 5), op(event.KindQueued, 1, 1, 6),
		op(event.KindDelivery, 1, 1, 1), op(event.KindDelivery, 1, 20, 0), op(event.KindRemoved, 1, 0, 0)))
	// More queue IDs than the cap of 2: capacity evictions, oldest first.
	f.Add(seq(1, 0,
		op(event.KindQueued, 1, 1, 0), op(event.KindQueued, 2, 1, 0), op(event.KindQueued, 3, 1, 0),
		op(event.KindQueued, 4, 1, 0), op(event.KindDelivery, 1, 1, 0), op(event.KindRemoved, 3, 1, 0)))
	// Steps of an hour: TTL evictions, and a queue ID seen again after its
	// first life ended (a new message, received again).
	f.Add(seq(7, 0,
		op(event.KindPickup, 1, 0, 0), op(event.KindQueued, 1, 0, 0), op(event.KindQueued, 2, 200, 0),
		op(event.KindInfo, 2, 200, 0), op(event.KindQueued, 1, 1, 0), op(event.KindExpired, 1, 1, 0), op(event.KindRemoved, 1, 1, 0),
		// 60 min 15 s later: just past the TTL, so the boundary is exact.
		op(event.KindQueued, 3, 0, 0), op(event.KindQueued, 4, 241, 0)))
	// More attempts and rejects than MaxAttempts keeps; lines without a
	// queue ID; a removal of a message never seen.
	f.Add(seq(3, 0,
		op(event.KindReject, 5, 0, 0), op(event.KindContentAction, 5, 0, 0), op(event.KindDelivery, 5, 0, 1),
		op(event.KindDelivery, 5, 0, 2), op(event.KindDelivery, 0, 0, 0), op(event.KindRemoved, 6, 0, 0),
		op(event.KindNotification, 5, 0, 0), op(event.KindMessageID, 5, 0, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, evs := decodeOps(data)
		checkSequence(t, cfg, evs)
	})
}

// TestCorrelatorContractOnRealCorpus runs the real-Postfix corpus (a real
// Postfix's log: retries, expiries, bounce notices, rejects) through the
// same checks, with a cap small enough that capacity evictions happen, and
// with the default cap.
func TestCorrelatorContractOnRealCorpus(t *testing.T) {
	f, err := os.Open("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		e := &event.Event{}
		// The event's byte slices point into the line: keep a copy.
		if postfix.ParseLine(append([]byte(nil), sc.Bytes()...), e) {
			evs = append(evs, e)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(evs) < 1000 {
		t.Fatalf("only %d events parsed from the corpus", len(evs))
	}
	for _, cap := range []int{5, DefaultConfig().MaxMessages} {
		cfg := DefaultConfig()
		cfg.MaxMessages, cfg.MaxAttempts = cap, 2
		checkSequence(t, cfg, evs)
	}
}
