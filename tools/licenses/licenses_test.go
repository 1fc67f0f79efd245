package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClassify recognises the permissive licences mailscope's modules use
// and refuses the copyleft ones, from their real texts (Debian's
// /usr/share/common-licenses, present on every Debian system).
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		file       string
		id         string
		compatible bool
	}{
		{"../../LICENSE", "Apache-2.0", true},
		{"/usr/share/common-licenses/GPL-2", "GPL", false},
		{"/usr/share/common-licenses/GPL-3", "GPL", false},
		{"/usr/share/common-licenses/LGPL-2.1", "LGPL", false},
		{"/usr/share/common-licenses/LGPL-3", "LGPL", false},
		{"/usr/share/common-licenses/MPL-2.0", "MPL-2.0", false},
		{"/usr/share/common-licenses/BSD", "BSD-3-Clause", true},
	} {
		b, err := os.ReadFile(c.file)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		got, ok := classify(b)
		if !ok || got.ID != c.id || got.Compatible != c.compatible {
			t.Errorf("%s: got %+v (recognised %v), want %s compatible=%v", c.file, got, ok, c.id, c.compatible)
		}
	}
	mit := "Copyright (c) 2026 X\n\nPermission is hereby granted, free of charge, to any person obtaining a copy\nof this software ...\nTHE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND"
	if got, ok := classify([]byte(mit)); !ok || got.ID != "MIT" {
		t.Errorf("MIT text: got %+v (recognised %v)", got, ok)
	}
	if got, ok := classify([]byte("All rights reserved. Do not copy.")); ok {
		t.Errorf("a proprietary notice was recognised as %+v", got)
	}
}

// TestModuleLicences refuses a module whose licence file is copyleft,
// unknown or missing.
func TestModuleLicences(t *testing.T) {
	dir := t.TempDir()
	if _, err := moduleLicences(dir); err == nil || !strings.Contains(err.Error(), "no LICENSE") {
		t.Errorf("no licence file: err = %v", err)
	}
	gpl, err := os.ReadFile("/usr/share/common-licenses/GPL-3")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "COPYING"), gpl, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = moduleLicenceIDs(module{Path: "example.com/gpl", Version: "v1.0.0", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "GPL is not compatible") {
		t.Errorf("GPL module: err = %v", err)
	}
}

// TestDependencies is the check itself on this repository: every direct
// and every shipped module under a compatible licence, every direct one in
// docs/dependencies.md.
func TestDependencies(t *testing.T) {
	var out strings.Builder
	if err := check(&out, "../.."); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "github.com/prometheus/client_golang") {
		t.Errorf("the check did not list client_golang:\n%s", out.String())
	}
}
