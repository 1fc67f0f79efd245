// Package configtest helps tests read the problems a Validate method
// returns.
package configtest

import (
	"errors"
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
