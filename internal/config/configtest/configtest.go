// Package configtest helps tests read the problems a Validate method
// returns, and write the secret files a config names.
package configtest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/mailscope/mailscope/internal/config"
)

// Lines returns each problem of err as "path: msg", nil for a nil err. It
// fails the test when err is not a config.Problems, since Validate must
// report every problem with its key path.
func Lines(t testing.TB, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps config.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate returned %T (%v), want config.Problems", err, err)
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.Path+": "+p.Msg)
	}
	return out
}

// WriteSecret writes value and a newline to a new 0600 file in a private
// temporary directory, as a *_file secret, and returns its path.
func WriteSecret(t testing.TB, name, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
