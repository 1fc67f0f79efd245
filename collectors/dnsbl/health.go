package dnsbl

import (
	"context"
	"fmt"
	"net/netip"
)

// Health is the outcome of a zone's RFC 5782 §5 test: a test entry that
// must be listed (127.0.0.2, TEST) and one that must not (127.0.0.1,
// INVALID). It catches the failures that look like answers: a dead list or
// a refusing resolver that answers NXDOMAIN for everything (a false
// "clean"), and a wildcarded zone that lists everything (a false listing).
type Health struct {
	Zone string `json:"zone"`
	// State is NotListed when the zone passed (it behaves), ZoneBroken when
	// it failed, ZoneError when it answered an error code, Unknown when the
	// test could not be asked, and "" when the zone has no test.
	State  State  `json:"state"`
	Detail string `json:"detail,omitempty"`
	// noTestEntry is set when the zone failed because its positive test
	// entry is not listed: the zone may be of another kind (DetectKind).
	noTestEntry bool
}

// Healthy reports whether the zone passed its test (or has none).
func (h Health) Healthy() bool { return h.State == NotListed || h.State == "" }

// healthTargets returns the zone's two test targets, or false when it has
// none.
func (z *Zone) healthTargets() (listed, clean Target, ok bool) {
	if z.Kind == KindDomain {
		if z.HealthListed == "" || z.HealthClean == "" {
			return Target{}, Target{}, false
		}
		return Target{Domain: z.HealthListed}, Target{Domain: z.HealthClean}, true
	}
	if z.noHealth {
		return Target{}, Target{}, false
	}
	if z.Kind == KindIPv6 {
		return Target{Addr: netip.MustParseAddr("::ffff:127.0.0.2")}, Target{Addr: netip.MustParseAddr("::ffff:127.0.0.1")}, true
	}
	return Target{Addr: netip.MustParseAddr("127.0.0.2")}, Target{Addr: netip.MustParseAddr("127.0.0.1")}, true
}

// DetectKind finds the kind of a zone given by name only from the RFC 5782
// health test it passes: IPv4 (127.0.0.2), then IPv6 (::ffff:127.0.0.2),
// then domain (TEST). It returns the zone with its kind and that test's
// health. Only a missing positive test entry moves on to the next kind: a
// zone that lists its negative entry (a wildcard), answers an error code
// or cannot be asked keeps that outcome, never a guess. A zone that lists
// no test entry of any kind keeps the IPv4 test's outcome, with a hint to
// give the kind.
func DetectKind(ctx context.Context, r Resolver, z Zone) (Zone, Health) {
	z.detect = false
	var first Health
	for _, kind := range []Kind{KindIP, KindIPv6, KindDomain} {
		try := z
		try.Kind = kind
		h := CheckHealth(ctx, r, &try)
		if h.Healthy() {
			if kind == KindIP {
				// An IPv4 list may list IPv6 too: ask whether it passes
				// that test as well.
				v6 := z
				v6.Kind = KindIPv6
				try.IPv6 = CheckHealth(ctx, r, &v6).Healthy()
			}
			return try, h
		}
		if kind == KindIP {
			first = h
		}
		if !h.noTestEntry {
			break
		}
	}
	if first.noTestEntry {
		first.Detail += "; it lists no RFC 5782 test entry (IPv4 127.0.0.2, IPv6 ::ffff:127.0.0.2, domain TEST): give its kind, --zone=" + z.Name + ":ipv4|ipv6|domain"
	}
	z.Kind = KindIP
	return z, first
}

// CheckHealth runs the zone's health test.
func CheckHealth(ctx context.Context, r Resolver, z *Zone) Health {
	h := Health{Zone: z.Name}
	listedT, cleanT, ok := z.healthTargets()
	if !ok {
		return h
	}
	clean := Check(ctx, r, z, cleanT)
	switch clean.State {
	case Listed:
		h.State, h.Detail = ZoneBroken, fmt.Sprintf("health test: %s is listed, but must not be: the zone lists everything (wildcard)", cleanT)
		return h
	case ZoneError, ZoneBroken, Unknown:
		h.State, h.Detail = clean.State, "health test "+cleanT.String()+": "+clean.Detail
		return h
	}
	listed := Check(ctx, r, z, listedT)
	switch listed.State {
	case NotListed:
		h.State, h.Detail = ZoneBroken, fmt.Sprintf("health test: %s is not listed, but must be: the zone is dead, or the resolver hides its answers", listedT)
		h.noTestEntry = true
	case ZoneError, ZoneBroken, Unknown:
		h.State, h.Detail = listed.State, "health test "+listedT.String()+": "+listed.Detail
	default:
		h.State = NotListed
	}
	return h
}

// ApplyHealth overrides a result with its zone's health: a broken zone's
// answers are discarded (zone_broken), and a zone that answered its test
// with an error code makes every answer of the sweep an error too, because
// a list refusing us may answer NXDOMAIN for everything. An unknown test
// leaves each result to its own answer.
func ApplyHealth(res Result, h Health) Result {
	if h.State != ZoneBroken && h.State != ZoneError {
		return res
	}
	if res.State == Unknown || res.State == h.State {
		return res
	}
	res.State, res.Codes, res.Reason, res.Delist = h.State, nil, "", ""
	res.Error, res.Detail = "health", h.Detail
	return res
}
