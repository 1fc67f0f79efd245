package agent

import (
	"reflect"
	"sort"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/internal/config"
)

// takeMovedMailKeys reads the deprecated per-section mail keys
// (mta.pipeline.providers, queue.reason_rules, ...) into cfg.Mail, for one
// release, and returns a warning for each. A key that is set where the
// top-level section is set too, or that disagrees with another section's,
// is a problem: there is one provider set and one rule list now, and the
// agent will not guess which the user meant. newSet names the top-level
// keys the file sets.
func takeMovedMailKeys(cfg *Config, newSet map[string]bool, ps *config.Problems) config.Problems {
	var warnings config.Problems
	from := map[string]string{} // top-level key -> the old key that set it
	for _, s := range cfg.Sections {
		if !s.InFile {
			continue
		}
		m, ok := s.Config.(collectors.MovedMailKeys)
		if !ok {
			continue
		}
		for _, k := range m.MovedMailKeys() {
			old := config.JoinPath(s.Name, k.Path)
			top, value := "providers", any(k.Moved.Providers)
			if k.Moved.ReasonRules != nil {
				top, value = "reason_rules", k.Moved.ReasonRules
			}
			warnings.Addf(old, "deprecated: move it to the top-level %s: section, which every collector uses; this key is read until the next release", top)
			switch {
			case newSet[top]:
				ps.Addf(old, "set together with the top-level %s: section; keep only %s: (%s is deprecated)", top, top, old)
			case from[top] != "":
				var current any = cfg.Mail.Providers
				if top == "reason_rules" {
					current = cfg.Mail.ReasonRules
				}
				if !reflect.DeepEqual(current, value) {
					ps.Addf(old, "differs from %s; there is one %s set for every collector now: move one of them to the top-level %s: section", from[top], top, top)
				}
			default:
				from[top] = old
				if top == "providers" {
					cfg.Mail.Providers = k.Moved.Providers
				} else {
					cfg.Mail.ReasonRules = k.Moved.ReasonRules
				}
			}
		}
	}
	return warnings
}

// checkProviderLabels refuses provider names of enabled sections that the
// shared provider set does not have: dashboards join the collectors'
// series on the label.
func checkProviderLabels(cfg *Config, ps *config.Problems) {
	for _, s := range cfg.Sections {
		pl, ok := s.Config.(collectors.ProviderLabels)
		if !ok || !s.Enabled {
			continue
		}
		labels := pl.ProviderLabels()
		paths := make([]string, 0, len(labels))
		for p := range labels {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			if name := labels[p]; !cfg.Taxonomy.Providers.Has(name) {
				ps.Addf(config.JoinPath(s.Name, p), "%q is not a provider of the providers: set (%v); map its domains to it under the top-level providers: section, or use one of those", name, cfg.Taxonomy.Providers.Names())
			}
		}
	}
}

// mailChanged reports whether a reload changes the taxonomy, which every
// collector was built with.
func mailChanged(old, cur *Config) bool { return !reflect.DeepEqual(old.Mail, cur.Mail) }
