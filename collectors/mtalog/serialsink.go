package mtalog

import (
	"sync"

	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// serialSink makes the sink calls of several sources one at a time.
type serialSink struct {
	mu   sync.Mutex
	sink source.Sink
}

func (s *serialSink) HandleBatch(b *source.Batch) {
	s.mu.Lock()
	s.sink.HandleBatch(b)
	s.mu.Unlock()
}
