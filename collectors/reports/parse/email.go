package parse

import (
	"bufio"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/mail"
)

// email finds the report in an email: the first part that is a feedback
// report (ARF or DMARC failure), or the first part whose type, name or
// first bytes make it an aggregate or TLS report, at any depth of
// multipart or attached message/rfc822 within the MIME limits. A report
// inside an email counts as one report.
func (p *parser) email(r io.Reader, depth int) (*Report, error) {
	e, err := message.ReadWithOptions(r, &message.ReadOptions{MaxHeaderBytes: p.lim.MaxHeaderBytes})
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, asRefusal(err, "email header")
	}
	env := envelopeOf(mail.Header{Header: e.Header})
	rep, err := p.entity(e, depth, env)
	if err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, refuse(ReasonNotAReport, "email without a report")
	}
	return rep, nil
}

// entity walks one MIME entity; nil, nil means no report in it.
func (p *parser) entity(e *message.Entity, depth int, env envelope) (*Report, error) {
	if depth > p.lim.MaxMIMEDepth {
		return nil, refuse(ReasonMIMELimits, "MIME nested deeper than %d", p.lim.MaxMIMEDepth)
	}
	mediaType, params, _ := e.Header.ContentType()
	if mr := e.MultipartReader(); mr != nil {
		feedbackReport := mediaType == "multipart/report" && strings.EqualFold(params["report-type"], "feedback-report")
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			if err != nil && (part == nil || !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err)) {
				return nil, asRefusal(err, "MIME part")
			}
			p.parts++
			if p.parts > p.lim.MaxMIMEParts {
				return nil, refuse(ReasonMIMELimits, "more than %d MIME parts", p.lim.MaxMIMEParts)
			}
			pt, _, _ := part.Header.ContentType()
			if feedbackReport && pt == "message/rfc822" || pt == "text/rfc822-headers" {
				// The complained-about message: never read.
				continue
			}
			rep, err := p.entity(part, depth+1, env)
			if rep != nil || err != nil {
				return rep, err
			}
		}
	}
	switch mediaType {
	case "message/feedback-report":
		return p.feedback(e.Body, env)
	case "message/rfc822", "message/global":
		return p.email(e.Body, depth+1)
	case "text/html", "message/delivery-status", "text/rfc822-headers":
		return nil, nil
	}
	br := bufio.NewReaderSize(e.Body, 4096)
	switch sniff(br) {
	case formGzip, formZip:
		return p.container(br)
	case formXML, formJSON:
		if reportPart(mediaType, e.Header) || mediaType == "text/plain" || mediaType == "" {
			return p.payload(br)
		}
	}
	return nil, nil
}

// reportPart says whether a part's type or file name names a report.
func reportPart(mediaType string, h message.Header) bool {
	switch mediaType {
	case "text/xml", "application/xml", "application/json", "application/tlsrpt+json",
		"application/tlsrpt+gzip", "application/gzip", "application/x-gzip", "application/zip",
		"application/x-zip-compressed", "application/octet-stream":
		return true
	}
	_, dp, _ := h.ContentDisposition()
	_, tp, _ := h.ContentType()
	for _, name := range []string{dp["filename"], tp["name"]} {
		switch strings.ToLower(path.Ext(name)) {
		case ".xml", ".json", ".gz", ".zip":
			return true
		}
	}
	return false
}
