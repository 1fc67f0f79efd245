// Package config holds the pieces every config section shares: the Secret
// type, the Problems list that Validate methods fill with key paths, and the
// strict YAML decoding that turns a file into structs while reporting every
// unknown key and type mistake with its line.
package config

import (
	"fmt"
	"log/slog"
	"strings"
)

// redacted is what a Secret shows wherever it is printed.
const redacted = "<secret>"

// Secret is a string that never prints itself: fmt, slog, YAML and JSON all
// see "<secret>". Only Reveal returns the value, for the one place that needs
// it (an AUTH command, a DNS query label).
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return s.String() }

// Format makes every verb (%s, %v, %q, %x ...) print the redacted form.
func (s Secret) Format(f fmt.State, verb rune) {
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalYAML implements yaml.Marshaler, so a dumped config never carries it.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// ReadSecretFile reads a secret from a *_file field: the whole file, without
// its trailing newline. The error names the file and the reason, never the
// content.
func ReadSecretFile(path string) (Secret, error) {
	b, err := ReadRegularFile("secret file", path, MaxSecretFileSize)
	if err != nil {
		return "", err
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return Secret(v), nil
}

// ResolveSecret picks a secret from an inline value (which may come from
// ${ENV} expansion) or a *_file path, and reports a problem under key when
// both or, if required, neither are set.
func ResolveSecret(ps *Problems, key string, inline Secret, file string, required bool) Secret {
	switch {
	case inline != "" && file != "":
		ps.Addf(key, "set either %s or %s_file, not both", key, key)
	case file != "":
		s, err := ReadSecretFile(file)
		if err != nil {
			ps.Add(key+"_file", err.Error())
			return ""
		}
		return s
	case inline != "":
		return inline
	case required:
		ps.Addf(key, "missing: set %s_file (or %s from an environment variable)", key, key)
	}
	return ""
}
