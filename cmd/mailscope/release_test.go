package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestChangelogNamesVersion: VERSION (what make build and make release
// stamp) is the newest release in CHANGELOG.md, so a release cannot be
// cut without its entry.
func TestChangelogNamesVersion(t *testing.T) {
	v, err := os.ReadFile(filepath.Join("..", "..", "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(v))
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(version) {
		t.Fatalf("VERSION %q is not a semantic version MAJOR.MINOR.PATCH", version)
	}
	log, err := os.ReadFile(filepath.Join("..", "..", "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	first := regexp.MustCompile(`(?m)^## (\S+)`).FindSubmatch(log)
	if first == nil || string(first[1]) != version {
		t.Errorf("CHANGELOG.md's newest release is %q, VERSION says %s", first, version)
	}
}

// TestPackagedConfigIsValid: the config the Debian package installs as
// /etc/mailscope/mailscope.yml loads, with the mta and queue collectors.
func TestPackagedConfigIsValid(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"check-config", "--config.file=" + filepath.Join("..", "..", "deploy", "mailscope.yml")}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "Collectors enabled: mta, queue") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
}
