package config

import (
	"net/url"
	"reflect"
	"sort"
	"strings"
)

// minScrubLen is the shortest secret value scrubbed from text: shorter
// ones would blank ordinary words and numbers.
const minScrubLen = 4

// SecretValues returns every non-empty Secret value in v (a config struct,
// pointer, slice or map of them), walking exported and unexported fields.
func SecretValues(v any) []string {
	var out []string
	seen := map[uintptr]bool{}
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		switch rv.Kind() {
		case reflect.Pointer, reflect.Interface:
			if rv.IsNil() {
				return
			}
			if rv.Kind() == reflect.Pointer {
				if seen[rv.Pointer()] {
					return
				}
				seen[rv.Pointer()] = true
			}
			walk(rv.Elem())
		case reflect.Struct:
			for i := range rv.NumField() {
				walk(rv.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range rv.Len() {
				walk(rv.Index(i))
			}
		case reflect.Map:
			it := rv.MapRange()
			for it.Next() {
				walk(it.Value())
			}
		case reflect.String:
			if rv.Type() == secretType && rv.Len() > 0 {
				out = append(out, rv.String())
			}
		}
	}
	walk(reflect.ValueOf(v))
	return out
}

// Scrubber removes secret values from text a peer sent back (an IMAP
// server's NO, an OAuth endpoint's error body, an OTLP collector's
// message) before it is logged or shown. The zero value and nil scrub
// nothing.
type Scrubber struct {
	r *strings.Replacer
}

// NewScrubber scrubs each value, and its URL-encoded form (as a form body
// or query echoes it), as "<secret>".
func NewScrubber(values []string) *Scrubber {
	forms := map[string]bool{}
	for _, v := range values {
		if len(v) < minScrubLen {
			continue
		}
		forms[v] = true
		forms[url.QueryEscape(v)] = true
		forms[url.PathEscape(v)] = true
	}
	if len(forms) == 0 {
		return &Scrubber{}
	}
	list := make([]string, 0, len(forms))
	for f := range forms {
		list = append(list, f)
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(list, func(i, j int) bool {
		return len(list[i]) > len(list[j]) || len(list[i]) == len(list[j]) && list[i] < list[j]
	})
	pairs := make([]string, 0, 2*len(list))
	for _, f := range list {
		pairs = append(pairs, f, redacted)
	}
	return &Scrubber{r: strings.NewReplacer(pairs...)}
}

// Scrub returns s with every secret value replaced.
func (sc *Scrubber) Scrub(s string) string {
	if sc == nil || sc.r == nil {
		return s
	}
	return sc.r.Replace(s)
}
