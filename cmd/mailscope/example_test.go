package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mailscope/mailscope/agent"
	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// TestExampleConfigIsValid keeps deploy/mailscope.example.yml loadable,
// complete (every registered collector has a section in it) and stable (a
// second load gives Equal sections and a DeepEqual config, which validating
// and building the collectors do not change).
func TestExampleConfigIsValid(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "mailscope.example.yml")
	cfg, err := agent.LoadFile(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the example config has problems:\n%v", err)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range collectors.All() {
		if !bytes.Contains(text, []byte("\n"+f.Name+":")) {
			t.Errorf("deploy/mailscope.example.yml has no %q section", f.Name)
		}
	}
	if len(cfg.Enabled()) == 0 {
		t.Error("the example enables no collector")
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("the example config has warnings (a deprecated key?):\n%v", cfg.Warnings)
	}
	// A reload keeps a collector whose section is Equal to the running
	// one: loading the same file again must give Equal sections, or every
	// reload would restart every collector.
	again, err := agent.LoadFile(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range cfg.Sections {
		if !s.Equal(again.Sections[i]) {
			t.Errorf("section %s loaded twice is not Equal: a reload would restart its collector", s.Name)
		}
	}
	if !reflect.DeepEqual(cfg, again) {
		t.Error("the example config loaded twice is not DeepEqual")
	}
	// Configs are plain data: Validate and the build step leave a config
	// as it was decoded. The sections are loaded disabled (decoded, not
	// validated), so a change that Validate would make at every load (a
	// filled-in default, a prepared flag) shows.
	disabled := disableAll(t, string(text))
	pristine, err := agent.Parse(path, []byte(disabled), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	used, err := agent.Parse(path, []byte(disabled), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range used.Sections {
		_ = s.Config.Validate() // the seeds section names files that do not exist here
	}
	for _, name := range []string{"dnsbl", "domain", "queue"} {
		f, _ := collectors.Lookup(name)
		settings := collectors.Settings{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(),
			Tracer: noop.NewTracerProvider().Tracer(""), Clock: clock.Real{}, DNS: dnsx.NewShared(dnsx.SharedConfig{})}
		if _, err := f.New(section(t, used, name).Config, settings); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i, s := range pristine.Sections {
		if !reflect.DeepEqual(s.Config, used.Sections[i].Config) {
			t.Errorf("section %s changed when validated or built:\n%+v\nwant\n%+v", s.Name, used.Sections[i].Config, s.Config)
		}
	}
}

// disableAll adds enabled: false to every section of a config text that
// does not say enabled already.
func disableAll(t *testing.T, text string) string {
	t.Helper()
	for _, f := range collectors.All() {
		head := "\n" + f.Name + ":\n"
		i := strings.Index(text, head)
		if i < 0 {
			t.Fatalf("no %s section", f.Name)
		}
		if rest := text[i+len(head):]; strings.HasPrefix(rest, "  enabled:") {
			continue
		}
		text = text[:i] + head + "  enabled: false\n" + text[i+len(head):]
	}
	return text
}

func section(t *testing.T, cfg *agent.Config, name string) agent.Section {
	t.Helper()
	for _, s := range cfg.Sections {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no %s section", name)
	return agent.Section{}
}

func TestCheckConfigCommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"check-config", "--config.file=" + filepath.Join("..", "..", "deploy", "mailscope.example.yml")}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "mailscope.example.yml: OK") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("check-config of the example printed: %s", stderr.String())
	}
	stdout.Reset()
	code = run([]string{"version"}, &stdout, &stderr)
	if code != 0 || !strings.HasPrefix(stdout.String(), "mailscope, version ") {
		t.Errorf("version: exit %d: %s", code, stdout.String())
	}
	code = run([]string{"--no-such-flag"}, &stdout, &stderr)
	if code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
}

// TestSectionEqualSeesNamedFiles: a config is plain data, so a section
// loaded twice from one file is Equal (a reload keeps its collector), and
// a rotated file the section names (here the DQS key) makes it unequal (a
// reload restarts the collector, which reads the new key).
func TestSectionEqualSeesNamedFiles(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "dqs.key")
	write := func(v string) {
		if err := os.WriteFile(key, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	text := "dnsbl:\n  resolver: 127.0.0.1:53\n  targets: {ips: [192.0.2.10]}\n  zones: [zen.dq.spamhaus.net]\n  dqs_key_file: " + key + "\n"
	load := func() agent.Section {
		t.Helper()
		cfg, err := agent.Parse("test.yml", []byte(text), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range cfg.Sections {
			if s.Name == "dnsbl" {
				return s
			}
		}
		t.Fatal("no dnsbl section")
		return agent.Section{}
	}
	write("abcdefghijklmnopqrstuvwxyz")
	a, b := load(), load()
	if !a.Equal(b) {
		t.Fatal("one file loaded twice gives unequal sections: every reload would restart the collector")
	}
	write("zyxwvutsrqponmlkjihgfedcba")
	if a.Equal(load()) {
		t.Fatal("a rotated dqs_key_file compares equal: a reload would keep the old key")
	}
}
