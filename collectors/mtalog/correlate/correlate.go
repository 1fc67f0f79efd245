// Package correlate joins an MTA's log events into messages by queue ID:
// smtpd or pickup first sees a message, cleanup and qmgr describe it, each
// delivery agent line is an attempt, qmgr's "removed" ends it. The table is
// bounded: at most Config.MaxMessages messages, and none older than
// Config.TTL (which must cover Postfix's maximal_queue_lifetime, so a
// deferred message is not forgotten while Postfix still retries it). The
// oldest message goes first when the table is full; every eviction is
// counted by reason. Time is the log's time, never the wall clock, so a
// replay of old logs behaves as the live run did.
package correlate

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/traceid"
)

// Config bounds the table.
type Config struct {
	// MaxMessages is the most messages held at once.
	MaxMessages int `yaml:"max_messages"`
	// TTL is how long after first sight a message that never completes is
	// dropped; at least Postfix's maximal_queue_lifetime (5 days by default).
	TTL time.Duration `yaml:"ttl"`
	// MaxAttempts is how many delivery attempts a message keeps in detail;
	// later ones are only counted.
	MaxAttempts int `yaml:"max_attempts"`
}

// DefaultConfig holds 100,000 messages for up to 6 days (maximal_queue_lifetime
// plus a day for bounce notices), with 32 attempts each.
func DefaultConfig() Config {
	return Config{MaxMessages: 100_000, TTL: 6 * 24 * time.Hour, MaxAttempts: 32}
}

// Validate returns every problem, with key paths relative to the
// `correlator:` section. It changes nothing.
func (c Config) Validate() error {
	var ps config.Problems
	if c.MaxMessages < 1 {
		ps.Addf("max_messages", "must be at least 1, got %d", c.MaxMessages)
	}
	if c.TTL < time.Hour {
		ps.Addf("ttl", "must be at least 1h (and should cover maximal_queue_lifetime), got %s", c.TTL)
	}
	if c.MaxAttempts < 1 {
		ps.Addf("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	return ps.Err()
}

// End says why a message left the table.
type End uint8

// Ends. Only EndRemoved is a completed message; the others are evictions.
const (
	EndRemoved  End = iota // qmgr or postsuper removed it
	EndCapacity            // the table was full and it was the oldest
	EndTTL                 // older than Config.TTL
	EndFlush               // the caller flushed the table (end of a replay)
)

func (e End) String() string {
	switch e {
	case EndRemoved:
		return "removed"
	case EndCapacity:
		return "capacity"
	case EndTTL:
		return "ttl"
	}
	return "flush"
}

// Attempt is one delivery attempt of one recipient.
type Attempt struct {
	Time      time.Time
	Transport event.Daemon
	Status    event.Status
	DSN       mailclass.DSN
	Reason    mailclass.Reason
	// Relay is the next hop's host name; Provider its group.
	Relay    string
	Provider string
	Delay    float64
	// Delays are the four stages of delays=. A correlator that names
	// traces keeps the text instead (delaysText), parsed only for a
	// message that is traced or saved (resolveDelays).
	Delays     [4]float64
	delaysText [maxDelaysText]byte
	delaysLen  uint8
}

// maxDelaysText is the longest delays= text kept unparsed; Postfix's are
// under 30 bytes ("1234.5/0.01/12/3456.7").
const maxDelaysText = 32

// resolveDelays parses the kept delays= text into Delays.
func (a *Attempt) resolveDelays(parse func([]byte) [4]float64) {
	if a.delaysLen > 0 && parse != nil {
		a.Delays = parse(a.delaysText[:a.delaysLen])
		a.delaysLen = 0
	}
}

// Reject is a reject, hold or discard of a message that already had a
// queue ID (smtpd after MAIL FROM, cleanup header/body checks, milters).
type Reject struct {
	Time   time.Time
	Daemon event.Daemon
	Action event.Action
	DSN    mailclass.DSN
	Reason mailclass.Reason
}

// Message is what the log said about one queue ID.
type Message struct {
	// The queue ID is kept in the message (id; idLong for one longer than
	// Postfix writes), so a new message does not allocate a string: see
	// QueueID.
	id        [shortQueueID]byte
	idLen     uint8
	idLong    string
	FirstSeen time.Time
	LastSeen  time.Time
	Origin    event.Origin
	Size      int64
	Nrcpt     int
	// Attempts holds the first Config.MaxAttempts attempts; AttemptCount
	// counts them all.
	Attempts     []Attempt
	AttemptCount int
	Rejects      []Reject
	// Expired is set when the MTA gave up: Postfix's qmgr status=expired,
	// Exim's "retry timeout exceeded" for a recipient.
	Expired bool
	// Held is set when the message was put aside for an administrator:
	// Postfix's hold queue, Exim's frozen messages.
	Held bool
	// Parent is the queue ID of the message this one is a bounce of, when
	// the MTA logs it (Exim's R= on a bounce's arrival); "" otherwise.
	Parent string
	// Queued is set once qmgr has logged the message's size.
	Queued bool
	End    End
	// MessageIDHash is mailclass.HashMessageID of cleanup's message-id (0 if none):
	// enough to match a known message, without keeping the header.
	MessageIDHash uint64
	// The Message-ID is kept (when the correlator names traces) for the
	// trace id, which is hashed from it only if the message is traced,
	// on the tracer's goroutine (see TraceID): inline up to
	// inlineMessageID bytes, longer ones in msgIDLong. A message restored
	// from a saved state has its trace id instead.
	msgID     [inlineMessageID]byte
	msgIDLen  uint8
	msgIDLong string
	traceID   trace.TraceID

	prev, next *Message
	// hash is the queue ID's hash in the correlator's table.
	hash uint64
}

// inlineMessageID is the longest Message-ID a message holds without a
// string: Postfix's own and most clients' fit.
const inlineMessageID = 64

// setMessageID keeps id for TraceID.
func (m *Message) setMessageID(id []byte) {
	m.msgIDLong, m.msgIDLen = "", 0
	if len(id) > inlineMessageID {
		m.msgIDLong = string(id)
		return
	}
	m.msgIDLen = uint8(copy(m.msgID[:], id))
}

// TraceID is the id of the message's trace (internal/traceid): from its
// Message-ID, or from its queue ID and first sight without one.
func (m *Message) TraceID() trace.TraceID {
	if m.traceID.IsValid() {
		return m.traceID
	}
	id := m.msgID[:m.msgIDLen]
	if m.msgIDLong != "" {
		id = []byte(m.msgIDLong)
	}
	if tid, ok := traceid.FromMessageID(id); ok {
		return tid
	}
	return traceid.FromQueueID(m.queueID(), m.FirstSeen.Unix())
}

// shortQueueID is the longest queue ID a message holds without a string:
// Postfix's long IDs (enable_long_queue_ids) are up to 20 characters.
const shortQueueID = 20

// QueueID returns the message's queue ID (a new string each call).
func (m *Message) QueueID() string {
	if m.idLong != "" {
		return m.idLong
	}
	return string(m.id[:m.idLen])
}

// queueID is the queue ID's bytes, without a copy.
func (m *Message) queueID() []byte {
	if m.idLong != "" {
		return []byte(m.idLong)
	}
	return m.id[:m.idLen]
}

// setQueueID sets the queue ID; only IDs longer than shortQueueID
// allocate.
func (m *Message) setQueueID(id []byte) {
	m.idLong = ""
	if len(id) > shortQueueID {
		m.idLong, m.idLen = string(id), 0
		return
	}
	m.idLen = uint8(copy(m.id[:], id))
}

// Outcome summarises the final state: "delivered" (every attempt's last
// word was sent), "bounced", "expired", "deferred" (still deferred when it
// left the table), "rejected" (a reject and no delivery), "mixed" (some
// recipients sent, some bounced), or "unknown" (no attempt seen).
func (m *Message) Outcome() string { return Outcomes[m.OutcomeIndex()] }

// OutcomeIndex is Outcome's index in Outcomes.
func (m *Message) OutcomeIndex() int {
	if m.Expired {
		return outcomeExpired
	}
	var sent, bounced, deferred bool
	for i := range m.Attempts {
		switch m.Attempts[i].Status {
		case event.StatusSent:
			sent = true
		case event.StatusBounced:
			bounced = true
		case event.StatusDeferred:
			deferred = true
		}
	}
	if len(m.Attempts) > 0 {
		// The last attempt decides between deferred and a final status.
		switch last := m.Attempts[len(m.Attempts)-1].Status; {
		case sent && bounced:
			return outcomeMixed
		case last == event.StatusBounced:
			return outcomeBounced
		case last == event.StatusSent:
			return outcomeDelivered
		case deferred:
			return outcomeDeferred
		}
	}
	if len(m.Rejects) > 0 {
		return outcomeRejected
	}
	return outcomeUnknown
}

// Indexes in Outcomes.
const (
	outcomeDelivered = iota
	outcomeBounced
	outcomeExpired
	outcomeDeferred
	outcomeRejected
	outcomeMixed
	outcomeUnknown
)

// Outcomes is the closed set of Outcome values.
var Outcomes = []string{"delivered", "bounced", "expired", "deferred", "rejected", "mixed", "unknown"}

// Failed reports whether any attempt was deferred, bounced or expired or a
// reject hit the message: such messages are always traced.
func (m *Message) Failed() bool {
	if m.Expired || len(m.Rejects) > 0 {
		return true
	}
	for i := range m.Attempts {
		if m.Attempts[i].Status != event.StatusSent {
			return true
		}
	}
	return false
}

// Correlator holds the table. It is not safe for concurrent use; the
// pipeline serialises calls.
type Correlator struct {
	cfg  Config
	byID idTable
	// head is the oldest message (first seen first), tail the newest.
	head, tail *Message
	done       func(*Message)
	evictions  [4]uint64
	// relays interns relay names (see intern); recentRelays are the
	// ones last used, in front of it.
	relays       map[string]string
	recentRelays [1 << recentRelayBits]string
	// traceIDs is set by NameTraces, with the delays= parser.
	traceIDs    bool
	parseDelays func([]byte) [4]float64
	// deadline is when the oldest message expires (its FirstSeen plus
	// TTL), computed for deadlineOf, the head at the time: see expire.
	deadline   wallDeadline
	deadlineOf *Message
	// latest, when set, is the latest event time believed (LimitTime).
	latest time.Time
	// clamped counts events whose time was past latest.
	clamped uint64
	// free holds messages that left the table, for reuse with their
	// attempt slices: done must not keep a message, so a new one need
	// not be allocated for each queue ID.
	free []*Message
}

// maxFree bounds the free list; a burst of completions beyond it is left
// to the garbage collector.
const maxFree = 1024

// New returns a correlator that calls done for every message that leaves
// the table (completed or evicted); done must not keep the message, which
// is reused for a later queue ID once done returns.
func New(cfg Config, done func(*Message)) *Correlator {
	return &Correlator{cfg: cfg, byID: newIDTable(), done: done, relays: make(map[string]string)}
}

// NameTraces makes Observe keep what a message's trace needs: its
// Message-ID, so the trace is named after it (Message.TraceID), and each
// attempt's delays= text, which parseDelays reads only for a message that
// is traced (Emitter) or saved. A pipeline that traces calls it.
func (c *Correlator) NameTraces(parseDelays func([]byte) [4]float64) {
	c.traceIDs, c.parseDelays = true, parseDelays
}

// Len is the number of messages held.
func (c *Correlator) Len() int { return c.byID.n }

// Evictions returns how many messages left the table for reason e.
func (c *Correlator) Evictions(e End) uint64 { return c.evictions[e] }

// LimitTime sets the latest event time the correlator believes: an event
// dated after it (a forged line from 2099) is taken as dated at it, so
// one line cannot move the table's clock ahead and expire every message
// in flight. The zero time lifts the limit (replays of old logs need
// none, being in the past).
func (c *Correlator) LimitTime(latest time.Time) { c.latest = latest }

// Clamped returns how many events were dated past the limit.
func (c *Correlator) Clamped() uint64 { return c.clamped }

// Observation is what the correlator adds to one event for the metrics.
type Observation struct {
	// FirstQueued is set on the first qmgr size line of a message, so a
	// message retried N times is received once.
	FirstQueued bool
	// Provider is the last attempt's provider, for the lines that name
	// no recipient: set on qmgr's expired line only.
	Provider string
}

// Observe adds one event. provider and reason are the classifications of
// ev the pipeline already made.
func (c *Correlator) Observe(ev *event.Event, provider string, reason mailclass.Reason) Observation {
	var obs Observation
	if len(ev.QueueID) == 0 {
		return obs
	}
	if !c.latest.IsZero() && ev.Time.After(c.latest) {
		ev.Time = c.latest
		c.clamped++
	}
	c.expire(ev.Time)
	m := c.byID.get(ev.QueueID)
	switch ev.Kind {
	case event.KindClient, event.KindPickup, event.KindMessageID, event.KindQueued, event.KindDelivery,
		event.KindReject, event.KindContentAction, event.KindExpired, event.KindNotification:
		if m == nil {
			m = c.insert(ev)
		}
	case event.KindRemoved:
		if m != nil {
			m.LastSeen = ev.Time
			c.remove(m, EndRemoved)
		}
		return obs
	default:
		if m != nil {
			m.LastSeen = ev.Time
		}
		return obs
	}
	if !ev.Time.IsZero() {
		m.LastSeen = ev.Time
	}
	switch ev.Kind {
	case event.KindMessageID:
		m.MessageIDHash = mailclass.HashMessageID(ev.MessageID)
		if c.traceIDs {
			m.setMessageID(ev.MessageID)
		}
	case event.KindClient, event.KindPickup:
		m.Origin = ev.Origin
	case event.KindQueued:
		if !m.Queued {
			m.Queued = true
			obs.FirstQueued = true
			m.Size = ev.Size
			m.Nrcpt = int(ev.Nrcpt)
			if len(ev.ParentID) > 0 {
				m.Parent = string(ev.ParentID)
			}
			switch {
			case m.Origin != event.OriginNone:
			case ev.Origin != event.OriginNone:
				// Exim's arrival line says how the message came.
				m.Origin = ev.Origin
			default:
				// No smtpd or pickup line: Postfix made it (bounce,
				// delay notice, forward).
				m.Origin = event.OriginLocal
			}
			if len(ev.MessageID) > 0 {
				m.MessageIDHash = mailclass.HashMessageID(ev.MessageID)
			}
		}
	case event.KindDelivery:
		m.AttemptCount++
		if ev.Status == event.StatusExpired {
			m.Expired = true
		}
		if len(m.Attempts) < c.cfg.MaxAttempts {
			m.Attempts = append(m.Attempts, Attempt{
				Time: ev.Time, Transport: ev.Daemon, Status: ev.Status, DSN: ev.DSN, Reason: reason,
				Relay: c.intern(ev.Relay), Provider: provider, Delay: ev.Delay, Delays: ev.Delays,
			})
			if c.parseDelays != nil {
				a := &m.Attempts[len(m.Attempts)-1]
				if len(ev.DelaysText) <= maxDelaysText {
					a.delaysLen = uint8(copy(a.delaysText[:], ev.DelaysText))
				} else {
					a.Delays = c.parseDelays(ev.DelaysText)
				}
			}
		}
	case event.KindReject, event.KindContentAction:
		if ev.Action == event.ActionHold {
			m.Held = true
		}
		if len(m.Rejects) < c.cfg.MaxAttempts {
			m.Rejects = append(m.Rejects, Reject{Time: ev.Time, Daemon: ev.Daemon, Action: ev.Action, DSN: ev.DSN, Reason: reason})
		}
	case event.KindExpired:
		m.Expired = true
		if n := len(m.Attempts); n > 0 {
			obs.Provider = m.Attempts[n-1].Provider
		}
	}
	return obs
}

// intern returns a shared string for a relay host name, so a busy relay
// costs one allocation, not one per attempt. The cache is bounded.
func (c *Correlator) intern(b []byte) string {
	if len(b) == 0 {
		// A local delivery names no relay (all of Exim's local ones).
		return ""
	}
	// A server delivers to a few relays over and over: a small table of
	// the recent ones, found by the name's length and last bytes, answers
	// with one compare where the map hashes the whole name.
	slot := &c.recentRelays[recentRelaySlot(b)]
	if *slot == string(b) {
		return *slot
	}
	s, ok := c.relays[string(b)]
	if !ok {
		s = string(b)
		if len(c.relays) < 4096 {
			c.relays[s] = s
		}
	}
	*slot = s
	return s
}

// recentRelayBits sizes Correlator.recentRelays.
const recentRelayBits = 6

// recentRelaySlot hashes a relay name's length and last 8 bytes (where
// host names differ most; "mx1."/"mx2." prefixes of one domain still
// differ in length or share a slot, which only costs a map lookup).
func recentRelaySlot(b []byte) uint64 {
	n := len(b)
	var w uint64
	if n >= 8 {
		w = load64(b, n-8)
	} else {
		for _, c := range b {
			w = w<<8 | uint64(c)
		}
	}
	return ((w ^ uint64(n)) * 0x9E3779B97F4A7C15) >> (64 - recentRelayBits)
}

// Flush ends every message still held (end of a replay), oldest first.
func (c *Correlator) Flush() {
	for c.head != nil {
		c.remove(c.head, EndFlush)
	}
}

func (c *Correlator) insert(ev *event.Event) *Message {
	if c.byID.n >= c.cfg.MaxMessages {
		c.remove(c.head, EndCapacity)
	}
	var m *Message
	if n := len(c.free); n > 0 {
		m = c.free[n-1]
		c.free = c.free[:n-1]
		*m = Message{Attempts: m.Attempts[:0], Rejects: m.Rejects[:0]}
	} else {
		m = &Message{}
	}
	m.setQueueID(ev.QueueID)
	m.FirstSeen, m.LastSeen = ev.Time, ev.Time
	c.append(m)
	return m
}

// append adds m to the table as its newest message.
func (c *Correlator) append(m *Message) {
	c.byID.put(m)
	m.prev = c.tail
	if c.tail != nil {
		c.tail.next = m
	} else {
		c.head = m
	}
	c.tail = m
}

// expire drops messages first seen more than TTL before now (log time).
// Nearly every line calls it and nearly none expires anything, so the
// check is one compare of the log time with the deadline of the head (the
// oldest message, the only one checked), computed once per head rather
// than the limit once per line (time.Time.Add costs about 60
// instructions), and held as integers (see wallDeadline); remove forgets
// it when the head goes.
func (c *Correlator) expire(now time.Time) {
	if c.head == nil {
		return
	}
	if c.deadlineOf != c.head {
		c.deadlineOf, c.deadline = c.head, newWallDeadline(c.head.FirstSeen.Add(c.cfg.TTL))
	}
	// A line without a time (zero) expires nothing; asked only past the
	// cheap test.
	if c.deadline.maybeAfter(now) && !now.IsZero() && now.After(c.deadline.t) {
		c.expireBefore(now.Add(-c.cfg.TTL))
	}
}

// expireBefore drops the messages first seen before limit, oldest first.
func (c *Correlator) expireBefore(limit time.Time) {
	for c.head != nil && c.head.FirstSeen.Before(limit) {
		c.remove(c.head, EndTTL)
	}
}

func (c *Correlator) remove(m *Message, why End) {
	if m == c.head {
		c.deadlineOf = nil
	}
	c.byID.del(m)
	if m.prev != nil {
		m.prev.next = m.next
	} else {
		c.head = m.next
	}
	if m.next != nil {
		m.next.prev = m.prev
	} else {
		c.tail = m.prev
	}
	m.prev, m.next = nil, nil
	m.End = why
	c.evictions[why]++
	if c.done != nil {
		c.done(m)
	}
	if len(c.free) < maxFree {
		c.free = append(c.free, m)
	}
}
