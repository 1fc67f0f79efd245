package exim

import (
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
)

// TestOutgoingInterface: a delivery line's I= (log selector
// +outgoing_interface, with or without +outgoing_port) is the address the
// connection left from, IPv4 or IPv6; an arrival's I= (the interface mail
// came in on) is not, and a malformed value is nothing.
func TestOutgoingInterface(t *testing.T) {
	for line, want := range map[string]string{
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25] I=[192.0.2.10]:52341 C=\"250 OK\"": "192.0.2.10",
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [2001:db8::25] I=[2001:db8::10] C=\"250 OK\"":      "2001:db8::10",
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf -> carol@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25] I=[192.0.2.11]:4000":             "192.0.2.11",
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25] I=192.0.2.10":                      "",
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf => bob@gmail.example R=dnslookup T=remote_smtp H=mx.gmail.example [198.51.100.25] C=\"250 OK\"":                      "",
		"2026-12-01 10:00:00 1tGm8G-000000002Lm-0Agf <= alice@example.org H=mail.example.org [192.0.2.99]:41234 I=[192.0.2.10]:25 P=esmtps S=2345":                        "",
	} {
		var ev event.Event
		if !ParseLine([]byte(line), &ev) {
			t.Errorf("not parsed: %s", line)
			continue
		}
		if got := string(ev.Interface); got != want {
			t.Errorf("%s: interface %q, want %q", line, got, want)
		}
	}
}
