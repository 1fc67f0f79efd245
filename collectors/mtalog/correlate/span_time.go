package correlate

import "time"

// A message's spans cover what the log says of it. Its lines carry their
// log time (whole seconds for RFC 3164 syslog, microseconds for RFC 3339),
// and each delivery line also says how long ago the message arrived
// (delay=) and how long the attempt took (delays=a/b/c/d). So a message
// first seen in this log at a delivery (its smtpd lines are in an older
// file, or it was deferred before a restart) still starts at its arrival,
// and a child never starts before its root.

// seconds converts a Postfix delay to a duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Start is when the attempt began: its log time minus its connection
// setup and transmission delays.
func (a *Attempt) Start() time.Time {
	return a.Time.Add(-seconds(a.Delays[2] + a.Delays[3]))
}

// Arrival is when the message arrived, by this attempt's delay= (the time
// from arrival to this attempt's end).
func (a *Attempt) Arrival() time.Time {
	return a.Time.Add(-seconds(max(a.Delay, a.Delays[0]+a.Delays[1]+a.Delays[2]+a.Delays[3])))
}

// RootSpan returns the start and end of a message's root span: from the
// earliest time known (first sight, or an attempt's arrival or start) to
// the latest (removal, or an attempt's or reject's log time).
func RootSpan(m *Message) (start, end time.Time) {
	start, end = m.FirstSeen, m.LastSeen
	for i := range m.Attempts {
		a := &m.Attempts[i]
		start = earliest(start, a.Arrival())
		start = earliest(start, a.Start())
		end = latest(end, a.Time)
	}
	for i := range m.Rejects {
		start = earliest(start, m.Rejects[i].Time)
		end = latest(end, m.Rejects[i].Time)
	}
	end = latest(end, start)
	return start, end
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
