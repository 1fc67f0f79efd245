// Package reports is the collector of the receivers' verdicts: DMARC
// aggregate reports, TLS-RPT reports, ARF complaints and DMARC failure
// reports (parsed by collectors/reports/parse), turned into metrics, a
// summary per domain, and the entries `mailscope report` prints.
//
// A record's source is put in a SourceClass by rules that use only what
// the report says and the owner's configured sending addresses (see
// Classifier): no PTR or ASN lookup.
package reports
