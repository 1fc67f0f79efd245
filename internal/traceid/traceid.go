// Package traceid owns how mailscope names a mail message's trace, so
// every agent and collector that sees the message puts its spans in one
// trace without talking to each other:
//
//   - a message with a Message-ID: the first 16 bytes of
//     SHA-256("mailscope/message-id/v1\x00" + id), where id is the
//     Message-ID header's value without its angle brackets and surrounding
//     space, byte for byte as written (Postfix's cleanup logs it as
//     message-id=<id>);
//   - a message without one: the first 16 bytes of
//     SHA-256("mailscope/queue-id/v1\x00" + queue ID + "\x00" + decimal
//     Unix seconds of its first log line), which one agent finds again on
//     a replay of the same log, but which no other host shares.
//
// A caller puts the id in the span's context (With) and the tracer
// provider's ID generator (exporters/otel) uses it for the new root span.
package traceid

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strconv"

	"go.opentelemetry.io/otel/trace"
)

const (
	messageIDDomain = "mailscope/message-id/v1\x00"
	queueIDDomain   = "mailscope/queue-id/v1\x00"
)

// FromMessageID is the trace id of the message whose Message-ID is id
// (with or without its angle brackets); ok is false for an empty one.
func FromMessageID(id []byte) (tid trace.TraceID, ok bool) {
	id = bytes.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = bytes.TrimSpace(id[1 : len(id)-1])
	}
	if len(id) == 0 {
		return tid, false
	}
	h := sha256.New()
	h.Write([]byte(messageIDDomain))
	h.Write(id)
	var sum [sha256.Size]byte
	copy(tid[:], h.Sum(sum[:0]))
	return tid, true
}

// FromQueueID is the fallback trace id of a message without a Message-ID:
// its queue ID and the Unix second of its first log line.
func FromQueueID(queueID []byte, firstSeenUnix int64) trace.TraceID {
	h := sha256.New()
	h.Write([]byte(queueIDDomain))
	h.Write(queueID)
	var buf [24]byte
	b := append(buf[:0], 0)
	h.Write(strconv.AppendInt(b, firstSeenUnix, 10))
	var sum [sha256.Size]byte
	var tid trace.TraceID
	copy(tid[:], h.Sum(sum[:0]))
	return tid
}

type ctxKey struct{}

// With returns ctx carrying the trace id the next root span started in it
// takes.
func With(ctx context.Context, id trace.TraceID) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// From returns the id With put in ctx.
func From(ctx context.Context) (trace.TraceID, bool) {
	id, ok := ctx.Value(ctxKey{}).(trace.TraceID)
	return id, ok && id.IsValid()
}
