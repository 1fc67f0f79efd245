package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// licence is one licence a module's licence file was recognised as.
type licence struct {
	// ID is the SPDX identifier.
	ID string
	// Compatible says whether code under it may be linked into an
	// Apache-2.0 program and shipped in its binaries.
	Compatible bool
}

// marker recognises a licence by phrases of its text, all of which must be
// present (after collapsing white space). Order matters: the first match
// wins, so the copyleft licences, whose texts can quote others, come first.
type marker struct {
	licence
	phrases []string
}

var markers = []marker{
	{licence{"AGPL-3.0", false}, []string{"GNU AFFERO GENERAL PUBLIC LICENSE"}},
	{licence{"LGPL", false}, []string{"GNU LESSER GENERAL PUBLIC LICENSE"}},
	{licence{"LGPL", false}, []string{"GNU LIBRARY GENERAL PUBLIC LICENSE"}},
	{licence{"GPL", false}, []string{"GNU GENERAL PUBLIC LICENSE"}},
	{licence{"SSPL-1.0", false}, []string{"Server Side Public License"}},
	{licence{"BUSL-1.1", false}, []string{"Business Source License"}},
	// MPL-2.0 is file-level copyleft: using unmodified MPL code in an
	// Apache-2.0 program is allowed (section 3.3), but it obliges the
	// binaries to say where its source is; refuse it until someone
	// decides that on purpose.
	{licence{"MPL-2.0", false}, []string{"Mozilla Public License Version 2.0"}},
	{licence{"Apache-2.0", true}, []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION"}},
	{licence{"MIT", true}, []string{"Permission is hereby granted, free of charge, to any person obtaining a copy", "THE SOFTWARE IS PROVIDED \"AS IS\""}},
	{licence{"ISC", true}, []string{"Permission to use, copy, modify, and", "distribute this software for any purpose with or without fee is hereby granted"}},
	{licence{"BSD-3-Clause", true}, []string{"Redistribution and use in source and binary forms", "Neither the name"}},
	{licence{"BSD-3-Clause", true}, []string{"Redistribution and use in source and binary forms", "names of its contributors may be used"}},
	{licence{"BSD-2-Clause", true}, []string{"Redistribution and use in source and binary forms", "THIS SOFTWARE IS PROVIDED BY"}},
}

// classify names the licence of one licence text, or reports it unknown.
func classify(text []byte) (licence, bool) {
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, m := range markers {
		all := true
		for _, p := range m.phrases {
			if !strings.Contains(flat, p) {
				all = false
				break
			}
		}
		if all {
			return m.licence, true
		}
	}
	return licence{}, false
}

// maxLicenceFile bounds what is read of one licence file.
const maxLicenceFile = 1 << 20

// licenceFiles lists the licence files at the root of a module directory:
// LICENSE, LICENCE, COPYING, with any extension or suffix (LICENSE.md,
// LICENSE.libyaml).
func licenceFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read module directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		name := strings.ToUpper(e.Name())
		if e.Type().IsRegular() && (strings.HasPrefix(name, "LICENSE") || strings.HasPrefix(name, "LICENCE") || strings.HasPrefix(name, "COPYING")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// moduleLicences classifies every licence file of a module directory. A
// module with none, or with a file that is not recognised, is an error:
// somebody must read it.
func moduleLicences(dir string) ([]licence, error) {
	files, err := licenceFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no LICENSE or COPYING file in %s", dir)
	}
	var out []licence
	for _, f := range files {
		b, err := readBounded(f)
		if err != nil {
			return nil, err
		}
		l, ok := classify(b)
		if !ok {
			return nil, fmt.Errorf("%s: licence not recognised; read it and add it to tools/licenses if it is compatible", f)
		}
		out = append(out, l)
	}
	return out, nil
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLicenceFile))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
