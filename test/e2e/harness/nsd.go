package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailscope/mailscope/internal/testwait"
)

// Zone is one zone an authoritative server serves: its name and the text
// of its zone file (RFC 1035 master format, with $ORIGIN and SOA).
type Zone struct {
	Name string
	Text string
}

// NSD is a running private NSD.
type NSD struct {
	// Addr is 127.0.0.1:port, for UDP and TCP.
	Addr string
	Dir  string
	Proc *Process
}

// StartNSD runs NSD (Debian package nsd) authoritative for zones on a free
// loopback port, everything in a private directory, in the foreground. It
// returns once every zone answers its SOA with the AA bit.
//
// NSD's pitfalls, each handled here:
//   - Debian's /etc/nsd/nsd.conf logs only to syslog (there is no /dev/log
//     here) and includes nsd.conf.d: a private -c config avoids both.
//   - Every path defaults to a system one (/var/lib/nsd/nsd.db, zone.list,
//     xfrd.state, /run/nsd/nsd.pid, xfrdir /tmp): each is set to the test
//     directory, and database "" keeps zones in memory only.
//   - NSD drops to the nsd user after binding unless username is "".
//   - A zone file with an error does not stop NSD: the zone is left out
//     and its names are REFUSED, a failure far from its cause. Each zone
//     goes through nsd-checkzone first, and the readiness poll asks every
//     zone's SOA.
//   - The port accepting connections says nothing about the zones being
//     loaded (NSD binds first); hence the SOA poll, not WaitPort.
//   - NSD is authoritative only: names outside its zones are REFUSED, not
//     resolved, so every name a client needs must be in a zone here.
//   - One TXT string holds at most 255 bytes: longer text must be split
//     into several quoted strings on one line (TXTRecord does).
func StartNSD(t testing.TB, zones ...Zone) *NSD {
	t.Helper()
	nsd := RequireBinary(t, "nsd", "nsd")
	checkconf := RequireBinary(t, "nsd-checkconf", "nsd")
	checkzone := RequireBinary(t, "nsd-checkzone", "nsd")
	dir := Dir(t)
	port := FreeUDPPort(t)
	n := &NSD{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir}
	var conf strings.Builder
	fmt.Fprintf(&conf, `server:
  ip-address: 127.0.0.1@%[1]d
  port: %[1]d
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "%[2]s"
  database: ""
  zonelistfile: "%[2]s/zone.list"
  xfrdfile: "%[2]s/xfrd.state"
  xfrdir: "%[2]s"
  pidfile: "%[2]s/nsd.pid"
  logfile: "%[2]s/nsd.log"
  verbosity: 2
  hide-version: yes
remote-control:
  control-enable: no
`, port, dir)
	for _, z := range zones {
		file := WriteFile(t, filepath.Join(dir, z.Name+".zone"), z.Text)
		Run(t, checkzone, z.Name, file)
		fmt.Fprintf(&conf, "zone:\n  name: %q\n  zonefile: %q\n", z.Name, file)
	}
	cfg := WriteFile(t, filepath.Join(dir, "nsd.conf"), conf.String())
	Run(t, checkconf, cfg)
	n.Proc = Start(t, "nsd", exec.Command(nsd, "-d", "-c", cfg))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- last lines of the NSD log (%s):\n%s", filepath.Join(dir, "nsd.log"), tail(filepath.Join(dir, "nsd.log"), 40))
		}
	})
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	for _, z := range zones {
		testwait.For(t, 30*time.Second, "NSD serving "+z.Name, func() error {
			if n.Proc.Exited() {
				return fmt.Errorf("nsd exited: %s", n.Proc.Output())
			}
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(z.Name), dns.TypeSOA)
			r, _, err := c.Exchange(m, n.Addr)
			if err != nil {
				return err
			}
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) == 0 {
				return fmt.Errorf("SOA %s: %s, aa=%v, %d answers", z.Name, dns.RcodeToString[r.Rcode], r.Authoritative, len(r.Answer))
			}
			return nil
		})
	}
	return n
}

// TXTRecord is a zone-file line for a TXT record of any length: text is
// cut into quoted strings of at most 255 bytes (RFC 1035 §3.3.14), which
// SPF, DKIM and DMARC readers join again.
func TXTRecord(name, text string) string {
	var parts []string
	for len(text) > 255 {
		parts = append(parts, `"`+text[:255]+`"`)
		text = text[255:]
	}
	parts = append(parts, `"`+text+`"`)
	return name + " IN TXT " + strings.Join(parts, " ")
}
