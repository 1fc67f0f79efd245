package pipeline

import (
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// init plugs the pipeline into the mta collector's NewSink hook, replacing
// its line-counting stand-in. collectors/all imports this package for it.
// The mta config has no pipeline section yet, so the defaults apply
// (DefaultConfig: built-in provider map and reason rules, 100,000 messages
// for 6 days, traces of failed/slow messages and 1% of the rest).
func init() {
	mtalog.NewSink = func(sp mtalog.SinkParams) (source.Sink, error) {
		cfg := DefaultConfig()
		cfg.MTA = sp.MTA
		cfg.Location = time.Local
		return New(cfg, sp.Registerer, sp.Tracer, sp.Logger, sp.Clock)
	}
}
