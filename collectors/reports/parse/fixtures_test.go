package parse

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func parseFile(t *testing.T, name string) *Report {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Parse(f, DefaultLimits())
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rep
}

var (
	dayBegin = time.Unix(1764806400, 0).UTC()
	dayEnd   = time.Unix(1764892799, 0).UTC()
)

func TestAggregateRFC7489(t *testing.T) {
	rep := parseFile(t, "rfc7489-google.xml")
	a := rep.Aggregate
	if rep.Kind != KindDMARC || a.Schema != SchemaRFC7489 {
		t.Fatalf("kind %s schema %s", rep.Kind, a.Schema)
	}
	if rep.Reporter() != "google.com" || rep.ID() != "16612488226426405390" || rep.Domain() != "example.com" {
		t.Errorf("reporter %q id %q domain %q", rep.Reporter(), rep.ID(), rep.Domain())
	}
	if b, e := rep.Period(); !b.Equal(dayBegin) || !e.Equal(dayEnd) {
		t.Errorf("period %s..%s", b, e)
	}
	if a.Policy.P != "quarantine" || a.Policy.Pct != "100" || len(a.Records) != 2 || a.Messages() != 45 {
		t.Fatalf("policy %+v, %d records, %d messages", a.Policy, len(a.Records), a.Messages())
	}
	r0, r1 := a.Records[0], a.Records[1]
	if r0.SourceIP != netip.MustParseAddr("192.0.2.10") || r0.DKIM != "pass" || r0.SPF != "pass" ||
		len(r0.AuthDKIM) != 1 || r0.AuthDKIM[0] != (AuthResult{Domain: "example.com", Selector: "s1", Result: "pass"}) {
		t.Errorf("record 0: %+v", r0)
	}
	if r1.SourceIP != netip.MustParseAddr("2001:db8::25") || r1.Disposition != "quarantine" ||
		!slices.Equal(r1.Reasons, []string{"forwarded"}) || len(r1.AuthDKIM) != 0 ||
		len(r1.AuthSPF) != 1 || r1.AuthSPF[0] != (AuthResult{Domain: "bounce.example.net", Scope: "mfrom", Result: "softfail"}) {
		t.Errorf("record 1: %+v", r1)
	}
}

func TestAggregateRFC9990(t *testing.T) {
	for _, name := range []string{"rfc9990-namespace.xml", "rfc9990-no-namespace.xml"} {
		t.Run(name, func(t *testing.T) {
			a := parseFile(t, name).Aggregate
			if a.Schema != SchemaRFC9990 {
				t.Errorf("schema %s, want %s (detected by namespace or fields)", a.Schema, SchemaRFC9990)
			}
		})
	}
	a := parseFile(t, "rfc9990-namespace.xml").Aggregate
	want := PolicyPublished{Domain: "example.com", P: "reject", SP: "quarantine", NP: "reject", ADKIM: "s", ASPF: "r", Testing: "y", DiscoveryMethod: "treewalk"}
	if a.Policy != want || a.Generator != "Receiver DMARC 2.1" {
		t.Errorf("policy %+v generator %q", a.Policy, a.Generator)
	}
	if a.Records[0].Disposition != "pass" || !slices.Equal(a.Records[1].Reasons, []string{"policy_test_mode"}) {
		t.Errorf("records %+v", a.Records)
	}
	b := parseFile(t, "rfc9990-no-namespace.xml").Aggregate
	if b.Policy.NP != "quarantine" || b.Policy.DiscoveryMethod != "psl" {
		t.Errorf("policy %+v", b.Policy)
	}
}

func TestAggregateQuirks(t *testing.T) {
	t.Run("stray xs:schema", func(t *testing.T) {
		a := parseFile(t, "quirk-xs-schema.xml").Aggregate
		if a.OrgName != "Schema Stray Corp" || a.Policy.Domain != "example.com" || len(a.Records) != 1 || a.Records[0].Count != 9 {
			t.Errorf("%+v", a)
		}
	})
	t.Run("unescaped <", func(t *testing.T) {
		a := parseFile(t, "quirk-unescaped-lt.xml").Aggregate
		if a.OrgName != "Less < Than Mail" || len(a.Records) != 1 || a.Records[0].Disposition != "reject" ||
			!slices.Equal(a.Records[0].Reasons, []string{"local_policy"}) {
			t.Errorf("%+v", a)
		}
	})
	t.Run("not UTF-8", func(t *testing.T) {
		a := parseFile(t, "quirk-not-utf8.xml").Aggregate
		if a.OrgName != "Société Générale Mail" || a.Records[0].AuthDKIM[0].Selector != "café" {
			t.Errorf("org %q selector %q", a.OrgName, a.Records[0].AuthDKIM[0].Selector)
		}
	})
	t.Run("upper case and empty reasons", func(t *testing.T) {
		a := parseFile(t, "quirk-uppercase-empty-reason.xml").Aggregate
		r := a.Records[0]
		if a.Policy.Domain != "example.com" || a.Policy.P != "quarantine" || r.Disposition != "quarantine" ||
			r.DKIM != "fail" || r.SPF != "pass" || len(r.Reasons) != 0 || r.HeaderFrom != "example.com" ||
			r.AuthDKIM[0].Result != "neutral" || r.AuthSPF[0].Result != "pass" || !a.Begin.Equal(dayBegin) {
			t.Errorf("%+v", a)
		}
	})
}

func TestTLSRPT(t *testing.T) {
	rep := parseFile(t, "tlsrpt-rfc8460.json")
	tr := rep.TLS
	if rep.Kind != KindTLSRPT || rep.Reporter() != "Company-X" || rep.ID() != "5065427c-23d3-47ca-b6e0-946ea0e8c4be" || rep.Domain() != "example.com" {
		t.Fatalf("%+v", tr)
	}
	if ok, failed := tr.Sessions(); ok != 5326 || failed != 303 {
		t.Errorf("sessions %d/%d", ok, failed)
	}
	p := tr.Policies[0]
	if p.Type != "sts" || !slices.Equal(p.MXHosts, []string{"*.mail.example.com"}) || len(p.Failures) != 3 ||
		p.Failures[1] != (TLSFailure{ResultType: "starttls-not-supported", SendingMTAIP: netip.MustParseAddr("2001:db8:abcd:13::1"),
			ReceivingMX: "mx2.mail.example.com", ReceivingIP: netip.MustParseAddr("203.0.113.56"), Count: 200}) {
		t.Errorf("policy %+v", p)
	}
	q := parseFile(t, "tlsrpt-quirks.json").TLS
	if len(q.Policies) != 2 || q.Policies[0].Type != "sts" || q.Policies[0].Domain != "example.net" ||
		!slices.Equal(q.Policies[0].MXHosts, []string{"mx.example.net"}) ||
		!slices.Equal(q.Policies[1].MXHosts, []string{"mx2.example.net"}) || q.Policies[1].Type != "no-policy-found" {
		t.Fatalf("%+v", q)
	}
	f := q.Policies[0].Failures[0]
	if f.SendingMTAIP.IsValid() || f.ResultType != "certificate-host-mismatch" || f.ReceivingMX != "mx.example.net" || f.Count != 1 {
		t.Errorf("failure without sending-mta-ip: %+v", f)
	}
}

func TestFeedbackReports(t *testing.T) {
	arf := parseFile(t, "arf-abuse.eml")
	f := arf.Feedback
	if arf.Kind != KindARF || f.Type != "abuse" || f.ReportedDomain != "example.com" ||
		f.SourceIP != netip.MustParseAddr("192.0.2.1") || f.ReporterDomain != "mail.provider.example" ||
		f.Arrival.IsZero() || len(f.ID) != 24 {
		t.Errorf("ARF: %+v", f)
	}
	ruf := parseFile(t, "dmarc-failure.eml")
	g := ruf.Feedback
	if ruf.Kind != KindDMARCFailure || g.Type != "auth-failure" || g.AuthFailure != "dmarc" || g.ReportedDomain != "example.com" ||
		!g.Arrival.Equal(time.Date(2025, 12, 4, 11, 59, 0, 0, time.UTC)) || g.ReporterDomain != "receiver.example" {
		t.Errorf("failure report: %+v", g)
	}
	if arf.ID() == ruf.ID() {
		t.Error("two complaints with one id")
	}
}
