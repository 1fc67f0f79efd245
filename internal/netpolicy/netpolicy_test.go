package netpolicy

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestInternal(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.77":         "loopback",
		"10.0.0.1":           "private",
		"172.16.0.1":         "private",
		"172.31.255.255":     "private",
		"192.168.1.1":        "private",
		"169.254.169.254":    "link-local",
		"100.64.0.1":         "CGNAT",
		"100.127.255.255":    "CGNAT",
		"224.0.0.1":          "multicast",
		"239.255.255.250":    "multicast",
		"255.255.255.255":    "reserved",
		"0.0.0.0":            "this-network",
		"::1":                "loopback",
		"::":                 "unspecified",
		"fd00::1":            "private",
		"fe80::1":            "link-local",
		"ff02::1":            "multicast",
		"::ffff:10.0.0.1":    "private",
		"64:ff9b::a9fe:a9fe": "link-local (NAT64)",
		"2002:7f00:1::1":     "loopback (6to4)",
		"192.0.2.1":          "", // documentation ranges are public as far as routing goes
		"8.8.8.8":            "",
		"172.32.0.1":         "",
		"100.128.0.1":        "",
		"2001:db8::1":        "",
		"2a00:1450:4001::1":  "",
		"64:ff9b::808:808":   "",
		"2002:808:808::1":    "",
	} {
		if got := Internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Internal(%s) = %q, want %q", addr, got, want)
		}
	}
}

func TestControlRefusesBeforeConnecting(t *testing.T) {
	var audited []netip.AddrPort
	d := Destinations{Audit: func(a netip.AddrPort) error { audited = append(audited, a); return nil }}
	var refused *RefusedError
	if err := d.Control("tcp4", "10.0.0.1:25", nil); !errors.As(err, &refused) || refused.Reason != "private" {
		t.Errorf("10.0.0.1:25: %v", err)
	}
	if err := d.Control("tcp4", "not-an-address:25", nil); err == nil {
		t.Error("a name instead of an address passed")
	}
	if err := d.Control("tcp4", "192.0.2.1:25", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	if len(audited) != 1 || audited[0].String() != "192.0.2.1:25" {
		t.Errorf("audited %v, want only the allowed 192.0.2.1:25", audited)
	}
	lab := Destinations{AllowPrivate: true}
	if err := lab.Control("tcp4", "10.0.0.1:25", nil); err != nil {
		t.Errorf("allow_private_destinations refused 10.0.0.1: %v", err)
	}
}

func TestControlFrom(t *testing.T) {
	if ControlFrom(context.Background()) != nil {
		t.Error("a context without a policy restricts")
	}
	ctx := WithDestinations(context.Background(), Destinations{})
	if c := ControlFrom(ctx); c == nil || c("tcp", "127.0.0.1:1", nil) == nil {
		t.Error("the context's policy does not refuse loopback")
	}
}
