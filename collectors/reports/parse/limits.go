package parse

// Limits bound what Parse reads from one input. A zero or negative field
// means "no limit" only where the field says so; DefaultLimits sets them
// all.
type Limits struct {
	// MaxInputBytes caps the bytes read from the input: the file, the
	// email or the HTTP body, before any decompression.
	MaxInputBytes int64
	// MaxDecompressedBytes caps the bytes a gzip or zip member may
	// produce. Reading stops at the cap.
	MaxDecompressedBytes int64
	// MaxCompressionRatio refuses a compressed payload once it has
	// produced more than this many bytes per input byte (and more than
	// ratioFloor bytes, so small, well-compressed reports pass). 0 turns
	// the check off.
	MaxCompressionRatio int64
	// MaxZipMembers caps the entries of a zip archive's central directory.
	MaxZipMembers int
	// MaxMIMEParts caps the parts of an email; MaxMIMEDepth its nesting
	// (multipart in multipart, or an attached message/rfc822).
	MaxMIMEParts int
	MaxMIMEDepth int
	// MaxHeaderBytes caps one MIME header block.
	MaxHeaderBytes int64
	// MaxXMLDepth and MaxXMLElements cap an aggregate report's nesting and
	// element count.
	MaxXMLDepth    int
	MaxXMLElements int
	// MaxJSONDepth caps the nesting of a TLS-RPT document.
	MaxJSONDepth int
}

// ratioFloor is the output below which the compression ratio is not
// checked: a small report of identical records compresses very well.
const ratioFloor = 1 << 20

// DefaultLimits are sized for the largest real reports (a big reporter's
// daily aggregate for a busy domain is a few MB of XML) with a wide margin.
func DefaultLimits() Limits {
	return Limits{
		MaxInputBytes:        20 << 20,
		MaxDecompressedBytes: 50 << 20,
		MaxCompressionRatio:  200,
		MaxZipMembers:        16,
		MaxMIMEParts:         64,
		MaxMIMEDepth:         8,
		MaxHeaderBytes:       256 << 10,
		MaxXMLDepth:          32,
		MaxXMLElements:       2_000_000,
		MaxJSONDepth:         32,
	}
}
