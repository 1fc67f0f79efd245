package mtalog

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/pipeline"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/postconf"
)

// decode parses a YAML document's mta section the way the agent does:
// strict keys, then Validate, every problem with its line.
func decode(t *testing.T, text string) (*Config, error) {
	t.Helper()
	doc, err := config.Parse("test.yml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	cfg := NewConfig()
	ps := doc.Decode(config.Lookup(doc.Root, "mta"), "mta", cfg)
	ps.Merge("mta", cfg.Validate())
	return cfg, doc.Finish(ps)
}

func TestConfigDecodes(t *testing.T) {
	cfg, err := decode(t, `
mta:
  kind: postfix
  timezone: Europe/Berlin
  sources:
    - name: maillog
      file: {paths: [/var/log/mail.log], start_at: beginning, rotate_wait: 10s, long_lines: skip, max_line_bytes: 100000}
    - name: journal
      journald: {units: [postfix@-.service], identifiers: [postfix/smtpd]}
    - name: relay
      syslog: {udp: "5140", tcp: "127.0.0.1:5140", max_message_bytes: 8192}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Sources) != 3 || cfg.Sources[0].File.RotateWait.Seconds() != 10 || cfg.Sources[1].Journald.Units[0] != "postfix@-.service" || cfg.Sources[2].Syslog.MaxMessageBytes != 8192 {
		t.Fatalf("decoded %+v", cfg)
	}
	if got := cfg.Sources[2].Syslog.Listens(); strings.Join(got, ",") != "udp 127.0.0.1:5140,tcp 127.0.0.1:5140" {
		t.Errorf("listens %v: a bare port must mean loopback", got)
	}
}

func TestConfigProblems(t *testing.T) {
	_, err := decode(t, `
mta:
  kind: sendmail
  timezone: Mars/Olympus
  sources:
    - name: maillog
      file: {paths: [/var/log/mail.log], start_at: middle}
    - name: maillog
      file: {paths: [/var/log/mail.log]}
    - name: "bad name"
      journald: {}
    - name: both
      file: {paths: [/var/log/other.log]}
      syslog: {udp: "127.0.0.1:5140"}
    - name: nothing
    - name: net
      syslog: {udp: "127.0.0.1:99999", tcp: "localhost"}
    - name: net2
      syslog: {udp: ":5140", max_connections: -1}
    - name: typo
      file: {path: [/var/log/x.log]}
`)
	want := []string{
		`test.yml:3: mta.kind: must be one of [postfix exim], got "sendmail"`,
		`test.yml:4: mta.timezone: unknown time zone "Mars/Olympus"`,
		`test.yml:7: mta.sources[0].file.start_at: must be end or beginning, got "middle"`,
		`test.yml:8: mta.sources[1].name: "maillog" is already the name of sources[0]`,
		`test.yml:9: mta.sources[1].file.paths[0]: "/var/log/mail.log" is also followed by sources[0].file.paths[0]: its lines would be counted twice`,
		`test.yml:10: mta.sources[2].name: "bad name": use letters, digits, '.', '_' and '-' (at most 64, starting with a letter or digit)`,
		`test.yml:11: mta.sources[2].journald: needs units or identifiers: reading the whole journal would count every other program's lines as unparsed`,
		`test.yml:12: mta.sources[3]: has [file syslog]: one kind per source (make one source of each)`,
		`test.yml:15: mta.sources[4]: needs one of file, journald or syslog`,
		`test.yml:17: mta.sources[5].syslog.udp: "127.0.0.1:99999" is not a listen address (host:port): bad port "99999"`,
		`test.yml:17: mta.sources[5].syslog.tcp: "localhost" is not a listen address (host:port): bad port "localhost"`,
		`test.yml:19: mta.sources[6].syslog.max_connections: must not be negative, got -1`,
		`test.yml:19: mta.sources[6].syslog: udp 127.0.0.1:5140 is also the listener of sources[3]`,
	}
	if err == nil {
		t.Fatal("no problems found")
	}
	got := strings.Split(err.Error(), "\n")
	var unknownKey bool
	var rest []string
	for _, g := range got {
		if strings.Contains(g, "sources[7].file") {
			// The strict decoder's message (its wording is internal/config's)
			// and the missing paths that follow from the typo.
			unknownKey = unknownKey || strings.Contains(g, `"path"`)
			continue
		}
		rest = append(rest, g)
	}
	if !unknownKey {
		t.Errorf("the unknown key file.path was not reported:\n%s", err)
	}
	if strings.Join(rest, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(rest, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuto(t *testing.T) {
	if Auto(nil) != nil || Auto(&postconf.Facts{}) != nil {
		t.Fatal("Auto proposed a config without a log file")
	}
	c := Auto(&postconf.Facts{LogFile: "/var/log/mail.log", LogVia: "syslog"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Kind != "postfix" || len(c.Sources) != 1 || c.Sources[0].File.Paths[0] != "/var/log/mail.log" || c.Sources[0].File.StartAt != "end" {
		t.Fatalf("Auto: %+v", c)
	}
}

// TestAutoExim: on an Exim writing files, the main, reject and panic
// logs are followed, each from its end; on an Exim logging to syslog
// only, the mail log alone.
func TestAutoExim(t *testing.T) {
	c := Auto(&postconf.Facts{MTA: "exim", LogFile: "/var/log/exim4/mainlog", LogVia: "log_file_path",
		EximRejectLog: "/var/log/exim4/rejectlog", EximPanicLog: "/var/log/exim4/paniclog"})
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range c.Sources {
		got = append(got, fmt.Sprintf("%s %s %v %s", s.Name, s.eximLog(), s.File.Paths, s.File.StartAt))
	}
	want := "mainlog main [/var/log/exim4/mainlog] end; rejectlog reject [/var/log/exim4/rejectlog] end; paniclog panic [/var/log/exim4/paniclog] end"
	if c.Kind != "exim" || strings.Join(got, "; ") != want {
		t.Errorf("Auto: kind %s, sources %s\nwant %s", c.Kind, strings.Join(got, "; "), want)
	}
	c = Auto(&postconf.Facts{MTA: "exim", LogFile: "/var/log/mail.log", LogVia: "syslog"})
	if len(c.Sources) != 1 || c.Sources[0].eximLog() != EximMainLog {
		t.Errorf("Auto on syslog: %+v", c.Sources)
	}
}

// TestConfigKinds: exim is accepted as postfix is; an MTA without a
// parser is refused, naming the ones there are.
func TestConfigKinds(t *testing.T) {
	for kind, want := range map[string]string{
		"exim":     "",
		"postfix":  "",
		"sendmail": `test.yml:3: mta.kind: must be one of [postfix exim], got "sendmail"`,
	} {
		_, err := decode(t, `
mta:
  kind: `+kind+`
  sources:
    - name: maillog
      file: {paths: [/var/log/exim4/mainlog]}
`)
		if got := fmt.Sprint(err); want == "" && err != nil || want != "" && got != want {
			t.Errorf("%s: problems: %v\nwant: %s", kind, err, want)
		}
	}
}

// TestValidateChangesNothing: Validate only reads the config (compared
// with a second decode of the same text, which was never validated).
func TestValidateChangesNothing(t *testing.T) {
	const text = `
mta:
  timezone: Europe/Berlin
  sources:
    - name: maillog
      file: {paths: [/var/log/mail.log]}
    - name: relay
      syslog: {udp: "127.0.0.1:0"}
    - name: journal
      journald: {units: [postfix@-.service]}
`
	cfg, err := decode(t, text)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	doc, err := config.Parse("test.yml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	fresh := NewConfig()
	if err := doc.Finish(doc.Decode(config.Lookup(doc.Root, "mta"), "mta", fresh)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, fresh) {
		t.Errorf("Validate changed the config:\n%+v\nnot validated:\n%+v", cfg, fresh)
	}
}

// TestConfigEximLog: exim_log is main, reject or panic, only for a file
// source of kind exim; every problem is reported with its key.
func TestConfigEximLog(t *testing.T) {
	cfg, err := decode(t, `
mta:
  kind: exim
  sources:
    - name: mainlog
      file: {paths: [/var/log/exim4/mainlog]}
    - name: rejectlog
      exim_log: reject
      file: {paths: [/var/log/exim4/rejectlog]}
    - name: paniclog
      exim_log: panic
      file: {paths: [/var/log/exim4/paniclog]}
`)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.withEximLogs(pipeline.Options{})
	if fmt.Sprint(o.RejectLogSources, o.PanicLogSources) != "[rejectlog] [paniclog]" {
		t.Errorf("pipeline options: reject %v panic %v", o.RejectLogSources, o.PanicLogSources)
	}
	_, err = decode(t, `
mta:
  kind: postfix
  sources:
    - name: a
      exim_log: reject
      file: {paths: [/var/log/exim4/rejectlog]}
    - name: b
      exim_log: panik
      file: {paths: [/var/log/exim4/paniclog]}
    - name: c
      exim_log: panic
      journald: {units: [exim4.service]}
`)
	want := strings.Join([]string{
		`test.yml:6: mta.sources[0].exim_log: "reject" is a log of Exim: only with kind exim (kind is "postfix")`,
		`test.yml:9: mta.sources[1].exim_log: must be main, reject or panic, got "panik"`,
		`test.yml:12: mta.sources[2].exim_log: "panic" is a log of Exim: only with kind exim (kind is "postfix")`,
		`test.yml:12: mta.sources[2].exim_log: "panic" needs a file source: Exim writes its panic log to a file (with log_file_path = syslog its entries are in the main log's stream)`,
	}, "\n")
	if fmt.Sprint(err) != want {
		t.Errorf("problems:\n%v\nwant:\n%s", err, want)
	}
}
