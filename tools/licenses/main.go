// Command licenses checks that every Go module mailscope depends on
// directly, and every module compiled into its binary, is under a licence
// compatible with mailscope's Apache-2.0, by reading the modules' licence
// files in the module cache; and that docs/dependencies.md lists each
// direct dependency. With -notices it writes the licence texts of the
// modules in the binary, which the release artifacts carry.
//
//	go run ./tools/licenses            # check (also run as a test)
//	go run ./tools/licenses -notices   # THIRD_PARTY_LICENSES to stdout
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	notices := flag.Bool("notices", false, "write the licence texts of the modules compiled into the binary to stdout")
	root := flag.String("root", ".", "the mailscope module's directory")
	flag.Parse()
	var err error
	if *notices {
		err = writeNotices(os.Stdout, *root)
	} else {
		err = check(os.Stdout, *root)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "licenses:", err)
		os.Exit(1)
	}
}

// dependenciesDoc is where the direct dependencies are listed with why.
const dependenciesDoc = "docs/dependencies.md"

// check prints each direct and shipped module with its licences and
// returns every problem found, joined.
func check(w io.Writer, root string) error {
	direct, err := directModules(root)
	if err != nil {
		return err
	}
	shipped, err := shippedModules(root)
	if err != nil {
		return err
	}
	doc, err := os.ReadFile(root + "/" + dependenciesDoc)
	if err != nil {
		return fmt.Errorf("the list of dependencies: %w", err)
	}
	var problems []error
	isDirect := map[string]bool{}
	for _, m := range direct {
		isDirect[m.Path] = true
		if !strings.Contains(string(doc), "`"+m.Path+"`") {
			problems = append(problems, fmt.Errorf("%s: a direct dependency not listed in %s (say why it is there)", m.Path, dependenciesDoc))
		}
	}
	all := append(append([]module(nil), direct...), shipped...)
	done := map[string]bool{}
	for _, m := range all {
		if done[m.Path] {
			continue
		}
		done[m.Path] = true
		ids, err := moduleLicenceIDs(m)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		kind := "indirect"
		if isDirect[m.Path] {
			kind = "direct"
		}
		fmt.Fprintf(w, "%-70s %-9s %s\n", m.Path+" "+m.Version, kind, ids)
	}
	return errors.Join(problems...)
}

// moduleLicenceIDs names a module's licences, or says why it may not be
// used.
func moduleLicenceIDs(m module) (string, error) {
	if m.Dir == "" {
		return "", fmt.Errorf("%s %s: not in the module cache (run go mod download)", m.Path, m.Version)
	}
	ls, err := moduleLicences(m.Dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w", m.Path, m.Version, err)
	}
	var ids []string
	for _, l := range ls {
		if !l.Compatible {
			return "", fmt.Errorf("%s %s: licence %s is not compatible with Apache-2.0 distribution", m.Path, m.Version, l.ID)
		}
		ids = append(ids, l.ID)
	}
	return strings.Join(ids, ", "), nil
}

// writeNotices writes, for each module compiled into the binary, its path,
// version and licence texts: the notices the binary's licences ask to
// travel with it.
func writeNotices(w io.Writer, root string) error {
	shipped, err := shippedModules(root)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "mailscope is licensed under the Apache License 2.0 (LICENSE). Its binary includes")
	fmt.Fprintln(w, "the following Go modules, under the licences reproduced here.")
	for _, m := range shipped {
		if _, err := moduleLicenceIDs(m); err != nil {
			return err
		}
		files, err := licenceFiles(m.Dir)
		if err != nil {
			return err
		}
		for _, f := range files {
			b, err := readBounded(f)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\n%s\n%s %s (%s)\n%s\n\n%s\n", strings.Repeat("=", 78), m.Path, m.Version, f[len(m.Dir)+1:], strings.Repeat("=", 78), strings.TrimSpace(string(b)))
		}
	}
	return nil
}
