package source

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// journalEntry is the part of journalctl's JSON output a log line needs.
// journalctl writes a field as a string, as an array of byte values when
// it is not printable UTF-8, as an array of those when the field occurs
// more than once in the entry, or as null when it is too long (without
// --all, which we pass).
type journalEntry struct {
	cursor   string
	realtime time.Time
	host     []byte
	ident    []byte
	pid      []byte
	message  []byte
	// suppression marks journald's own "Suppressed N messages from UNIT"
	// entry (its rate limit); dropped is N and objectUnit UNIT.
	suppression bool
	dropped     int64
	objectUnit  []byte
}

type journalJSON struct {
	Cursor     string          `json:"__CURSOR"`
	Realtime   string          `json:"__REALTIME_TIMESTAMP"`
	Hostname   json.RawMessage `json:"_HOSTNAME"`
	Identifier json.RawMessage `json:"SYSLOG_IDENTIFIER"`
	Comm       json.RawMessage `json:"_COMM"`
	SyslogPID  json.RawMessage `json:"SYSLOG_PID"`
	PID        json.RawMessage `json:"_PID"`
	Message    json.RawMessage `json:"MESSAGE"`
	// MessageID is absent from Postfix's entries (nothing decoded, nothing
	// allocated); the rest of a rate-limit report is decoded only for one.
	MessageID string `json:"MESSAGE_ID"`
}

// suppressionJSON is the rest of journald's rate-limit report.
type suppressionJSON struct {
	Transport  string          `json:"_TRANSPORT"`
	NDropped   string          `json:"N_DROPPED"`
	ObjectUnit json.RawMessage `json:"OBJECT_SYSTEMD_UNIT"`
}

func (e *journalEntry) parse(line []byte) error {
	var j journalJSON
	if err := json.Unmarshal(line, &j); err != nil {
		return fmt.Errorf("journal entry: %w", err)
	}
	if j.Cursor == "" {
		return errors.New("journal entry without __CURSOR")
	}
	us, err := strconv.ParseInt(j.Realtime, 10, 64)
	if err != nil {
		return fmt.Errorf("journal entry __REALTIME_TIMESTAMP %q: %w", j.Realtime, err)
	}
	e.cursor = j.Cursor
	e.realtime = time.UnixMicro(us)
	var errs []error
	field := func(name string, raw json.RawMessage) []byte {
		v, err := fieldValue(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}
	e.host = field("_HOSTNAME", j.Hostname)
	e.ident = field("SYSLOG_IDENTIFIER", j.Identifier)
	if len(e.ident) == 0 {
		e.ident = field("_COMM", j.Comm)
	}
	e.pid = field("SYSLOG_PID", j.SyslogPID)
	if len(e.pid) == 0 {
		e.pid = field("_PID", j.PID)
	}
	e.message = field("MESSAGE", j.Message)
	if j.MessageID == journaldDroppedID {
		// Only journald itself writes _TRANSPORT=driver: another
		// program's entry with this MESSAGE_ID is an ordinary line.
		var sj suppressionJSON
		if err := json.Unmarshal(line, &sj); err == nil && sj.Transport == "driver" {
			e.suppression = true
			e.objectUnit = field("OBJECT_SYSTEMD_UNIT", sj.ObjectUnit)
			e.dropped = droppedCount(sj.NDropped, e.message)
		}
	}
	return errors.Join(errs...)
}

// droppedCount is N of journald's "Suppressed N messages from UNIT": its
// N_DROPPED field, else the number in the message; 0 when neither reads.
func droppedCount(field string, message []byte) int64 {
	if n, err := strconv.ParseInt(field, 10, 64); err == nil && n >= 0 {
		return n
	}
	rest, ok := bytes.CutPrefix(message, []byte("Suppressed "))
	if !ok {
		return 0
	}
	digits, _, _ := bytes.Cut(rest, []byte(" "))
	if n, err := strconv.ParseInt(string(digits), 10, 64); err == nil && n >= 0 {
		return n
	}
	return 0
}

// fieldValue decodes one field: a string, a byte array, or the last of
// several values.
func fieldValue(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case '[':
		var parts []json.RawMessage
		if err := json.Unmarshal(raw, &parts); err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			return nil, nil
		}
		if p := bytes.TrimSpace(parts[0]); len(p) > 0 && (p[0] == '"' || p[0] == '[' || p[0] == 'n') {
			// Several values of one field: journalctl prints them in the
			// order of the journal file (where each value was first
			// stored), not the order they were logged; take the last.
			return fieldValue(parts[len(parts)-1])
		}
		var bs []int
		if err := json.Unmarshal(raw, &bs); err != nil {
			return nil, err
		}
		out := make([]byte, len(bs))
		for i, b := range bs {
			if b < 0 || b > 255 {
				return nil, fmt.Errorf("byte value %d out of range", b)
			}
			out[i] = byte(b)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected JSON %.20q", raw)
}

// render appends the entry as a syslog text line with an RFC 3339
// timestamp: "2026-11-26T05:31:21.123456+01:00 host postfix/smtpd[123]:
// message". Line breaks inside a message become spaces, so one entry stays
// one line.
func (e *journalEntry) render(dst []byte, loc *time.Location) ([]byte, time.Time) {
	t := e.realtime.In(loc)
	dst = appendRFC3339(dst, t)
	dst = append(dst, ' ')
	if len(e.host) > 0 {
		dst = append(dst, e.host...)
	} else {
		dst = append(dst, "localhost"...)
	}
	dst = append(dst, ' ')
	if len(e.ident) > 0 {
		dst = append(dst, e.ident...)
	} else {
		dst = append(dst, '-')
	}
	if len(e.pid) > 0 {
		dst = append(dst, '[')
		dst = append(dst, e.pid...)
		dst = append(dst, ']')
	}
	dst = append(dst, ':')
	msg := bytes.TrimRight(e.message, "\n")
	if len(msg) > 0 {
		dst = append(dst, ' ')
		start := len(dst)
		dst = append(dst, msg...)
		for i := start; i < len(dst); i++ {
			if dst[i] == '\n' || dst[i] == '\r' {
				dst[i] = ' '
			}
		}
	}
	return dst, t
}
