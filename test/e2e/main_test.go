package e2e

import (
	"os"
	"testing"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// TestMain runs the suite, then the checks that need all of it to have run
// (metricUse), whatever the order of the test files.
func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, metricUse))
}
