package collectors

// InputStatus is implemented by collectors that read a stream (the mta
// collector's log sources): what the status page shows of their inputs
// that metrics cannot carry (configured paths, unparsed lines' text).
type InputStatus interface {
	InputStatus() Inputs
}

// Inputs is a collector's inputs at one moment.
type Inputs struct {
	// Sources are the configured sources, in config order.
	Sources []InputSource
	// Unparsed are the latest lines the collector could not read, oldest
	// first (a bounded sample).
	Unparsed []UnparsedLine
}

// InputSource is one configured source.
type InputSource struct {
	Name string
	// Kind is file, journald or syslog.
	Kind string
	// Paths are a file source's configured paths or globs.
	Paths []string
	// Sparse is a log written only on rare events (Exim's reject and
	// panic logs): it may not exist yet and may be silent for days, and
	// neither is a fault.
	Sparse bool
}

// UnparsedLine is a sample of input the collector could not read.
type UnparsedLine struct {
	Source, Daemon, Text string
}
