package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

// TestInvalidConfigs checks every testdata/invalid-*.yml against its exact
// messages, in testdata/invalid-*.yml.err.
func TestInvalidConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid-*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid configs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(f + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = LoadFile(f, noEnv)
			if err == nil {
				t.Fatal("accepted an invalid config")
			}
			if got := err.Error() + "\n"; got != string(want) {
				t.Errorf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValidConfig(t *testing.T) {
	text := `
state_dir: /tmp/ms
testtick:
  interval: 30s
  targets: [a, b]
testcrash:
  enabled: false
tracing:
  otlp: {endpoint: "collector:4317", insecure: true}
  sample_ratio: 0.25
`
	cfg, err := Parse("ok.yml", []byte(text), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != "/tmp/ms" || cfg.Tracing.SampleRatio != 0.25 || !cfg.Tracing.OTLP.Insecure {
		t.Errorf("got %+v", cfg)
	}
	en := cfg.Enabled()
	if len(en) != 1 || en[0].Name != "testtick" {
		t.Fatalf("enabled: %+v", en)
	}
	tc := en[0].Config.(*tickConfig)
	if tc.Interval != 30*time.Second || len(tc.Targets) != 2 {
		t.Errorf("testtick config: %+v", tc)
	}
}

func TestEmptySectionEnablesWithDefaults(t *testing.T) {
	cfg, err := Parse("ok.yml", []byte("testtick:\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	en := cfg.Enabled()
	if len(en) != 1 || en[0].Config.(*tickConfig).Interval != time.Minute {
		t.Fatalf("enabled: %+v", en)
	}
}

func TestSecretsAreRedactedInConfigOutput(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("file-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"TOKEN": "env-secret-value", "PW": "env-password-value"}[k]
		return v, ok
	}
	text := "testtick:\n  password: ${PW}\ntracing:\n  otlp:\n    endpoint: c:4317\n    headers: {authorization: \"Bearer ${TOKEN}\"}\n"
	cfg, err := Parse("ok.yml", []byte(text), env)
	if err != nil {
		t.Fatal(err)
	}
	tick := func(c *Config) *tickConfig {
		t.Helper()
		for _, s := range c.Sections {
			if s.Name == "testtick" {
				return s.Config.(*tickConfig)
			}
		}
		t.Fatal("no testtick section")
		return nil
	}
	if got := tick(cfg).Password.Reveal(); got != "env-password-value" {
		t.Fatalf("password from the environment: %q", got)
	}
	// A secret from a file stays in its file: the config holds the path.
	fromFile, err := Parse("ok.yml", []byte("testtick:\n  password_file: "+pw+"\n"), env)
	if err != nil {
		t.Fatal(err)
	}
	if c := tick(fromFile); c.Password != "" || c.PasswordFile != pw {
		t.Fatalf("password_file: config holds %+v", c)
	}
	out, err := cfg.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"file-secret-value", "env-secret-value", "env-password-value"} {
		if strings.Contains(string(out), s) {
			t.Errorf("/config shows a secret:\n%s", out)
		}
	}
	if strings.Count(string(out), "<secret>") != 2 {
		t.Errorf("want two <secret> markers:\n%s", out)
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, err := LoadFile("testdata/does-not-exist.yml", noEnv)
	if err == nil || err.Error() != "cannot read config file testdata/does-not-exist.yml: no such file or directory" {
		t.Errorf("got %v", err)
	}
}

// TestUnsetVariableHidesNothing: an unset ${VAR} is one problem among all
// the others of the file, not the only one reported.
func TestUnsetVariableHidesNothing(t *testing.T) {
	_, err := Parse("m.yml", []byte("testtick:\n  interval: ${NOPE}\n  targets: [\"${ALSO_NOPE}\", \"\"]\n  colour: red\ntracing:\n  sample_ratio: 7\n"), noEnv)
	if err == nil {
		t.Fatal("no problem")
	}
	got := err.Error()
	for _, want := range []string{
		"m.yml:2: testtick.interval: environment variable NOPE is not set",
		"m.yml:3: testtick.targets[0]: environment variable ALSO_NOPE is not set",
		"testtick.targets[1]: must not be empty",
		`m.yml:4: testtick.colour: unknown key "colour"`,
		"tracing.sample_ratio",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("problems lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "want a duration") {
		t.Errorf("the unset variable's key is reported twice:\n%s", got)
	}
}
