package mtalog

import (
	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
)

// InputStatus implements collectors.InputStatus: the configured sources
// and the pipeline's latest unparsed lines.
func (c *Collector) InputStatus() collectors.Inputs {
	var in collectors.Inputs
	for _, sc := range c.cfg.Sources {
		s := collectors.InputSource{Name: sc.Name, Sparse: sc.sparse()}
		switch {
		case sc.File != nil:
			s.Kind, s.Paths = "file", append([]string(nil), sc.File.Paths...)
		case sc.Journald != nil:
			s.Kind = "journald"
		case sc.Syslog != nil:
			s.Kind = "syslog"
		}
		in.Sources = append(in.Sources, s)
	}
	if p, ok := c.serial.sink.(*pipeline.Pipeline); ok {
		for _, smp := range p.Samples() {
			in.Unparsed = append(in.Unparsed, collectors.UnparsedLine{Source: smp.Source, Daemon: smp.Daemon, Text: smp.Text})
		}
	}
	return in
}
