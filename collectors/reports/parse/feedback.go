package parse

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"io"
	netmail "net/mail"
	"net/netip"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// maxFeedbackBytes bounds the machine-readable part of a complaint: a few
// header fields.
const maxFeedbackBytes = 64 << 10

// envelope is what a complaint keeps of the email that carried it.
type envelope struct {
	reporterDomain string
	messageID      string
	date           time.Time
}

func envelopeOf(h mail.Header) envelope {
	var env envelope
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		if i := strings.LastIndexByte(from[0].Address, '@'); i >= 0 {
			env.reporterDomain = strings.ToLower(from[0].Address[i+1:])
		}
	}
	env.messageID = strings.TrimSpace(h.Get("Message-Id"))
	env.date, _ = h.Date()
	return env
}

// feedback reads the message/feedback-report part of an ARF complaint or
// a DMARC failure report (RFC 5965 section 3.1, RFC 6591 section 3.1).
// Fields that would carry an address or content (Original-Mail-From,
// Original-Rcpt-To, Reported-URI, Authentication-Results) are not kept.
func (p *parser) feedback(body io.Reader, env envelope) (*Report, error) {
	br := bufio.NewReader(io.LimitReader(body, maxFeedbackBytes))
	// Some reporters start the part with a blank line.
	for {
		b, err := br.Peek(1)
		if err != nil || (b[0] != '\r' && b[0] != '\n') {
			break
		}
		br.Discard(1)
	}
	h, err := textproto.ReadHeader(br)
	if err != nil && h.Len() == 0 {
		return nil, asRefusal(err, "feedback report fields")
	}
	f := &Feedback{
		Type:           strings.ToLower(strings.TrimSpace(h.Get("Feedback-Type"))),
		ReportedDomain: strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h.Get("Reported-Domain")), ".")),
		AuthFailure:    strings.ToLower(strings.TrimSpace(h.Get("Auth-Failure"))),
		ReporterDomain: env.reporterDomain,
	}
	if f.Type == "" {
		return nil, refuse(ReasonMalformed, "feedback report without Feedback-Type")
	}
	f.SourceIP, _ = netip.ParseAddr(strings.TrimSpace(h.Get("Source-Ip")))
	f.SourceIP = f.SourceIP.Unmap()
	if t, err := netmail.ParseDate(strings.TrimSpace(h.Get("Arrival-Date"))); err == nil {
		f.Arrival = t.UTC()
	} else if !env.date.IsZero() {
		f.Arrival = env.date.UTC()
	}
	id := env.messageID
	if id == "" {
		id = strings.Join([]string{f.Type, f.ReportedDomain, f.SourceIP.String(), f.Arrival.String(), f.ReporterDomain}, "\x00")
	}
	sum := sha256.Sum256([]byte(id))
	f.ID = hex.EncodeToString(sum[:12])
	kind := KindARF
	if f.Type == "auth-failure" {
		kind = KindDMARCFailure
	}
	return &Report{Kind: kind, Feedback: f}, nil
}
