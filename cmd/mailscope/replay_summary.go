package main

import (
	"fmt"
	"io"
	"strings"
)

// writeReplaySections prints the sections of the detail consumer after
// the counts: pflogsumm's totals, traffic, destinations, reply texts,
// rejects, warnings, what is still deferred, and the optional lists.
func writeReplaySections(w io.Writer, c replayCounts) {
	p := c.Pflogsumm
	fmt.Fprint(w, "\nAs pflogsumm counts (see docs/collectors/postfix.md)\n")
	row := func(v int64, what string) { fmt.Fprintf(w, "  %10d  %s\n", v, what) }
	row(p.Received, "received (smtpd client= and pickup lines)")
	row(p.BytesReceived, "bytes received")
	row(p.Delivered, "delivered")
	row(p.Forwarded, "forwarded")
	row(p.BytesDelivered, "bytes delivered")
	row(p.MessagesDeferred, "messages deferred at least once")
	row(p.Senders, "senders")
	row(p.SendingDomains, "sending domains")
	row(p.Recipients, "recipients")
	row(p.RecipientDomains, "recipient domains")

	if len(c.Traffic) > 0 {
		fmt.Fprintf(w, "\nTraffic per %s (start of interval)\n", c.TrafficInterval)
		fmt.Fprintf(w, "  %-16s%10s%10s%10s%10s%10s%10s\n", "start", "received", "delivered", "deferred", "bounced", "expired", "rejected")
		for _, r := range c.Traffic {
			fmt.Fprintf(w, "  %-16s%10d%10d%10d%10d%10d%10d\n", r.Start, r.Received, r.Delivered, r.Deferred, r.Bounced, r.Expired, r.Rejected)
		}
	}
	writeDeliveryRows(w, fmt.Sprintf("Deliveries by recipient domain (%d of %d)", len(c.Domains), c.DomainsTotal), "domain", c.Domains)
	writeDeliveryRows(w, "Deliveries and delays by provider", "provider", c.Providers)
	if len(c.SendingDomains) > 0 {
		fmt.Fprint(w, "\nReceived by sender domain (smtpd and pickup)\n")
		fmt.Fprintf(w, "  %10s%12s  %s\n", "messages", "bytes", "domain")
		for _, r := range c.SendingDomains {
			fmt.Fprintf(w, "  %10d%12d  %s\n", r.Messages, r.Bytes, r.Domain)
		}
	}
	writeGroups(w, "Deferrals and bounces by reason and relay, with the most frequent replies (addresses masked)", c.FailureTexts,
		func(g textGroup) string { return fmt.Sprintf("%s %s via %s", g.Status, g.Reason, g.Relay) })
	writeGroups(w, "Rejects by reason and restriction, with samples", c.Rejects,
		func(g textGroup) string { return fmt.Sprintf("%s: %s (at %s)", g.Reason, g.Restriction, g.Stage) })
	writeGroups(w, "Warnings, errors, fatal and panic lines by daemon (SASL failures included)", c.Diagnostics,
		func(g textGroup) string { return fmt.Sprintf("%s %s", g.Daemon, g.Severity) })

	sd := c.StillDeferred
	fmt.Fprintf(w, "\nStill deferred at the end of the log\n  %d messages", sd.Messages)
	if sd.Messages > 0 {
		fmt.Fprintf(w, ", oldest first seen %s (%s before the last line); by last reason: %s", sd.Oldest, sd.OldestAge, joinCounts(sd.ByReason))
	}
	fmt.Fprintln(w)
	writeAddressRows(w, "Top senders (messages received from clients and pickup)", c.TopSenders)
	writeAddressRows(w, "Top recipients (sent deliveries)", c.TopRecipients)
	if len(c.UnparsedLines) > 0 || c.UnparsedLinesOmitted > 0 {
		fmt.Fprint(w, "\nUnparsed lines (daemon: line)\n")
		for _, u := range c.UnparsedLines {
			fmt.Fprintf(w, "  %s: %s\n", u.Daemon, u.Line)
		}
		if c.UnparsedLinesOmitted > 0 {
			fmt.Fprintf(w, "  ... and %d more\n", c.UnparsedLinesOmitted)
		}
	}
	if c.Omitted > 0 {
		fmt.Fprintf(w, "\n%d events were counted in the totals but left out of the lists above (too many distinct domains, relays or messages)\n", c.Omitted)
	}
}

func writeDeliveryRows(w io.Writer, title, what string, rows []deliveryRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	fmt.Fprintf(w, "  %8s%12s%10s%10s%10s%10s  %s\n", "sent", "bytes", "deferred", "bounced", "avg dly", "max dly", what)
	for _, r := range rows {
		fmt.Fprintf(w, "  %8d%12d%10d%10d%9.2fs%9.2fs  %s\n", r.Sent, r.Bytes, r.Deferred, r.Bounced, r.AvgDelay, r.MaxDelay, r.Name)
	}
}

func writeGroups(w io.Writer, title string, gs []textGroup, name func(textGroup) string) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	for _, g := range gs {
		fmt.Fprintf(w, "  %d  %s\n", g.Count, name(g))
		for _, t := range g.Texts {
			fmt.Fprintf(w, "  %12d  %s\n", t.Count, strings.ReplaceAll(t.Text, "\n", " "))
		}
		if g.OtherTexts > 0 {
			fmt.Fprintf(w, "  %12d  (other texts)\n", g.OtherTexts)
		}
	}
}

func writeAddressRows(w io.Writer, title string, rows []addressRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s\n", title)
	for _, r := range rows {
		fmt.Fprintf(w, "  %10d%12d  %s\n", r.Messages, r.Bytes, r.Address)
	}
}
