package reports

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/mailscope/mailscope/collectors/reports/parse"
)

// HTTPHandlers returns the TLS-RPT endpoint by its path when http is
// enabled (collectors.HTTPHandlers): the agent serves it on its web
// listener, behind the web config's TLS and authentication.
func (c *Collector) HTTPHandlers() map[string]http.Handler {
	if !c.cfg.HTTP.Enabled {
		return nil
	}
	return map[string]http.Handler{c.cfg.HTTP.Path: http.HandlerFunc(c.serveTLSRPT)}
}

// serveTLSRPT takes one TLS report POSTed as RFC 8460 section 3 says:
// application/tlsrpt+json, or application/tlsrpt+gzip. A body over
// max_body_bytes is refused with 413 as soon as the cap is reached (or at
// once, from its Content-Length); a report already counted is answered
// 200 like a new one, so the sender does not retry it.
func (c *Collector) serveTLSRPT(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "POST a TLS report (RFC 8460)", http.StatusMethodNotAllowed)
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/tlsrpt+json" && mt != "application/tlsrpt+gzip" {
		http.Error(w, "Content-Type must be application/tlsrpt+json or application/tlsrpt+gzip", http.StatusUnsupportedMediaType)
		return
	}
	max := c.cfg.HTTP.MaxBodyBytes
	if r.ContentLength > max {
		c.refuseHTTP(w, &parse.Refusal{Reason: parse.ReasonOversized, Err: fmt.Errorf("body of %d bytes, more than %d", r.ContentLength, max)})
		return
	}
	lim := c.lim
	lim.MaxInputBytes = min(lim.MaxInputBytes, max)
	rep, err := parse.Parse(r.Body, lim)
	if err == nil && rep.Kind != parse.KindTLSRPT {
		rep, err = nil, &parse.Refusal{Reason: parse.ReasonNotAReport, Err: fmt.Errorf("a %s report, not a TLS report", rep.Kind)}
	}
	if err != nil {
		c.refuseHTTP(w, err)
		return
	}
	if _, err := c.IngestParsed(rep, nil, "http"); err != nil {
		http.Error(w, "could not record the report", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (c *Collector) refuseHTTP(w http.ResponseWriter, err error) {
	_, _ = c.IngestParsed(nil, err, "http")
	status := http.StatusBadRequest
	if parse.ReasonOf(err).IsLimit() {
		status = http.StatusRequestEntityTooLarge
		// Do not read the rest of a body over the cap.
		w.Header().Set("Connection", "close")
	}
	var r *parse.Refusal
	msg := err.Error()
	if errors.As(err, &r) {
		msg = string(r.Reason) + ": " + r.Err.Error()
	}
	http.Error(w, msg, status)
}
