package pipeline

import (
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
)

// init plugs the pipeline into the mta collector's NewSink hook, replacing
// its line-counting stand-in. collectors/all imports this package for it.
// The mta section's `pipeline` sub-section (validated with the section)
// and timezone arrive in the hook's parameters.
func init() {
	mtalog.NewSink = func(sp mtalog.SinkParams) (source.Sink, error) {
		cfg := Config{MTA: sp.MTA, PipelineConfig: sp.Pipeline.OrDefault(), Location: sp.Location, Mail: sp.Mail, Bounces: sp.Bounces}
		if cfg.Location == nil {
			cfg.Location = time.Local
		}
		return New(cfg, sp.Registerer, sp.Tracer, sp.Logger, sp.Clock)
	}
}
