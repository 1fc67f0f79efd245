package correlate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// The correlator's open messages can be saved at a graceful stop and
// restored at the next start (Save, Load), so a message deferred before a
// restart and delivered after it is one message: one trace with every
// attempt, received once. The state is JSON lines: a header naming the
// format and its version, then one message per line, oldest first. Enum
// values are written by name, not number, so a later version that adds a
// daemon or a reason still reads an older file. A crash saves nothing:
// the messages open then are forgotten, and their later lines start new,
// partial messages (as for a message whose first lines were never read).

// StateFormat and StateVersion name the file format.
const (
	StateFormat  = "mailscope-correlator"
	StateVersion = 1
)

// Bounds of a state file: a line longer than maxStateLine is not a message
// this code wrote (MaxAttempts attempts of about 400 bytes each fit many
// times over); names and hosts are at most maxStateName bytes.
const (
	maxStateLine = 1 << 20
	maxStateName = 255
)

type stateHeader struct {
	Format   string `json:"format"`
	Version  int    `json:"version"`
	Messages int    `json:"messages"`
}

type stateMessage struct {
	QueueID       string         `json:"queue_id"`
	FirstSeen     time.Time      `json:"first_seen"`
	LastSeen      time.Time      `json:"last_seen"`
	Origin        string         `json:"origin"`
	Size          int64          `json:"size"`
	Nrcpt         int            `json:"nrcpt"`
	AttemptCount  int            `json:"attempt_count"`
	Attempts      []stateAttempt `json:"attempts,omitempty"`
	Rejects       []stateReject  `json:"rejects,omitempty"`
	Expired       bool           `json:"expired,omitempty"`
	Queued        bool           `json:"queued,omitempty"`
	Held          bool           `json:"held,omitempty"`
	Parent        string         `json:"parent,omitempty"`
	MessageIDHash string         `json:"message_id_hash,omitempty"`
	TraceID       string         `json:"trace_id,omitempty"`
}

type stateAttempt struct {
	Time      time.Time  `json:"time"`
	Transport string     `json:"transport"`
	Status    string     `json:"status"`
	DSN       string     `json:"dsn,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Relay     string     `json:"relay,omitempty"`
	Provider  string     `json:"provider"`
	Delay     float64    `json:"delay"`
	Delays    [4]float64 `json:"delays"`
}

type stateReject struct {
	Time   time.Time `json:"time"`
	Daemon string    `json:"daemon"`
	Action string    `json:"action"`
	DSN    string    `json:"dsn,omitempty"`
	Reason string    `json:"reason,omitempty"`
}

// Save writes every open message, oldest first. The table is unchanged.
func (c *Correlator) Save(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(stateHeader{Format: StateFormat, Version: StateVersion, Messages: c.Len()}); err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	for m := c.head; m != nil; m = m.next {
		if err := enc.Encode(toState(m, c.parseDelays)); err != nil {
			return fmt.Errorf("correlator state: %s: %w", m.QueueID(), err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("correlator state: %w", err)
	}
	return nil
}

func toState(m *Message, parseDelays func([]byte) [4]float64) stateMessage {
	s := stateMessage{QueueID: m.QueueID(), FirstSeen: m.FirstSeen, LastSeen: m.LastSeen, Origin: m.Origin.String(),
		Size: m.Size, Nrcpt: m.Nrcpt, AttemptCount: m.AttemptCount, Expired: m.Expired, Queued: m.Queued,
		Held: m.Held, Parent: m.Parent}
	if m.MessageIDHash != 0 {
		s.MessageIDHash = strconv.FormatUint(m.MessageIDHash, 16)
	}
	// The trace id, not the Message-ID: the file keeps no header.
	s.TraceID = m.TraceID().String()
	for _, a := range m.Attempts {
		a.resolveDelays(parseDelays)
		s.Attempts = append(s.Attempts, stateAttempt{Time: a.Time, Transport: a.Transport.String(), Status: a.Status.String(),
			DSN: string(mailclass.AppendDSN(nil, a.DSN)), Reason: reasonName(a.Reason), Relay: a.Relay, Provider: a.Provider,
			Delay: a.Delay, Delays: a.Delays})
	}
	for _, r := range m.Rejects {
		s.Rejects = append(s.Rejects, stateReject{Time: r.Time, Daemon: r.Daemon.String(), Action: r.Action.String(),
			DSN: string(mailclass.AppendDSN(nil, r.DSN)), Reason: reasonName(r.Reason)})
	}
	return s
}

func reasonName(r mailclass.Reason) string {
	if r == mailclass.ReasonNone {
		return ""
	}
	return r.String()
}

// LoadStats says what Load did.
type LoadStats struct {
	// Restored messages are in the table.
	Restored int
	// Invalid records were skipped (each reason in Problems, up to 10).
	Invalid int
	// Dropped are valid messages past the table's cap, or already held.
	Dropped  int
	Problems []string
}

// Load adds the messages of a state Save wrote, as if their lines had just
// been read. The file is outside input: a wrong format or version is an
// error and nothing is added; a record that does not decode or holds a
// value this code would never write (an unknown name, a negative size, a
// provider validProvider refuses, more attempts than the config keeps) is
// skipped and counted; at most Config.MaxMessages messages are taken, and
// no line longer than 1 MiB is read. Messages already held are kept.
func (c *Correlator) Load(r io.Reader, validProvider func(string) bool) (LoadStats, error) {
	var st LoadStats
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxStateLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return st, fmt.Errorf("correlator state: header: %w", err)
		}
		return st, errors.New("correlator state: empty")
	}
	var h stateHeader
	if err := strictJSON(sc.Bytes(), &h); err != nil {
		return st, fmt.Errorf("correlator state: header: %w", err)
	}
	if h.Format != StateFormat || h.Version != StateVersion {
		return st, fmt.Errorf("correlator state: format %q version %d, want %q version %d", h.Format, h.Version, StateFormat, StateVersion)
	}
	var msgs []*Message
	for line := 2; sc.Scan(); line++ {
		if len(msgs) >= c.cfg.MaxMessages {
			st.Dropped++
			continue
		}
		var sm stateMessage
		m, err := fromStateLine(sc.Bytes(), &sm, c.cfg, validProvider)
		if err != nil {
			st.Invalid++
			if len(st.Problems) < 10 {
				st.Problems = append(st.Problems, fmt.Sprintf("line %d: %v", line, err))
			}
			continue
		}
		msgs = append(msgs, m)
	}
	if err := sc.Err(); err != nil {
		// A line past the bound: what was read before it stands.
		st.Invalid++
		st.Problems = append(st.Problems, err.Error())
	}
	// Oldest first, as the table keeps them for TTL expiry.
	slices.SortStableFunc(msgs, func(a, b *Message) int { return a.FirstSeen.Compare(b.FirstSeen) })
	for _, m := range msgs {
		if c.byID.get(m.queueID()) != nil || c.byID.n >= c.cfg.MaxMessages {
			st.Dropped++
			continue
		}
		m.Attempts = slices.Clip(m.Attempts)
		for i := range m.Attempts {
			m.Attempts[i].Relay = c.intern([]byte(m.Attempts[i].Relay))
		}
		c.append(m)
		st.Restored++
	}
	return st, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

func fromStateLine(line []byte, sm *stateMessage, cfg Config, validProvider func(string) bool) (*Message, error) {
	if err := strictJSON(line, sm); err != nil {
		return nil, err
	}
	if len(sm.QueueID) == 0 || len(sm.QueueID) > 64 || !printableWord(sm.QueueID) {
		return nil, fmt.Errorf("queue_id %q: want 1 to 64 printable characters", clip(sm.QueueID))
	}
	if len(sm.Parent) > 64 || sm.Parent != "" && !printableWord(sm.Parent) {
		return nil, fmt.Errorf("%s: parent %q: want at most 64 printable characters", sm.QueueID, clip(sm.Parent))
	}
	if sm.FirstSeen.IsZero() || sm.LastSeen.Before(sm.FirstSeen) {
		return nil, fmt.Errorf("%s: first_seen %v, last_seen %v: want first_seen set and not after last_seen", sm.QueueID, sm.FirstSeen, sm.LastSeen)
	}
	if sm.Size < 0 || sm.Nrcpt < 0 || sm.AttemptCount < len(sm.Attempts) {
		return nil, fmt.Errorf("%s: negative size or recipients, or fewer attempts counted than listed", sm.QueueID)
	}
	if len(sm.Attempts) > cfg.MaxAttempts || len(sm.Rejects) > cfg.MaxAttempts {
		return nil, fmt.Errorf("%s: %d attempts and %d rejects, more than max_attempts (%d)", sm.QueueID, len(sm.Attempts), len(sm.Rejects), cfg.MaxAttempts)
	}
	m := &Message{FirstSeen: sm.FirstSeen, LastSeen: sm.LastSeen, Size: sm.Size, Nrcpt: sm.Nrcpt,
		AttemptCount: sm.AttemptCount, Expired: sm.Expired, Queued: sm.Queued,
		Held: sm.Held, Parent: sm.Parent}
	m.setQueueID([]byte(sm.QueueID))
	var ok bool
	if m.Origin, ok = lookupName(sm.Origin, event.Origin.String); !ok {
		return nil, fmt.Errorf("%s: origin %q unknown", sm.QueueID, clip(sm.Origin))
	}
	if sm.MessageIDHash != "" {
		h, err := strconv.ParseUint(sm.MessageIDHash, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: message_id_hash: %w", sm.QueueID, err)
		}
		m.MessageIDHash = h
	}
	if sm.TraceID != "" {
		tid, err := trace.TraceIDFromHex(sm.TraceID)
		if err != nil {
			return nil, fmt.Errorf("%s: trace_id: %w", sm.QueueID, err)
		}
		m.traceID = tid
	}
	for _, a := range sm.Attempts {
		at := Attempt{Time: a.Time, Relay: a.Relay, Provider: a.Provider, Delay: a.Delay, Delays: a.Delays}
		var ok1, ok2, ok3, ok4 bool
		at.Transport, ok1 = lookupName(a.Transport, event.Daemon.String)
		at.Status, ok2 = lookupName(a.Status, event.Status.String)
		at.DSN, ok3 = parseDSN(a.DSN)
		at.Reason, ok4 = lookupReason(a.Reason)
		switch {
		case !ok1 || !ok2 || !ok3 || !ok4:
			return nil, fmt.Errorf("%s: attempt: unknown transport, status, dsn or reason (%q %q %q %q)", sm.QueueID, clip(a.Transport), clip(a.Status), clip(a.DSN), clip(a.Reason))
		case a.Time.IsZero() || len(a.Relay) > maxStateName || !printableWord(a.Relay):
			return nil, fmt.Errorf("%s: attempt: no time, or relay %q not a host name", sm.QueueID, clip(a.Relay))
		case validProvider != nil && !validProvider(a.Provider):
			return nil, fmt.Errorf("%s: attempt: provider %q not configured", sm.QueueID, clip(a.Provider))
		case !finiteDelay(a.Delay) || !finiteDelay(a.Delays[0]) || !finiteDelay(a.Delays[1]) || !finiteDelay(a.Delays[2]) || !finiteDelay(a.Delays[3]):
			return nil, fmt.Errorf("%s: attempt: delays out of range", sm.QueueID)
		}
		m.Attempts = append(m.Attempts, at)
	}
	for _, r := range sm.Rejects {
		rj := Reject{Time: r.Time}
		var ok1, ok2, ok3, ok4 bool
		rj.Daemon, ok1 = lookupName(r.Daemon, event.Daemon.String)
		rj.Action, ok2 = lookupName(r.Action, event.Action.String)
		rj.DSN, ok3 = parseDSN(r.DSN)
		rj.Reason, ok4 = lookupReason(r.Reason)
		if !ok1 || !ok2 || !ok3 || !ok4 || r.Time.IsZero() {
			return nil, fmt.Errorf("%s: reject: no time, or unknown daemon, action, dsn or reason", sm.QueueID)
		}
		m.Rejects = append(m.Rejects, rj)
	}
	return m, nil
}

// lookupName finds the value of an 8-bit enum whose String is name.
func lookupName[T ~uint8](name string, str func(T) string) (T, bool) {
	for v := range 256 {
		if str(T(v)) == name {
			return T(v), true
		}
	}
	return 0, false
}

func lookupReason(name string) (mailclass.Reason, bool) {
	if name == "" {
		return mailclass.ReasonNone, true
	}
	return lookupName(name, mailclass.Reason.String)
}

// parseDSN reads "c.s.d" as AppendDSN writes it ("" is no code).
func parseDSN(s string) (mailclass.DSN, bool) {
	if s == "" {
		return mailclass.DSN{}, true
	}
	var d mailclass.DSN
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return d, false
	}
	d.Class = s[0] - '0'
	sub, det, ok := bytes.Cut([]byte(s[2:]), []byte("."))
	if !ok {
		return d, false
	}
	a, err1 := strconv.ParseUint(string(sub), 10, 10)
	b, err2 := strconv.ParseUint(string(det), 10, 10)
	if err1 != nil || err2 != nil || a > 999 || b > 999 {
		return d, false
	}
	d.Subject, d.Detail = uint16(a), uint16(b)
	return d, true
}

func finiteDelay(f float64) bool { return f >= 0 && f <= 1e9 }

// printableWord reports whether s is printable ASCII without spaces.
func printableWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// clip shortens a hostile value for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
