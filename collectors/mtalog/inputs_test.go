package mtalog

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/clock"
)

// TestInputStatus: the status page learns the configured sources (a
// missing file's path included) and the pipeline's unparsed lines.
func TestInputStatus(t *testing.T) {
	cfg := NewConfig()
	cfg.Sources = []SourceConfig{
		{Name: "maillog", File: &source.FileConfig{Paths: []string{"/nonexistent/mail.log"}, StartAt: "end"}},
		{Name: "journal", Journald: &source.JournaldConfig{Units: []string{"postfix@-.service"}}},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, settings(t, prometheus.NewRegistry(), t.TempDir(), clock.Real{}))
	if err != nil {
		t.Fatal(err)
	}
	c.serial.HandleBatch(&source.Batch{Source: "maillog", Lines: []source.Line{
		{Time: time.Now(), Text: []byte("Nov 26 07:02:41 mx postfix/smtpd[1]: something postfix never wrote")},
	}})
	in := c.InputStatus()
	want := []collectors.InputSource{{Name: "maillog", Kind: "file", Paths: []string{"/nonexistent/mail.log"}}, {Name: "journal", Kind: "journald"}}
	if len(in.Sources) != 2 || in.Sources[0].Name != want[0].Name || in.Sources[0].Kind != "file" || len(in.Sources[0].Paths) != 1 ||
		in.Sources[0].Paths[0] != "/nonexistent/mail.log" || in.Sources[1].Kind != "journald" {
		t.Errorf("sources %+v, want %+v", in.Sources, want)
	}
	if len(in.Unparsed) != 1 || in.Unparsed[0].Source != "maillog" || in.Unparsed[0].Daemon != "smtpd" {
		t.Errorf("unparsed %+v, want the smtpd line of maillog", in.Unparsed)
	}
}
