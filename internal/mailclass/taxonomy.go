package mailclass

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/mailscope/mailscope/internal/config"
)

// Config is the top-level `providers:` and `reason_rules:` sections of the
// config file.
type Config struct {
	// Providers adds to or overrides the default destination grouping
	// (domain or MX domain -> provider name; "" removes a default).
	Providers map[string]string `yaml:"providers,omitempty"`
	// ReasonRules are checked before the built-in rules.
	ReasonRules []ReasonRule `yaml:"reason_rules,omitempty"`
}

// IsZero reports whether c sets nothing (the built-in tables alone).
func (c Config) IsZero() bool { return reflect.ValueOf(c).IsZero() }

// Taxonomy is a built Config: the provider map and the reason classifier.
// It is read-only, so one is shared by every collector and goroutine.
type Taxonomy struct {
	Providers  *Providers
	Classifier *Classifier
}

// Validate returns every problem, with key paths such as
// "providers.example.com" and "reason_rules[2]".
func (c Config) Validate() error {
	var ps config.Problems
	domains := make([]string, 0, len(c.Providers))
	for d := range c.Providers {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	for _, d := range domains {
		if err := checkProvider(d, c.Providers[d]); err != nil {
			ps.Add(config.JoinPath("providers", d), err.Error())
		}
	}
	for i, r := range c.ReasonRules {
		if _, err := checkRule(r); err != nil {
			ps.Add(fmt.Sprintf("reason_rules[%d]", i), err.Error())
		}
	}
	return ps.Err()
}

// Build turns a valid c into a Taxonomy.
func Build(c Config) (*Taxonomy, error) {
	pr, err := NewProviders(c.Providers)
	if err != nil {
		return nil, err
	}
	cl, err := NewClassifier(c.ReasonRules)
	if err != nil {
		return nil, err
	}
	return &Taxonomy{Providers: pr, Classifier: cl}, nil
}

// defaultTaxonomy is the built-in tables, built once.
var defaultTaxonomy = func() *Taxonomy {
	t, err := Build(Config{})
	if err != nil {
		panic("mailclass: the built-in tables do not build: " + err.Error())
	}
	return t
}()

// Default returns the taxonomy of the built-in tables alone, for
// collectors built outside an agent (the CLI, tests).
func Default() *Taxonomy { return defaultTaxonomy }

// OrDefault returns t, or Default when t is nil.
func (t *Taxonomy) OrDefault() *Taxonomy {
	if t == nil {
		return defaultTaxonomy
	}
	return t
}
