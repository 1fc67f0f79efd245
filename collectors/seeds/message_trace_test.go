package seeds

import (
	"context"
	"testing"

	"github.com/emersion/go-imap/v2"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/traceid"
)

// TestSeedMessageJoinsItsMessageTrace: a round adds a span for each sent
// seed message to the trace its Message-ID names, the one the MTA log
// pipeline puts the message's queue life in.
func TestSeedMessageJoinsItsMessageTrace(t *testing.T) {
	w := newWorld(t)
	w.addUser("keep@seed.test", "pw", folder{"Junk", imap.MailboxAttrJunk})
	w.route = func(rcpt string) delivery { return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders("")} }
	c := w.config(t, SeedMailbox{Name: "keep-1", Provider: "other", IMAP: Endpoint{Username: "keep@seed.test", Password: "pw"}})
	must(t, c.Validate())
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithIDGenerator(contextIDs{}))
	defer tp.Shutdown(context.Background())
	r := w.runner(t, c, nil)
	r.tracer = tp.Tracer("seeds")
	rd := w.round(r)
	s := findSeed(t, rd, "keep-1")
	want, _ := traceid.FromMessageID([]byte(mailclass.TrimMessageID(s.MessageID)))
	var found bool
	for _, sp := range rec.Ended() {
		if sp.Name() != "seeds.message" {
			continue
		}
		found = true
		if sp.SpanContext().TraceID() != want || sp.Parent().IsValid() || len(sp.Links()) != 1 || !sp.StartTime().Equal(s.SentAt) {
			t.Errorf("seeds.message: trace %s (want %s), parent %v, %d links, start %v (sent %v)",
				sp.SpanContext().TraceID(), want, sp.Parent().IsValid(), len(sp.Links()), sp.StartTime(), s.SentAt)
		}
	}
	if !found {
		t.Error("no seeds.message span")
	}
}

// contextIDs is the ID generator rule exporters/otel follows: the trace id
// the context names.
type contextIDs struct{}

func (contextIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	tid, ok := traceid.From(ctx)
	if !ok {
		tid = trace.TraceID{1}
	}
	return tid, trace.SpanID{1}
}

func (contextIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID { return trace.SpanID{2} }
