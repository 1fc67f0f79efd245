package dnsbl

import (
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/config"
)

// OnDemandConfig is the config of a one-off check (mailscope probe dnsbl):
// catalog zones by name (DQS zones with the key read from dqsKeyFile), any
// other name as a generic RFC 5782 zone, and the targets given later to
// Run. An empty resolver is the system's; no zone means DefaultZones.
func OnDemandConfig(resolver string, zones []string, dqsKeyFile string, timeout time.Duration) (*Config, error) {
	c := NewConfig()
	c.Resolver = resolver
	c.DQSKeyFile = dqsKeyFile
	if timeout > 0 {
		c.Timeout = timeout
	}
	if len(zones) > 0 {
		c.Zones = nil
		var ps config.Problems
		for _, name := range zones {
			n, kindText, hasKind := strings.Cut(strings.TrimSpace(name), ":")
			n = strings.ToLower(strings.TrimSuffix(n, "."))
			var kind Kind
			if hasKind {
				var ok bool
				if kind, ok = ParseKind(kindText); !ok {
					ps.Addf("zone", "%q: the kind after %q must be ipv4, ipv6 or domain, got %q", name, ":", kindText)
					continue
				}
			}
			if _, ok := lookupZone(n, ""); ok || defunctReason(n) != "" {
				if hasKind {
					ps.Addf("zone", "%q: %s is in the catalog, which knows its kind; give it without %q", name, n, ":"+kindText)
					continue
				}
				c.Zones = append(c.Zones, n)
				continue
			}
			if !isDomain(n) {
				ps.Addf("zone", "%q is not a DNS name", name)
				continue
			}
			c.GenericZones = append(c.GenericZones, GenericZoneName{Name: n, Kind: kind})
		}
		if err := ps.Err(); err != nil {
			return nil, err
		}
	}
	if _, ps := c.compile(false); len(ps) > 0 {
		return nil, ps.Err()
	}
	return c, nil
}
