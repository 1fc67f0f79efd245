package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
)

// module is a Go module the build uses, as go list reports it.
type module struct {
	Path    string
	Version string
	Dir     string // in the module cache; empty until downloaded
	Main    bool
}

// listedPackage is the part of go list -json's package record used here.
type listedPackage struct {
	ImportPath string
	Module     *module
	Imports    []string
	Standard   bool
}

// goList runs go list -json with args in dir and decodes its stream of
// package records.
func goList(dir string, args ...string) ([]listedPackage, error) {
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Module,Imports,Standard"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %v: %w: %s", args, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	var pkgs []listedPackage
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("decode go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// directModules are the modules whose packages the main module's own
// packages (and their tests) import: what go.mod would mark direct, read
// from the code so a stale "// indirect" comment cannot hide one.
func directModules(dir string) ([]module, error) {
	pkgs, err := goList(dir, "-deps", "-test", "./...")
	if err != nil {
		return nil, err
	}
	byPath := make(map[string]*module, len(pkgs))
	for _, p := range pkgs {
		if p.Module != nil {
			byPath[p.ImportPath] = p.Module
		}
	}
	seen := map[string]module{}
	for _, p := range pkgs {
		if p.Module == nil || !p.Module.Main {
			continue
		}
		for _, imp := range p.Imports {
			if m, ok := byPath[imp]; ok && !m.Main {
				seen[m.Path] = *m
			}
		}
	}
	return sortedModules(seen), nil
}

// shippedModules are the modules compiled into the mailscope binary: the
// ones whose licences the release artifacts must carry.
func shippedModules(dir string) ([]module, error) {
	pkgs, err := goList(dir, "-deps", "./cmd/mailscope")
	if err != nil {
		return nil, err
	}
	seen := map[string]module{}
	for _, p := range pkgs {
		if p.Module != nil && !p.Module.Main {
			seen[p.Module.Path] = *p.Module
		}
	}
	return sortedModules(seen), nil
}

func sortedModules(set map[string]module) []module {
	out := make([]module, 0, len(set))
	for _, m := range set {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
