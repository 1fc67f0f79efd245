// Package parse reads the reports receivers send about a domain's mail:
// DMARC aggregate reports (RFC 7489 appendix C and RFC 9990, with or
// without the dmarc-2.0 namespace), TLS-RPT reports (RFC 8460), ARF
// complaints (RFC 5965) and DMARC failure reports (RFC 6591/9991). A
// report may arrive as bare XML or JSON, gzip, zip, or inside an email of
// any MIME shape; Parse finds it and returns one Report or one *Refusal
// naming the reason.
//
// Everything read is bounded by Limits: the bytes taken from the input,
// the bytes a decompressor may produce (reading stops at the cap, never
// after it), the compression ratio, the zip members, the MIME parts and
// nesting, the XML depth and element count, and the JSON depth. A
// DOCTYPE is refused, so no DTD or entity is ever processed. Nothing is
// held whole except a zip archive (bounded by the input cap, because
// archive/zip needs random access) and a TLS-RPT JSON document (bounded by
// the decompressed cap); XML is scanned as a stream.
//
// The XML scanner is this package's own, because real reports are not
// always XML: it takes a `<` that opens no tag as text, bytes that are not
// UTF-8 as Latin-1, an element left open (the stray `<xs:schema>` some
// reporters add) as closed by its parent's end tag, and matches names by
// their local part, ignoring namespaces. Its tokens equal encoding/xml's
// on well-formed input (pinned by a test and a fuzz target).
//
// Parsers never do I/O beyond the reader they are given, and no message
// content, address or subject of a complaint is kept: only the feedback
// type, the reported domain, the source IP and the times.
package parse
