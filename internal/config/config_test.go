package config

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

type inner struct {
	Zones    []string      `yaml:"zones"`
	Interval time.Duration `yaml:"interval"`
	Port     int           `yaml:"port"`
	Password Secret        `yaml:"password"`
}

type outer struct {
	Name  string            `yaml:"name"`
	Inner inner             `yaml:"inner"`
	List  []inner           `yaml:"list"`
	Map   map[string]inner  `yaml:"map"`
	Flat  map[string]string `yaml:"flat"`
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func decode(t *testing.T, text string, vars map[string]string) (outer, error) {
	t.Helper()
	var out outer
	doc, err := Parse("c.yml", []byte(text), env(vars))
	if err != nil {
		return out, err
	}
	return out, doc.Finish(doc.Decode(doc.Root, "", &out))
}

func TestDecodeProblems(t *testing.T) {
	tests := []struct {
		name, text string
		vars       map[string]string
		want       []string
	}{
		{
			name: "unknown key with suggestion",
			text: "name: x\ninner:\n  zonez: [a]\n",
			want: []string{`c.yml:3: inner.zonez: unknown key "zonez" (did you mean "zones"?)`},
		},
		{
			name: "unknown key without a close match lists the known ones",
			text: "inner:\n  colour: red\n",
			want: []string{`c.yml:2: inner.colour: unknown key "colour" (known: interval, password, port, zones)`},
		},
		{
			name: "unknown key in a list element and a map value",
			text: "list:\n  - port: 1\n  - prot: 2\nmap:\n  a.example:\n    intervall: 1s\n",
			want: []string{
				`c.yml:3: list[1].prot: unknown key "prot" (did you mean "port"?)`,
				`c.yml:6: map.a.example.intervall: unknown key "intervall" (did you mean "interval"?)`,
			},
		},
		{
			name: "wrong types name the key and the whole value",
			text: "inner:\n  port: twentyfive\n  interval: 5 minutes\n  zones: zen\n",
			want: []string{
				`c.yml:2: inner.port: want an integer, got string "twentyfive"`,
				`c.yml:3: inner.interval: want a duration such as 30s, 5m or 1h, got string "5 minutes"`,
				`c.yml:4: inner.zones: want a list, got string "zen"`,
			},
		},
		{
			name: "a mapping where a scalar belongs",
			text: "name:\n  first: a\n",
			want: []string{`c.yml:2: name: want a string, got a mapping`},
		},
		{
			name: "unset environment variable",
			text: "name: ${NOPE}\n",
			want: []string{`c.yml:1: name: environment variable NOPE is not set`},
		},
		{
			name: "bad variable name and unterminated reference",
			text: "name: ${1X}\nflat:\n  a: ${OPEN\n",
			want: []string{
				`c.yml:1: name: invalid environment variable name "1X" in ${...}`,
				`c.yml:3: flat.a: unterminated "${" (write "$${" for a literal "${")`,
			},
		},
		{
			name: "syntax error",
			text: "name: [unclosed\n",
			want: []string{`c.yml:1: invalid YAML: did not find expected ',' or ']'`},
		},
		{
			name: "duplicate key",
			text: "name: a\nname: b\n",
			want: []string{`c.yml:2: name: mapping key "name" already defined at line 1`},
		},
		{
			name: "top level not a mapping",
			text: "- a\n- b\n",
			want: []string{`c.yml:1: the top level must be a mapping of sections (key: value)`},
		},
		{
			name: "a value from the environment is never echoed",
			text: "inner:\n  port: ${PORT}\n",
			vars: map[string]string{"PORT": "hunter2-secret"},
			want: []string{`c.yml:2: inner.port: want an integer, got string (from the environment)`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(t, tc.text, tc.vars)
			if err == nil {
				t.Fatal("no error")
			}
			got := strings.Split(err.Error(), "\n")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestDecodeExpandsEnvironment(t *testing.T) {
	out, err := decode(t, "name: \"${A}-${B}\"\ninner:\n  port: ${PORT}\n  password: ${PW}\nflat:\n  literal: \"$${NOT}\"\n  colon: ${COLON}\n",
		map[string]string{"A": "x", "B": "y", "PORT": "2525", "PW": "s3cret: value", "COLON": "a: b\nc"})
	if err != nil {
		t.Fatal(err)
	}
	if out.Name != "x-y" || out.Inner.Port != 2525 || out.Inner.Password.Reveal() != "s3cret: value" {
		t.Errorf("got %+v", out)
	}
	if out.Flat["literal"] != "${NOT}" {
		t.Errorf("escape: got %q", out.Flat["literal"])
	}
	// Expansion is on values, so a value that looks like YAML stays a value.
	if out.Flat["colon"] != "a: b\nc" {
		t.Errorf("structure from a value: got %q", out.Flat["colon"])
	}
}

func TestProblemsAreScrubbedOfEnvironmentValues(t *testing.T) {
	doc, err := Parse("c.yml", []byte("flat:\n  a: ${PW}\n"), env(map[string]string{"PW": "hunter2hunter2"}))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	ps.Addf("flat.a", "cannot connect with %s", "hunter2hunter2")
	err = doc.Finish(ps)
	if strings.Contains(err.Error(), "hunter2") || err.Error() != "c.yml:2: flat.a: cannot connect with <secret>" {
		t.Errorf("got %q", err)
	}
}

func TestFinishFindsLinesOfValidationPaths(t *testing.T) {
	text := "list:\n  - port: 1\n  - port: 2\nmap:\n  mx.example.com:\n    port: 3\n"
	doc, err := Parse("c.yml", []byte(text), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	var ps Problems
	ps.Add("list[1].port", "too small")
	ps.Add("map.mx.example.com.port", "too small")
	ps.Add("map.absent", "missing")
	err = doc.Finish(ps)
	want := "c.yml:3: list[1].port: too small\nc.yml:4: map.absent: missing\nc.yml:6: map.mx.example.com.port: too small"
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	var logs strings.Builder
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "password", s)
	j, _ := json.Marshal(struct{ P Secret }{s})
	var back struct{ P string }
	if err := json.Unmarshal(j, &back); err != nil || back.P != "<secret>" {
		t.Errorf("JSON: %s", j)
	}
	y, _ := yaml.Marshal(struct{ P Secret }{s})
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %#v %+v", s, s, s, s, s, s), logs.String(), string(y),
	} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret printed: %s", out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("no <secret> marker in %q", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Error("Reveal lost the value")
	}
	if Secret("").String() != "" {
		t.Error("an empty secret should print empty, so a missing one is visible")
	}
}

func TestResolveSecret(t *testing.T) {
	dir := t.TempDir()
	file := dir + "/pw"
	if err := writeFile(file, "from-file\n"); err != nil {
		t.Fatal(err)
	}
	var ps Problems
	if got := ResolveSecret(&ps, "password", "", file, true); got.Reveal() != "from-file" {
		t.Errorf("file: got %q", got.Reveal())
	}
	ResolveSecret(&ps, "password", "inline", file, true)
	ResolveSecret(&ps, "password", "", "", true)
	ResolveSecret(&ps, "password", "", dir+"/missing", true)
	want := "password: set either password or password_file, not both\n" +
		"password: missing: set password_file (or password from an environment variable)\n" +
		"password_file: cannot read secret file " + dir + "/missing: no such file or directory"
	if ps.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", ps.Error(), want)
	}
}

func TestJoinPath(t *testing.T) {
	for _, c := range [][3]string{{"", "a", "a"}, {"a", "", "a"}, {"a", "b", "a.b"}, {"a", "[2]", "a[2]"}} {
		if got := JoinPath(c[0], c[1]); got != c[2] {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}

func TestCheckSchedule(t *testing.T) {
	cases := []struct {
		interval, jitter, min time.Duration
		want                  string
	}{
		{time.Hour, 5 * time.Minute, time.Second, ""},
		{0, 0, 0, "interval: must be positive, got 0s"},
		{500 * time.Millisecond, 0, time.Second, "interval: must be at least 1s, got 500ms"},
		{time.Minute, time.Minute, 0, "jitter: must be at least 0 and less than interval (1m0s), got 1m0s"},
		{time.Minute, -time.Second, 0, "jitter: must be at least 0 and less than interval (1m0s), got -1s"},
	}
	for _, c := range cases {
		var ps Problems
		ps.CheckSchedule(c.interval, c.jitter, c.min)
		got := ""
		if len(ps) > 0 {
			got = ps.Error()
		}
		if got != c.want {
			t.Errorf("CheckSchedule(%s, %s, %s) = %q, want %q", c.interval, c.jitter, c.min, got, c.want)
		}
	}
}
