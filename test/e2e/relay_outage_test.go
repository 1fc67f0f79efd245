package e2e

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testwait"
)

// relayOutage is an MTA's part in the relay-down incident that
// TestRelayDownPagesThroughAlertmanager (Postfix) and
// TestEximRelayDownPagesThroughAlertmanager drive through the same
// steps (alertStack.runRelayOutage): mail to gmail flows, the relay
// stops and mail defers until the shipped MailscopeMTADeferralRateHigh
// reaches the webhook for the MTA and provider gmail; the relay comes
// back, the queue empties, mail flows again and the alert resolves.
//
// The rule's ratio and volume are rates over 15 minutes, with no way to
// shorten them here: a new series' first sample adds no increase, so each
// series is made to exist before it counts (sent before the outage,
// deferred with a first message), and the outage defers enough to pass
// the rule's 20-delivery minimum. Resolution within the same 15 minutes
// needs the deferrals to fall under 20% of the window's deliveries, as
// after a real outage once enough mail has gone out; the test sends that
// mail rather than waiting a quarter of an hour: at least 60 messages,
// more when the MTA logged more deferrals (Exim logs one for every
// waiting message on every queue run).
type relayOutage struct {
	mta string
	// send submits n messages to user@gmail.com.
	send func(n int)
	// stopRelay and startRelay stop and restart the gmail relay.
	stopRelay, startRelay func()
	// flushed makes the MTA retry its deferred mail once the relay is
	// back, and returns when its queue is empty.
	flushed func()
	// log is the MTA's log file; refused is what it logs for a connection
	// the stopped relay refused.
	log, refused string
	// duringOutage, when set, checks more while the alert fires.
	duringOutage func()
}

// runRelayOutage drives the incident of o (see relayOutage).
func (s *alertStack) runRelayOutage(t *testing.T, o relayOutage) {
	t.Helper()
	// Before: mail to gmail flows.
	o.send(1)
	s.wantGmailDeliveries(t, o, "sent", 1)
	o.send(14)
	s.wantGmailDeliveries(t, o, "sent", 15)

	// The incident: the relay stops, connections are refused, mail defers.
	o.stopRelay()
	o.send(1)
	s.wantGmailDeliveries(t, o, "deferred", 1)
	o.send(11)
	s.wantGmailDeliveries(t, o, "deferred", 12)
	n := s.waitAlert(t, "MailscopeMTADeferralRateHigh", "firing", 120*time.Second) // a loaded machine delays rule evaluation and notification
	wantLabels(t, n, map[string]string{"severity": "warning", "alertname": "MailscopeMTADeferralRateHigh", "provider": "gmail", "mta": o.mta, "job": "mailscope", "instance": s.agent.Addr, "hostname": "mx1.example.test"})
	if sum := n.Annotations["summary"]; !strings.HasSuffix(sum, "of deliveries to gmail from "+o.mta+" on mx1.example.test are deferred") ||
		!strings.HasSuffix(n.Annotations["runbook_url"], "docs/runbooks.md#mailscopemtadeferralratehigh") {
		t.Errorf("annotations: %v", n.Annotations)
	}
	if log, _ := os.ReadFile(o.log); !strings.Contains(string(log), o.refused) {
		t.Errorf("%s logged no refused connection to the relay (%q):\n%s", o.mta, o.refused, log)
	}
	if o.duringOutage != nil {
		o.duringOutage()
	}
	if r := s.webhook.Find("MailscopeMTADeferralRateHigh", "resolved"); len(r) > 0 {
		t.Fatalf("resolved before the relay came back: %v", r)
	}

	// Fixed: the relay is back, the queue is flushed, mail flows again.
	o.startRelay()
	o.flushed()
	sent, deferred := s.gmailDeliveries(t, o.mta, "sent"), s.gmailDeliveries(t, o.mta, "deferred")
	more := max(60, int(math.Ceil(4.5*deferred-sent)))
	o.send(more)
	s.wantGmailDeliveries(t, o, "sent", sent+float64(more))
	s.waitAlert(t, "MailscopeMTADeferralRateHigh", "resolved", 120*time.Second)

	for _, name := range s.webhook.Names() {
		if !strings.HasPrefix(name, "MailscopeMTADeferralRateHigh/") {
			t.Errorf("unexpected alert %s: only the deferrals were an incident", name)
		}
	}
}

// gmailQuery is the PromQL of an MTA's gmail deliveries of a status.
func gmailQuery(mta, status string) string {
	return fmt.Sprintf(`sum(mailscope_mta_deliveries_total{job="mailscope",mta=%q,provider="gmail",status=%q})`, mta, status)
}

// gmailDeliveries is what Prometheus has of the MTA's gmail deliveries
// of status now.
func (s *alertStack) gmailDeliveries(t *testing.T, mta, status string) float64 {
	t.Helper()
	got, err := s.prom.Query(gmailQuery(mta, status))
	if err != nil || len(got) != 1 {
		t.Fatalf("%s: %+v %v", gmailQuery(mta, status), got, err)
	}
	return got[0].Value
}

// wantGmailDeliveries waits until Prometheus has scraped the gmail
// deliveries of status at want or more.
func (s *alertStack) wantGmailDeliveries(t *testing.T, o relayOutage, status string, want float64) {
	t.Helper()
	q := gmailQuery(o.mta, status)
	testwait.For(t, 120*time.Second, q+" in Prometheus", func() error {
		got, err := s.prom.Query(q)
		if err != nil {
			return err
		}
		if len(got) != 1 || got[0].Value < want {
			log, _ := os.ReadFile(o.log)
			return fmt.Errorf("%+v, want %v; the MTA's log ends:\n%s", got, want, lastLines(string(log), 40))
		}
		return nil
	})
}

// lastLines is the last n lines of text.
func lastLines(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
