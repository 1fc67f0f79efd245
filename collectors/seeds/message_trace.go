package seeds

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/traceid"
)

// traceMessages adds, for each seed message that was sent, a span
// "seeds.message" to the message's own trace, named by its Message-ID
// (internal/traceid): the trace the MTA log pipeline puts the message's
// queue life in, on this host and on every relay an agent follows. It
// runs from the send to the delivery the seed's mailbox showed (or the
// round's end), links to the round's span, and says where the message
// landed. No address is recorded.
func (r *Runner) traceMessages(round *Round, roundSpan trace.SpanContext) {
	end := round.Start.Add(round.Duration)
	for i := range round.Seeds {
		s := &round.Seeds[i]
		if s.MessageID == "" || s.SentAt.IsZero() {
			continue
		}
		tid, ok := traceid.FromMessageID([]byte(mailclass.TrimMessageID(s.MessageID)))
		if !ok {
			continue
		}
		stop := end
		if s.Delivery > 0 {
			stop = s.SentAt.Add(s.Delivery)
		}
		_, span := r.tracer.Start(traceid.With(context.Background(), tid), "seeds.message",
			trace.WithNewRoot(),
			trace.WithTimestamp(s.SentAt),
			trace.WithLinks(trace.Link{SpanContext: roundSpan}),
			trace.WithAttributes(
				attribute.String("seeds.mailbox", s.Name),
				attribute.String("seeds.provider", s.Provider),
				attribute.String("seeds.folder", s.Folder),
				attribute.Bool("seeds.mta_bounced", s.MTABounced),
			))
		if s.Folder == "" || s.Folder == FolderMissing || s.Folder == FolderSpam {
			span.SetStatus(codes.Error, firstNonEmpty(s.Folder, s.Stage))
		}
		span.End(trace.WithTimestamp(stop))
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
