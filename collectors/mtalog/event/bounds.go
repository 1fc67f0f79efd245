package event

// Numbers in log lines are input: anyone who can write to syslog (logger)
// can forge a Postfix line. Each number an event carries into a sum or a
// histogram is bounded by what Postfix itself can write; a line with a
// number past its bound is unparsed, counted by the field (Bad).

// Bounds of the numbers Postfix writes.
const (
	// MaxDelay bounds delay=, in seconds (a delays= stage past it reads as
	// 0): a year,
	// far past maximal_queue_lifetime's and bounce_queue_lifetime's
	// largest useful values, so only a forged or broken line exceeds it.
	MaxDelay = 365 * 24 * 3600
	// MaxSize bounds size=, in bytes: 1 TiB, past any message_size_limit
	// a mail system runs with.
	MaxSize = 1 << 40
	// MaxNrcpt bounds nrcpt= (Postfix counts recipients in an int).
	MaxNrcpt = 1<<31 - 1
)

// BadField names the number that put a line out of bounds.
type BadField uint8

// The fields a line can be out of bounds in.
const (
	BadNone BadField = iota
	BadDelay
	BadSize
	BadNrcpt
)

var badFieldNames = [...]string{"", "delay", "size", "nrcpt"}

// String is the `field` label value.
func (b BadField) String() string {
	if int(b) < len(badFieldNames) {
		return badFieldNames[b]
	}
	return "unknown"
}

// BadFields is the closed set of BadField label values.
func BadFields() []BadField { return []BadField{BadDelay, BadSize, BadNrcpt} }

// CheckBounds returns the first number of ev past its bound, or BadNone.
// NaN and infinities fail every comparison with a bound, so they are
// caught by the negated form.
func CheckBounds(ev *Event) BadField {
	switch {
	case !(ev.Delay >= 0 && ev.Delay <= MaxDelay):
		return BadDelay
	case ev.Size < 0 || ev.Size > MaxSize:
		return BadSize
	case ev.Nrcpt < 0:
		return BadNrcpt
	}
	return BadNone
}
