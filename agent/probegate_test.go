package agent

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/dnsx"
)

// TestProbeConfigLimits: the probe: section's limits are validated, and an
// admitted probe runs on /probe's own DNS capacity.
func TestProbeConfigLimits(t *testing.T) {
	_, err := Parse("m.yml", []byte("probe:\n  timeout_max: 1h\n  concurrency: 0\n  allow: [\"bad name\", 10.0.0.0/33, example.org, 192.0.2.0/24, \"*\"]\n"), noEnv)
	for _, want := range []string{
		"probe.timeout_max: must be between 1s and 5m0s, got 1h0m0s",
		"probe.concurrency: must be between 1 and 1024, got 0",
		`probe.allow[0]: "bad name" is not a domain name`,
		`probe.allow[1]: "10.0.0.0/33" is not a CIDR prefix`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
	if err != nil && strings.Contains(err.Error(), "allow[2]") {
		t.Errorf("a valid allow entry refused: %v", err)
	}

	r := startAgent(t, "probe:\n  allow: [192.0.2.0/24]\n  timeout_max: 20s\n")
	ctx, err := r.a.admitProbe(context.Background(), "dnsbl", "192.0.2.9")
	if err != nil {
		t.Fatal(err)
	}
	if !dnsx.IsProbeContext(ctx) {
		t.Error("an admitted probe does not run on /probe's DNS limiter")
	}
	if l := r.a.probeLimits(HandlerOptions{WriteTimeout: 25 * time.Second}); l.TimeoutMax != 15*time.Second || l.Concurrency != DefaultProbeConcurrency {
		t.Errorf("limits within a 25 s write timeout: %+v, want 15s and %d", l, DefaultProbeConcurrency)
	}
	if l := r.a.probeLimits(HandlerOptions{}); l.TimeoutMax != 20*time.Second {
		t.Errorf("limits: %+v, want timeout_max 20s", l)
	}
}
