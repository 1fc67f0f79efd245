package e2e

import (
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/otlptest"
	"github.com/mailscope/mailscope/internal/testwait"
	"github.com/mailscope/mailscope/internal/traceid"
	"github.com/mailscope/mailscope/test/e2e/harness"
)

// maillogMessages is what a Postfix log says of each queue ID: removed or
// not, how many delivery attempts, its Message-ID.
type maillogMessage struct {
	removed   bool
	attempts  int
	failed    bool
	messageID string
}

var (
	qidLine       = regexp.MustCompile(`postfix/[a-z/-]+\[\d+\]: ([0-9A-F]{6,}): (.*)$`)
	deliveryLine  = regexp.MustCompile(`postfix/(smtp|lmtp|local|virtual|pipe|error|discard|retry)\[\d+\]: [0-9A-F]+: to=<[^>]*>,.* status=(sent|deferred|bounced)`)
	messageIDLine = regexp.MustCompile(`message-id=<([^>]*)>`)
)

func readMaillog(t *testing.T, path string) map[string]*maillogMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]*maillogMessage{}
	for _, l := range strings.Split(string(b), "\n") {
		m := qidLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		msg := msgs[m[1]]
		if msg == nil {
			msg = &maillogMessage{}
			msgs[m[1]] = msg
		}
		switch {
		case m[2] == "removed":
			msg.removed = true
		case deliveryLine.MatchString(l):
			msg.attempts++
			if !strings.Contains(l, "status=sent") {
				msg.failed = true
			}
		case messageIDLine.MatchString(m[2]):
			msg.messageID = messageIDLine.FindStringSubmatch(m[2])[1]
		}
	}
	return msgs
}

// traceMailSetup is a Postfix relaying to an accepting, a deferring and a
// refusing smtp-sink, with mail sent to each and settled.
type traceMailSetup struct {
	pf                 *harness.Postfix
	pOK, pDefer, pBnce int
	smtpSource, sink   string
	deferSink          *harness.Process
}

func startTraceMail(t *testing.T) *traceMailSetup {
	t.Helper()
	s := &traceMailSetup{sink: harness.RequireBinary(t, "smtp-sink", "postfix"), smtpSource: harness.RequireBinary(t, "smtp-source", "postfix")}
	s.pOK, s.pDefer, s.pBnce = harness.FreePort(t), harness.FreePort(t), harness.FreePort(t)
	transport := harness.WriteFile(t, filepath.Join(harness.Dir(t), "transport"), fmt.Sprintf(
		"ok.test smtp:[127.0.0.1]:%d\ndefer.test smtp:[127.0.0.1]:%d\nbounce.test smtp:[127.0.0.1]:%d\nmx.test discard:\n", s.pOK, s.pDefer, s.pBnce))
	harness.Start(t, "smtp-sink-ok", exec.Command(s.sink, "-u", "nobody", "-c", fmt.Sprintf("127.0.0.1:%d", s.pOK), "10"))
	s.deferSink = harness.Start(t, "smtp-sink-defer", exec.Command(s.sink, "-u", "nobody", "-c", "-r", "RCPT", fmt.Sprintf("127.0.0.1:%d", s.pDefer), "10"))
	harness.Start(t, "smtp-sink-bounce", exec.Command(s.sink, "-u", "nobody", "-c", "-f", "RCPT", "-B", "550 5.1.1 no such user", fmt.Sprintf("127.0.0.1:%d", s.pBnce), "10"))
	s.pf = harness.StartPostfix(t, harness.PostfixOptions{
		Listeners: []harness.PostfixListener{{Name: "smtp", Options: []string{"syslog_name=postfix"}}},
		MainCF: "relay_domains = ok.test defer.test bounce.test mx.test\n" +
			"transport_maps = texthash:" + transport + "\n",
	})
	for _, p := range []int{s.pOK, s.pDefer, s.pBnce} {
		harness.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", p), 30*time.Second)
	}
	return s
}

func (s *traceMailSetup) send(t *testing.T, n int, to string) {
	t.Helper()
	harness.Run(t, s.smtpSource, "-m", strconv.Itoa(n), "-s", "1", "-f", "sender@mx.test", "-t", to, s.pf.Addr("smtp"))
}

// settle waits until the log shows want removed messages.
func (s *traceMailSetup) settle(t *testing.T, want int) map[string]*maillogMessage {
	t.Helper()
	var msgs map[string]*maillogMessage
	testwait.For(t, 90*time.Second, "messages removed in the Postfix log", func() error {
		msgs = readMaillog(t, s.pf.Log)
		n := 0
		for _, m := range msgs {
			if m.removed {
				n++
			}
		}
		if n < want {
			return fmt.Errorf("%d of %d messages removed", n, want)
		}
		return nil
	})
	return msgs
}

func traceAgentConfig(maillog, endpoint, extraTracing, stateDir string) string {
	cfg := fmt.Sprintf(`tracing:
  otlp: {endpoint: %q, protocol: http/protobuf}
%smta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [%s], start_at: beginning, poll_interval: 100ms}
  pipeline:
    traces: {sample_ratio: 1}
`, endpoint, extraTracing, maillog)
	if stateDir != "" {
		cfg = "state_dir: " + stateDir + "\n" + cfg
	}
	return cfg
}

// rootsByQueueID groups the received spans: each message root by its
// queue ID, with its children.
func rootsByQueueID(spans []otlptest.Span) (roots map[string][]otlptest.Span, children map[string][]otlptest.Span) {
	roots, children = map[string][]otlptest.Span{}, map[string][]otlptest.Span{}
	for _, s := range spans {
		switch s.Name {
		case "mta.message":
			roots[s.StringAttributes["mta.queue_id"]] = append(roots[s.StringAttributes["mta.queue_id"]], s)
		case "mta.delivery":
			children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
		}
	}
	return roots, children
}

// checkTrace says what is wrong with the trace of one removed message.
func checkTrace(qid string, m *maillogMessage, roots map[string][]otlptest.Span, children map[string][]otlptest.Span) error {
	rs := roots[qid]
	if len(rs) != 1 {
		return fmt.Errorf("%s: %d roots, want 1", qid, len(rs))
	}
	root := rs[0]
	kids := children[root.SpanID]
	if len(kids) != m.attempts {
		return fmt.Errorf("%s: %d delivery spans, the log has %d attempts", qid, len(kids), m.attempts)
	}
	for _, k := range kids {
		if k.Start.Before(root.Start) || k.End.After(root.End) || k.TraceID != root.TraceID {
			return fmt.Errorf("%s: delivery span %v..%v outside its root %v..%v", qid, k.Start, k.End, root.Start, root.End)
		}
	}
	if m.messageID != "" {
		want, _ := traceid.FromMessageID([]byte(m.messageID))
		if root.TraceID != want.String() {
			return fmt.Errorf("%s: trace id %s, want %s from Message-ID %s", qid, root.TraceID, want, m.messageID)
		}
	}
	return nil
}

// TestTracesOfEveryRemovedMessage: the agent follows a real Postfix's log
// from its beginning (a catch-up burst) with the default exporter
// settings: every removed message arrives at a real OTLP/HTTP receiver as
// exactly one trace with one child per delivery attempt, named by its
// Message-ID; nothing is dropped.
func TestTracesOfEveryRemovedMessage(t *testing.T) {
	s := startTraceMail(t)
	s.send(t, 30, "user@ok.test")
	s.send(t, 3, "user@bounce.test")
	s.send(t, 2, "user@defer.test")
	// 30 sent, 3 bounced and their 3 notices (discarded locally).
	msgs := s.settle(t, 36)
	rcv := otlptest.Start(t, 0)
	agent := harness.StartAgent(t, harness.AgentOptions{Config: traceAgentConfig(s.pf.Log, rcv.URL, "", "")})

	testwait.For(t, 60*time.Second, "one trace per removed message", func() error {
		roots, children := rootsByQueueID(rcv.Spans())
		var errs []string
		for qid, m := range msgs {
			if !m.removed {
				continue
			}
			if err := checkTrace(qid, m, roots, children); err != nil {
				errs = append(errs, err.Error())
			}
		}
		sort.Strings(errs)
		if len(errs) > 0 {
			return fmt.Errorf("%d problems, first: %s", len(errs), errs[0])
		}
		return nil
	})
	body, err := harness.Fetch("http://" + agent.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?m)^mailscope_trace_spans_dropped_total\{reason="[a-z_]+"\} [1-9]`).FindString(body); m != "" {
		t.Errorf("spans dropped with the default settings and a fast receiver: %s", m)
	}
}

// TestTracesSlowReceiverKeepsFailedMessages: the receiver answers each
// request after two seconds and the queue holds 16 spans: the sampled
// spans are dropped and counted, the bounced messages' traces all arrive.
func TestTracesSlowReceiverKeepsFailedMessages(t *testing.T) {
	s := startTraceMail(t)
	s.send(t, 40, "user@ok.test")
	s.send(t, 3, "user@bounce.test")
	msgs := s.settle(t, 46)
	rcv := otlptest.Start(t, 2*time.Second)
	agent := harness.StartAgent(t, harness.AgentOptions{Config: traceAgentConfig(s.pf.Log, rcv.URL, "  queue_size: 16\n  batch_size: 8\n", "")})
	var spans float64
	for _, m := range msgs {
		if m.removed {
			spans += float64(1 + m.attempts)
		}
	}
	metric := func(body, re string) float64 {
		var sum float64
		for _, m := range regexp.MustCompile(`(?m)^`+re+` ([0-9.e+]+)$`).FindAllStringSubmatch(body, -1) {
			v, _ := strconv.ParseFloat(m[1], 64)
			sum += v
		}
		return sum
	}
	testwait.For(t, 120*time.Second, "every failed message's trace, and every other span exported or counted dropped", func() error {
		roots, children := rootsByQueueID(rcv.Spans())
		for qid, m := range msgs {
			if m.removed && m.failed {
				if err := checkTrace(qid, m, roots, children); err != nil {
					return err
				}
			}
		}
		body, err := harness.Fetch("http://" + agent.Addr + "/metrics")
		if err != nil {
			return err
		}
		exported := metric(body, `mailscope_trace_spans_exported_total`)
		dropped := metric(body, `mailscope_trace_spans_dropped_total\{reason="[a-z_]+"\}`)
		sampledDrops := metric(body, `mailscope_trace_spans_dropped_total\{reason="queue_full_sampled"\}`)
		if exported+dropped != spans || sampledDrops == 0 || dropped != sampledDrops {
			return fmt.Errorf("%v spans exported and %v dropped (%v sampled ones), of %v made", exported, dropped, sampledDrops, spans)
		}
		return nil
	})
}

// TestTracesDeferredMessageAcrossARestart: a message is deferred by the
// relay, the agent is stopped gracefully and started again, the relay is
// replaced by one that accepts and Postfix retries: the message is one
// trace with both attempts, and the second agent does not count it as
// received again.
func TestTracesDeferredMessageAcrossARestart(t *testing.T) {
	s := startTraceMail(t)
	rcv := otlptest.Start(t, 0)
	stateDir := harness.Dir(t)
	cfg := traceAgentConfig(s.pf.Log, rcv.URL, "", stateDir)
	first := harness.StartAgent(t, harness.AgentOptions{Config: cfg})
	const msgID = "restart-1@client.test"
	if err := smtp.SendMail(s.pf.Addr("smtp"), nil, "sender@mx.test", []string{"user@defer.test"},
		[]byte("Message-ID: <"+msgID+">\r\nSubject: deferred, then delivered\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	var qid string
	testwait.For(t, 60*time.Second, "the deferral in the log and in the first agent", func() error {
		for id, m := range readMaillog(t, s.pf.Log) {
			if m.messageID == msgID && m.attempts >= 1 {
				qid = id
			}
		}
		if qid == "" {
			return fmt.Errorf("no deferral of %s logged yet", msgID)
		}
		body, err := harness.Fetch("http://" + first.Addr + "/metrics")
		if err != nil {
			return err
		}
		if !regexp.MustCompile(`(?m)^mailscope_mta_deliveries_total\{[^}]*status="deferred"[^}]*\} [1-9]`).MatchString(body) {
			return fmt.Errorf("the agent has not counted the deferral")
		}
		return nil
	})
	if err := first.Proc.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err, ok := first.Proc.Wait(30 * time.Second); !ok || err != nil {
		t.Fatalf("the first agent did not stop cleanly: %v (exited: %v)", err, ok)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "mta", "correlator.state")); err != nil {
		t.Fatalf("no correlator state after the stop: %v", err)
	}
	if n := len(rcv.Spans()); n != 0 {
		t.Fatalf("%d spans sent before the message ended", n)
	}

	// The relay now accepts; Postfix retries at once when flushed.
	s.deferSink.Stop(t)
	harness.Start(t, "smtp-sink-accepting", exec.Command(s.sink, "-u", "nobody", "-c", fmt.Sprintf("127.0.0.1:%d", s.pDefer), "10"))
	harness.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", s.pDefer), 30*time.Second)
	second := harness.StartAgent(t, harness.AgentOptions{Config: cfg})
	harness.Run(t, harness.RequireBinary(t, "postqueue", "postfix"), "-c", s.pf.ConfigDir, "-f")

	testwait.For(t, 90*time.Second, "one trace with both attempts", func() error {
		m := readMaillog(t, s.pf.Log)[qid]
		if !m.removed {
			harness.Run(t, harness.RequireBinary(t, "postqueue", "postfix"), "-c", s.pf.ConfigDir, "-f")
			return fmt.Errorf("%s not delivered yet", qid)
		}
		if m.attempts < 2 {
			return fmt.Errorf("%s: %d attempts logged", qid, m.attempts)
		}
		roots, children := rootsByQueueID(rcv.Spans())
		return checkTrace(qid, m, roots, children)
	})
	body, err := harness.Fetch("http://" + second.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^mailscope_mta_messages_received_total\{mta="postfix"\} [1-9]`).MatchString(body) {
		t.Error("the second agent counted the restored message as received again")
	}
}

// TestTracesTwoAgentsJoinByMessageID: an edge Postfix relays to an
// internal one, which delivers to smtp-sink; an agent follows each log and
// both export to one receiver. Each message is one trace (named by its
// Message-ID) holding each agent's root, with its own attempt.
func TestTracesTwoAgentsJoinByMessageID(t *testing.T) {
	sink := harness.RequireBinary(t, "smtp-sink", "postfix")
	smtpSource := harness.RequireBinary(t, "smtp-source", "postfix")
	pSink, pRelay := harness.FreePort(t), harness.FreePort(t)
	harness.Start(t, "smtp-sink-final", exec.Command(sink, "-u", "nobody", "-c", fmt.Sprintf("127.0.0.1:%d", pSink), "10"))
	relay := harness.StartPostfix(t, harness.PostfixOptions{
		Hostname:  "relay.test",
		Listeners: []harness.PostfixListener{{Name: "smtp", Port: pRelay, Options: []string{"syslog_name=postfix"}}},
		MainCF:    fmt.Sprintf("relay_domains = final.test\ntransport_maps = inline:{final.test=smtp:[127.0.0.1]:%d}\n", pSink),
	})
	edge := harness.StartPostfix(t, harness.PostfixOptions{
		Hostname:  "edge.test",
		Listeners: []harness.PostfixListener{{Name: "smtp", Options: []string{"syslog_name=postfix"}}},
		MainCF:    fmt.Sprintf("relay_domains = final.test\ntransport_maps = inline:{final.test=smtp:[127.0.0.1]:%d}\n", pRelay),
	})
	harness.WaitPort(t, fmt.Sprintf("127.0.0.1:%d", pSink), 30*time.Second)
	rcv := otlptest.Start(t, 0)
	harness.StartAgent(t, harness.AgentOptions{Config: traceAgentConfig(edge.Log, rcv.URL, "", "")})
	harness.StartAgent(t, harness.AgentOptions{Config: traceAgentConfig(relay.Log, rcv.URL, "", "")})
	harness.Run(t, smtpSource, "-m", "3", "-s", "1", "-f", "sender@edge.test", "-t", "user@final.test", edge.Addr("smtp"))

	testwait.For(t, 90*time.Second, "each message one trace with the edge's and the relay's roots", func() error {
		edgeMsgs, relayMsgs := readMaillog(t, edge.Log), readMaillog(t, relay.Log)
		byMsgID := map[string][]string{} // Message-ID -> queue IDs on both hosts
		for _, msgs := range []map[string]*maillogMessage{edgeMsgs, relayMsgs} {
			for qid, m := range msgs {
				if m.messageID != "" && m.removed && m.attempts == 1 {
					byMsgID[m.messageID] = append(byMsgID[m.messageID], qid)
				}
			}
		}
		if len(byMsgID) != 3 {
			return fmt.Errorf("%d messages delivered on both hosts so far, want 3", len(byMsgID))
		}
		roots, children := rootsByQueueID(rcv.Spans())
		for id, qids := range byMsgID {
			if len(qids) != 2 {
				return fmt.Errorf("%s: seen on %d hosts", id, len(qids))
			}
			for _, qid := range qids {
				m := edgeMsgs[qid]
				if m == nil {
					m = relayMsgs[qid]
				}
				if err := checkTrace(qid, m, roots, children); err != nil {
					return err
				}
			}
			if a, b := roots[qids[0]][0].TraceID, roots[qids[1]][0].TraceID; a != b {
				return fmt.Errorf("%s: the hosts' roots are in traces %s and %s", id, a, b)
			}
		}
		return nil
	})
}
