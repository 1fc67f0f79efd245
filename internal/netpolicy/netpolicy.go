// Package netpolicy decides which network destinations an outbound
// connection may reach. /probe checks targets a stranger names; for a
// target outside the configuration, the agent must not become a way into
// the host's own networks (loopback, private, link-local, CGNAT, multicast
// and the like), so the check is made on the resolved address in the
// dialer's Control hook, after every name was resolved, where no DNS
// answer or redirect can slip past it.
package netpolicy

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
)

// Destinations is the policy of one connection's destination.
type Destinations struct {
	// AllowPrivate lets connections reach internal addresses (a lab).
	AllowPrivate bool
	// Audit, when set, sees each address the policy allowed, just before
	// the connection is made, and may still refuse it. Tests record dials
	// with it; nil in production.
	Audit func(netip.AddrPort) error
}

// RefusedError says why a destination was refused.
type RefusedError struct {
	Addr   netip.AddrPort
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address (a /probe of a target outside the config connects only to public addresses; probe.allow_private_destinations opens it)", e.Addr, e.Reason)
}

// Check returns a *RefusedError when addr may not be reached.
func (d Destinations) Check(addr netip.AddrPort) error {
	if !d.AllowPrivate {
		if reason := Internal(addr.Addr()); reason != "" {
			return &RefusedError{Addr: addr, Reason: reason}
		}
	}
	if d.Audit != nil {
		return d.Audit(addr)
	}
	return nil
}

// Control is a net.Dialer Control function applying the policy to the
// address the socket is about to connect to.
func (d Destinations) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address and port", address)
	}
	return d.Check(ap)
}

// blocked are the ranges a probe of a stranger's target must not reach,
// with the reason each is refused.
var blocked = []struct {
	prefix netip.Prefix
	reason string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "CGNAT"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignment"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // and the broadcast address
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("fc00::/7"), "private"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Embedded IPv4 in IPv6: a NAT64 or 6to4 gateway would carry the
// connection to the IPv4 address inside.
var (
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	sixTo = netip.MustParsePrefix("2002::/16")
)

// Internal returns why addr is not a public destination ("loopback",
// "private", "link-local", "CGNAT", "multicast" ...), or "" when it is one.
func Internal(addr netip.Addr) string {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return "invalid"
	}
	if addr.Zone() != "" {
		return "scoped"
	}
	if addr.Is6() {
		b := addr.As16()
		switch {
		case nat64.Contains(addr):
			if r := Internal(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != "" {
				return r + " (NAT64)"
			}
		case sixTo.Contains(addr):
			if r := Internal(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})); r != "" {
				return r + " (6to4)"
			}
		}
	}
	for _, b := range blocked {
		if b.prefix.Contains(addr) {
			return b.reason
		}
	}
	return ""
}

type ctxKey struct{}

// WithDestinations returns a context whose connections (made by code that
// dials with ControlFrom) keep to d.
func WithDestinations(ctx context.Context, d Destinations) context.Context {
	return context.WithValue(ctx, ctxKey{}, d)
}

// ControlFrom returns the Control function of the policy ctx carries, or
// nil (no restriction) when it carries none: scheduled checks of
// configured targets and the CLI connect where the config says.
func ControlFrom(ctx context.Context) func(network, address string, c syscall.RawConn) error {
	d, ok := ctx.Value(ctxKey{}).(Destinations)
	if !ok {
		return nil
	}
	return d.Control
}
