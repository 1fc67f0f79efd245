package agent

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/exporters/otel"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// DefaultConfigFile is read when --config.file is not given and it exists.
const DefaultConfigFile = "/etc/mailscope/mailscope.yml"

// DefaultStateDir holds checkpoints, cursors and dedup state.
const DefaultStateDir = "/var/lib/mailscope"

// Config is the whole running configuration.
type Config struct {
	StateDir string
	Tracing  otel.Config
	// Mail is the top-level providers: and reason_rules: sections (or
	// what the deprecated per-section keys set); Taxonomy is it built,
	// handed to every collector.
	Mail     mailclass.Config
	Taxonomy *mailclass.Taxonomy
	// Warnings are what the config should change but the agent can run
	// with (deprecated keys), with file, line and key like problems.
	Warnings config.Problems
	// tracingFiles are the digests of the files Tracing names (ca_file).
	tracingFiles map[string][sha256.Size]byte
	// Probe is the probe: section, /probe's gate and limits.
	Probe ProbeConfig
	// Sections has one entry per registered collector, in name order.
	Sections []Section
	// Source is the file the config came from, or a description of the
	// embedded default.
	Source string
}

// Section is one collector's part of the config.
type Section struct {
	Name    string
	Enabled bool
	// InFile is true when the file has a section for it.
	InFile bool
	Config collectors.Config
	// files are the digests of the files the section names (secrets, CA
	// bundles), read when the config was loaded.
	files map[string][sha256.Size]byte
}

// Enabled returns the sections of the collectors that run.
func (c *Config) Enabled() []Section {
	var out []Section
	for _, s := range c.Sections {
		if s.Enabled {
			out = append(out, s)
		}
	}
	return out
}

// topLevelKeys are the agent's own keys; every other key names a collector.
var topLevelKeys = []string{"state_dir", "tracing", "providers", "reason_rules", "probe"}

// LoadFile reads, expands, decodes and validates a config file, returning
// every problem found (a config.Problems) when there is any.
func LoadFile(path string, lookup func(string) (string, bool)) (*Config, error) {
	data, err := config.ReadRegularFile("config file", path, config.MaxConfigFileSize)
	if err != nil {
		return nil, config.Problems{{Msg: err.Error()}}
	}
	return Parse(path, data, lookup)
}

// Parse decodes and validates config text; file names it in problems.
func Parse(file string, data []byte, lookup func(string) (string, bool)) (*Config, error) {
	doc, err := config.Parse(file, data, lookup)
	if doc == nil {
		return nil, err // not YAML, or not a mapping: nothing more to check
	}
	// Unset ${VAR}s are problems, but not the only ones: the rest of the
	// file is checked too, leaving out what else is said about the keys
	// whose value could not be expanded.
	envProblems, err := expansionProblems(err)
	if err != nil {
		return nil, err
	}
	cfg := &Config{StateDir: DefaultStateDir, Tracing: otel.DefaultConfig(), Probe: DefaultProbeConfig(), Source: file}
	var ps config.Problems
	seen := map[string]*yaml.Node{}
	mailSet := map[string]bool{}
	if doc.Root != nil {
		for i := 0; i+1 < len(doc.Root.Content); i += 2 {
			k, v := doc.Root.Content[i], doc.Root.Content[i+1]
			switch k.Value {
			case "state_dir":
				ps = append(ps, doc.Decode(v, "state_dir", &cfg.StateDir)...)
			case "tracing":
				// Validate even after decode problems: a key that failed to
				// decode keeps its valid default, and the user sees every
				// problem of the file in one pass.
				ps = append(ps, doc.Decode(v, "tracing", &cfg.Tracing)...)
				ps.Merge("tracing", cfg.Tracing.Validate())
			case "providers":
				ps = append(ps, doc.Decode(v, "providers", &cfg.Mail.Providers)...)
				mailSet["providers"] = true
			case "reason_rules":
				ps = append(ps, doc.Decode(v, "reason_rules", &cfg.Mail.ReasonRules)...)
				mailSet["reason_rules"] = true
			case "probe":
				ps = append(ps, doc.Decode(v, "probe", &cfg.Probe)...)
				ps.Merge("probe", cfg.Probe.Validate())
			default:
				if _, ok := collectors.Lookup(k.Value); !ok {
					ps = append(ps, &config.Problem{Line: k.Line, Path: k.Value, Msg: config.UnknownMsg("section", k.Value, knownSections())})
					continue
				}
				seen[k.Value] = v
			}
		}
	}
	if cfg.StateDir == "" {
		ps.Add("state_dir", "must not be empty")
	}
	cfg.tracingFiles = fileDigests(cfg.Tracing)
	for _, f := range collectors.All() {
		node, inFile := seen[f.Name]
		s := Section{Name: f.Name, Enabled: f.DefaultEnabled, InFile: inFile, Config: f.NewConfig()}
		if inFile {
			s.Enabled = true
			rest, enabled, p := splitEnabled(doc, node, f.Name)
			ps = append(ps, p...)
			if enabled != nil {
				s.Enabled = *enabled
			}
			ps = append(ps, doc.Decode(rest, f.Name, s.Config)...)
			if s.Enabled {
				ps.Merge(f.Name, s.Config.Validate())
			}
		} else if s.Enabled {
			ps.Merge(f.Name, s.Config.Validate())
		}
		if s.Enabled {
			s.files = fileDigests(s.Config)
		}
		cfg.Sections = append(cfg.Sections, s)
	}
	if len(mailSet) > 0 {
		ps.Merge("", cfg.Mail.Validate())
	}
	warnings := takeMovedMailKeys(cfg, mailSet, &ps)
	// An invalid taxonomy has its problems already (at the top-level keys
	// or at the deprecated keys, by their section's Validate).
	if t, err := mailclass.Build(cfg.Mail); err == nil {
		cfg.Taxonomy = t
		checkProviderLabels(cfg, &ps)
	}
	if err := doc.Finish(append(envProblems, withoutPaths(ps, envProblems)...)); err != nil {
		return nil, err
	}
	if err := doc.Finish(warnings); err != nil {
		cfg.Warnings = err.(config.Problems)
	}
	return cfg, nil
}

// expansionProblems returns the problems config.Parse found in a document
// it could still return (unset environment variables).
func expansionProblems(err error) (config.Problems, error) {
	if err == nil {
		return nil, nil
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		return nil, err
	}
	return ps, nil
}

// withoutPaths drops the problems at the key paths of skip.
func withoutPaths(ps, skip config.Problems) config.Problems {
	if len(skip) == 0 {
		return ps
	}
	paths := make(map[string]bool, len(skip))
	for _, p := range skip {
		paths[p.Path] = true
	}
	var out config.Problems
	for _, p := range ps {
		if !paths[p.Path] {
			out = append(out, p)
		}
	}
	return out
}

// splitEnabled takes the agent-owned `enabled` key out of a collector's
// section, so the collector's own struct does not need to declare it.
func splitEnabled(doc *config.Document, node *yaml.Node, name string) (*yaml.Node, *bool, config.Problems) {
	if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
		return nil, nil, nil // "dnsbl:" alone: enabled with defaults
	}
	if node.Kind != yaml.MappingNode {
		return node, nil, nil // the decoder reports the type
	}
	rest := *node
	rest.Content = nil
	var enabled *bool
	var ps config.Problems
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "enabled" {
			var b bool
			ps = append(ps, doc.Decode(node.Content[i+1], name+".enabled", &b)...)
			enabled = &b
			continue
		}
		rest.Content = append(rest.Content, node.Content[i], node.Content[i+1])
	}
	return &rest, enabled, ps
}

func knownSections() []string {
	out := append([]string(nil), topLevelKeys...)
	for _, f := range collectors.All() {
		out = append(out, f.Name)
	}
	return out
}

// Equal reports whether two sections would build the same collector: the
// same config, and the same content in every file it names, so a rotated
// password or CA file restarts the collector that uses it.
func (s Section) Equal(o Section) bool {
	return s.Name == o.Name && s.Enabled == o.Enabled && reflect.DeepEqual(s.Config, o.Config) && reflect.DeepEqual(s.files, o.files)
}

// TracingEqual reports whether two configs would build the same tracer
// provider: the same tracing section and the same files it names.
func (c *Config) TracingEqual(o *Config) bool {
	return reflect.DeepEqual(c.Tracing, o.Tracing) && reflect.DeepEqual(c.tracingFiles, o.tracingFiles)
}

// Redacted renders the config as YAML with every secret shown as
// "<secret>", for /config.
func (c *Config) Redacted() ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v any) error {
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &n)
		return nil
	}
	if err := add("state_dir", c.StateDir); err != nil {
		return nil, err
	}
	if err := add("tracing", c.Tracing); err != nil {
		return nil, err
	}
	if c.Mail.Providers != nil {
		if err := add("providers", c.Mail.Providers); err != nil {
			return nil, err
		}
	}
	if c.Mail.ReasonRules != nil {
		if err := add("reason_rules", c.Mail.ReasonRules); err != nil {
			return nil, err
		}
	}
	if err := add("probe", c.Probe); err != nil {
		return nil, err
	}
	for _, s := range c.Sections {
		var n yaml.Node
		if err := n.Encode(s.Config); err != nil {
			return nil, fmt.Errorf("%s: %w", s.Name, err)
		}
		if n.Kind != yaml.MappingNode {
			n = yaml.Node{Kind: yaml.MappingNode}
		}
		n.Content = append([]*yaml.Node{
			{Kind: yaml.ScalarNode, Value: "enabled"},
			{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(s.Enabled)},
		}, n.Content...)
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s.Name}, &n)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
