package main

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors"
	"github.com/mailscope/mailscope/exporters/otel"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestEveryConfigKeyIsDocumented walks the config structs of the agent and
// of every registered collector and checks that each key appears in the
// docs (docs/configuration.md or the collector's docs/collectors/*.md) as
// `key` or `key:`, so the reference cannot fall behind the code.
func TestEveryConfigKeyIsDocumented(t *testing.T) {
	root := filepath.Join("..", "..")
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	general := read("docs/configuration.md")
	collectorDocs := ""
	files, _ := filepath.Glob(filepath.Join(root, "docs", "collectors", "*.md"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		collectorDocs += string(b)
	}
	var missing []string
	check := func(section string, v any, docs string) {
		for _, key := range yamlKeys(reflect.TypeOf(v), "") {
			leaf := key[strings.LastIndex(key, ".")+1:]
			if !strings.Contains(docs, "`"+leaf+"`") && !strings.Contains(docs, leaf+":") && !strings.Contains(docs, "`"+key+"`") && !strings.Contains(docs, "`"+section+"."+key+"`") {
				missing = append(missing, section+"."+key)
			}
		}
	}
	check("tracing", otel.DefaultConfig(), general)
	check("", mailclass.Config{}, general)
	for _, f := range collectors.All() {
		check(f.Name, f.NewConfig(), collectorDocs)
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("config keys no doc mentions:\n%s", strings.Join(missing, "\n"))
	}
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	secretType   = reflect.TypeOf(config.Secret(""))
)

// yamlKeys lists the dotted key paths of a config struct.
func yamlKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == durationType || t == secretType {
		return nil
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			out = append(out, yamlKeys(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		key := name
		if prefix != "" {
			key = prefix + "." + name
		}
		out = append(out, key)
		out = append(out, yamlKeys(f.Type, key)...)
	}
	return out
}
