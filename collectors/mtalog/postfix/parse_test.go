package postfix

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/source"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestHandwrittenLines checks the fields of lines for daemons the corpus
// run does not produce (testdata/handwritten.log names each one's source).
func TestHandwrittenLines(t *testing.T) {
	type want struct {
		kind   event.Kind
		daemon event.Daemon
		qid    string
		check  func(t *testing.T, ev *event.Event)
	}
	cases := map[string]want{
		"zen.spamhaus.org; https": {event.KindReject, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Code, uint16(554))
			eq(t, ev.DSN, mailclass.DSN{Class: 5, Subject: 7, Detail: 1})
			eq(t, string(ev.Domain), "example.com")
			eq(t, ev.Stage, event.StageRcpt)
		}},
		"cannot find your hostname": {event.KindReject, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Action, event.ActionDefer)
			// An RFC 3339 line: the parser skips its timestamp and leaves
			// the time to the line's source.
			eq(t, ev.Time.IsZero(), true)
		}},
		"Relay access denied":          {event.KindReject, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) { eq(t, string(ev.Service), "postfix/submission/smtpd") }},
		"Message size exceeds":         {event.KindReject, event.DaemonSmtpd, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) { eq(t, ev.Stage, event.StageData) }},
		"triggers DISCARD":             {event.KindReject, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Action, event.ActionDiscard) }},
		"Sender address triggers HOLD": {event.KindReject, event.DaemonSmtpd, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) { eq(t, ev.Action, event.ActionHold) }},
		"timeout after END-OF":         {event.KindTimeout, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Stage, event.StageEndOfMessage) }},
		"too many errors":              {event.KindTooManyErrors, event.DaemonSmtpd, "", nil},
		"improper command":             {event.KindInfo, event.DaemonSmtpd, "", nil},
		"sasl_method=PLAIN": {event.KindClient, event.DaemonSmtpd, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Origin, event.OriginSASL)
			eq(t, ev.SASLMechanism, event.SASLPlain)
		}},
		"Spam message rejected":     {event.KindReject, event.DaemonSmtpd, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) { eq(t, ev.DSN.Detail, uint16(1)) }},
		"CONNECT from [192.0.2.10]": {event.KindPostscreen, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Postscreen, event.PostscreenConnect) }},
		"DNSBL rank 3": {event.KindPostscreen, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Count, int32(3))
			eq(t, string(ev.Client), "[192.0.2.10]:51234")
		}},
		"PASS OLD":           {event.KindPostscreen, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Postscreen, event.PostscreenPassOld) }},
		"HANGUP after":       {event.KindPostscreen, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) { eq(t, string(ev.Client), "[192.0.2.10]:51234") }},
		"COMMAND PIPELINING": {event.KindPostscreen, event.DaemonPostscreen, "", nil},
		"NON-SMTP":           {event.KindPostscreen, event.DaemonPostscreen, "", nil},
		"BARE NEWLINE":       {event.KindPostscreen, event.DaemonPostscreen, "", nil},
		"DENYLISTED":         {event.KindPostscreen, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Postscreen, event.PostscreenDenylisted) }},
		"to=<b@example.com>, proto": {event.KindReject, event.DaemonPostscreen, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Postscreen, event.PostscreenReject)
			eq(t, ev.Code, uint16(550))
		}},
		"listed by domain": {event.KindDNSBL, event.DaemonDnsblog, "", func(t *testing.T, ev *event.Event) { eq(t, string(ev.Relay), "zen.spamhaus.org") }},
		"header Subject: buy now": {event.KindContentAction, event.DaemonCleanup, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Action, event.ActionReject)
			eq(t, string(ev.Text), "message content rejected")
		}},
		"X-Mailer: bulk":       {event.KindContentAction, event.DaemonCleanup, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) { eq(t, ev.Action, event.ActionWarn) }},
		"milter triggers HOLD": {event.KindContentAction, event.DaemonCleanup, "4BCE3D3F1F", func(t *testing.T, ev *event.Event) { eq(t, ev.Action, event.ActionHold) }},
		"Connection timed out": {event.KindSMTPClientError, event.DaemonSmtp, "", func(t *testing.T, ev *event.Event) { eq(t, string(ev.Service), "postfix-out/smtp") }},
		"said: 421-4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address. (in reply to end of DATA command)\n": {event.KindSMTPClientError, event.DaemonSmtp, "5A1B2C3D4E", nil},
		"dsn=4.7.28": {event.KindDelivery, event.DaemonSmtp, "5A1B2C3D4E", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Status, event.StatusDeferred)
			eq(t, ev.Delay, 3600.0)
			eq(t, ParseDelays(ev.DelaysText), [4]float64{0.1, 0, 0.5, 3599})
			eq(t, ev.Code, uint16(421))
			eq(t, string(ev.Relay), "gmail-smtp-in.l.google.com")
		}},
		"dsn=5.7.515": {event.KindDelivery, event.DaemonSmtp, "5A1B2C3D4F", func(t *testing.T, ev *event.Event) {
			eq(t, ev.DSN, mailclass.DSN{Class: 5, Subject: 7, Detail: 515})
			eq(t, ev.Status, event.StatusBounced)
		}},
		"lost connection with": {event.KindSMTPClientError, event.DaemonSmtp, "5A1B2C3D50", nil},
		"conversation with":    {event.KindSMTPClientError, event.DaemonSmtp, "5A1B2C3D50", nil},
		"Verified TLS": {event.KindTLS, event.DaemonSmtp, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.TLSDirection, event.DirectionOutbound)
			eq(t, ev.TLSProtocol, event.TLSv12)
			eq(t, ev.TLSCipherBits, uint16(256))
		}},
		"orig_to=<postmaster": {event.KindDelivery, event.DaemonLocal, "5A1B2C3D51", func(t *testing.T, ev *event.Event) {
			eq(t, string(ev.Relay), "local")
			eq(t, string(ev.Domain), "mx.example")
		}},
		"Disk quota":    {event.KindDelivery, event.DaemonVirtual, "5A1B2C3D52", nil},
		"relay=dovecot": {event.KindDelivery, event.DaemonPipe, "5A1B2C3D53", nil},
		"private/dovecot-lmtp": {event.KindDelivery, event.DaemonLmtp, "5A1B2C3D54", func(t *testing.T, ev *event.Event) {
			eq(t, string(ev.Relay), "mail.example.com")
			eq(t, ev.Code, uint16(250))
		}},
		"verify_cache":        {event.KindInfo, event.DaemonVerify, "", nil},
		"status=deliverable":  {event.KindDelivery, event.DaemonSmtp, "5A1B2C3D55", func(t *testing.T, ev *event.Event) { eq(t, ev.Status, event.StatusDeliverable) }},
		"max connection rate": {event.KindStatistics, event.DaemonAnvil, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Count, int32(12)) }},
		"max cache size":      {event.KindStatistics, event.DaemonAnvil, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Count, int32(3)) }},
		"domain lookup hits":  {event.KindStatistics, event.DaemonScache, "", nil},
		"reload -- ":          {event.KindLifecycle, event.DaemonMaster, "", nil},
		"[1690]: starting":    {event.KindLifecycle, event.DaemonPostfixScript, "", nil},
		"[1691]: refreshing":  {event.KindLifecycle, event.DaemonPostfixScript, "", nil},
		"is running: PID: 1":  {event.KindLifecycle, event.DaemonPostfixScript, "", nil},
		"[1693]: stopping":    {event.KindLifecycle, event.DaemonPostfixScript, "", nil},
		"[1694]: the Postfix mail system is not running": {event.KindLifecycle, event.DaemonPostfixScript, "", nil},
		"[1695]: fatal: the Postfix":                     {event.KindDiagnostic, event.DaemonPostfixScript, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Severity, event.SeverityFatal) }},
		"exit status 1":                                  {event.KindDiagnostic, event.DaemonMaster, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Severity, event.SeverityWarning) }},
		"specify at least one":                           {event.KindDiagnostic, event.DaemonSmtpd, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Severity, event.SeverityFatal) }},
		"myfree":                                         {event.KindDiagnostic, event.DaemonQmgr, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Severity, event.SeverityPanic) }},
		"transport.db":                                   {event.KindDiagnostic, event.DaemonTrivialRewrite, "", func(t *testing.T, ev *event.Event) { eq(t, ev.Severity, event.SeverityError) }},
		"5A1B2C3D56: removed":                            {event.KindRemoved, event.DaemonPostsuper, "5A1B2C3D56", nil},
		"Deleted: 1":                                     {event.KindInfo, event.DaemonPostsuper, "", nil},
		"tlsproxy[1800]: CONNECT":                        {event.KindInfo, event.DaemonTlsproxy, "", nil},
		"TLS_AES_128_GCM": {event.KindTLS, event.DaemonTlsproxy, "", func(t *testing.T, ev *event.Event) {
			eq(t, ev.TLSDirection, event.DirectionInbound)
			eq(t, ev.TLSProtocol, event.TLSv13)
		}},
		"tlsproxy[1800]: DISCONNECT": {event.KindInfo, event.DaemonTlsproxy, "", nil},
		"delay notification": {event.KindNotification, event.DaemonBounce, "4T1xQl3YvYz9vGQ", func(t *testing.T, ev *event.Event) {
			eq(t, ev.Status, event.StatusDeferred)
			eq(t, string(ev.Relay), "4T1xQl3ZwKz9vGR")
		}},
		"nrcpt=3":        {event.KindQueued, event.DaemonQmgr, "4T1xQl3YvYz9vGQ", func(t *testing.T, ev *event.Event) { eq(t, ev.Size, int64(2048)); eq(t, ev.Nrcpt, int32(3)) }},
		"imap-login":     {event.KindForeign, event.DaemonOther, "", nil},
		"DKIM-Signature": {event.KindForeign, event.DaemonOther, "", nil},
	}
	seen := map[string]bool{}
	var ev event.Event
	for _, line := range readLines(t, "testdata/handwritten.log") {
		if !ParseLine(line, &ev) {
			t.Errorf("not parsed: %s", line)
			continue
		}
		for sub, w := range cases {
			if !bytes.Contains(append(line, '\n'), []byte(sub)) {
				continue
			}
			if seen[sub] {
				t.Errorf("case %q matches two lines", sub)
			}
			seen[sub] = true
			if ev.Kind != w.kind || ev.Daemon != w.daemon || string(ev.QueueID) != w.qid {
				t.Errorf("%s\n got kind=%v daemon=%v qid=%q, want %v %v %q", line, ev.Kind, ev.Daemon, ev.QueueID, w.kind, w.daemon, w.qid)
			}
			if w.check != nil {
				w.check(t, &ev)
			}
		}
	}
	for sub := range cases {
		if !seen[sub] {
			t.Errorf("no line for case %q", sub)
		}
	}
}

// TestUnparsedKeepsDaemon checks that an unknown message of a known daemon
// is unparsed and still names its daemon, and that junk is unparsed.
func TestUnparsedKeepsDaemon(t *testing.T) {
	var ev event.Event
	for line, d := range map[string]event.Daemon{
		"Nov 26 05:31:21 mx postfix/smtpd[1]: something new in Postfix 4.0": event.DaemonSmtpd,
		"Nov 26 05:31:21 mx postfix/qmgr[1]: 4BCE3D3F1F: something new":     event.DaemonQmgr,
		"not a syslog line":                                            event.DaemonOther,
		"Nov 26 05:31:21 mx postfix/smtpd[1]:":                         event.DaemonOther,
		"Xyz 26 05:31:21 mx postfix/smtpd[1]: connect from a[1.2.3.4]": event.DaemonOther,
	} {
		if ParseLine([]byte(line), &ev) {
			t.Errorf("parsed %q as %v", line, ev.Kind)
		}
		if ev.Daemon != d {
			t.Errorf("%q: daemon %v, want %v", line, ev.Daemon, d)
		}
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

// readLines returns a file's lines without comments and blank lines.
// corpusLines is the parser's test corpus: the real Postfix run's lines,
// then the hand-written ones.
func corpusLines(t testing.TB) [][]byte {
	return append(readLines(t, "testdata/real-postfix.log"), readLines(t, "testdata/handwritten.log")...)
}

func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		out = append(out, append([]byte(nil), l...))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParserMatchesParseLine: a Parser, which reuses the previous line's
// timestamp and host when their bytes repeat, gives ParseLine's event for
// every line of the corpora, read in order and shuffled, and for lines
// made to trip the reuse (a longer host with the same start, a host
// followed by no space, an RFC 3339 line between two equal stamps, a
// stamp differing only in its last byte, a shorter host whose space
// falls before the remembered host's length, program names that differ
// in one byte).
func TestParserMatchesParseLine(t *testing.T) {
	lines := corpusLines(t)
	shuffled := slices.Clone(lines)
	rand.New(rand.NewPCG(5, 6)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	tricky := [][]byte{
		[]byte("Nov 26 07:02:41 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:41 mxx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:41 mx"),
		[]byte("Nov 26 07:02:41 mx "),
		[]byte("Nov 26 07:02:41 mxpostfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("2026-11-26T07:02:41.5+01:00 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:41 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:4x mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 25:02:42 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 25:02:42 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42  postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 m postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 a  postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42_mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix/qmgz[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfiy/qmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfixqmgr[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix-out/smtp[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx postfix-out/smtp[1]: 601FE984B37: removed"),
		[]byte("Nov 26 07:02:42 mx pf/postscreen[1]: CONNECT from [192.0.2.1]:4711 to [192.0.2.2]:25"),
		[]byte("Nov 26 07:02:42 mx pfxpostscreen[1]: CONNECT from [192.0.2.1]:4711 to [192.0.2.2]:25"),
	}
	for name, seq := range map[string][][]byte{"in order": lines, "shuffled": shuffled, "tricky": tricky} {
		var p Parser
		for _, l := range seq {
			var got, want event.Event
			okGot, okWant := p.Parse(l, &got), ParseLine(l, &want)
			if okGot != okWant || !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: %q:\nParser    %v %+v\nParseLine %v %+v", name, l, okGot, got, okWant, want)
			}
		}
	}
}

// TestQueueIDWords: the word test agrees with the byte table for every
// byte value at every position of IDs of 8 to 20 bytes.
func TestQueueIDWords(t *testing.T) {
	ref := func(id []byte) bool {
		all, any := byte(idAlnum), byte(0)
		for _, c := range id {
			all &= idChar[c]
			any |= idChar[c]
		}
		return all&idAlnum != 0 && any&idUpperOrDigit != 0
	}
	for n := 8; n <= 20; n++ {
		for _, base := range []string{"0123456789ABCDEFGHIJKL", "abcdefghijklmnopqrstuv", "zzzzzzzzzzzzzzzzzzzzzz"} {
			id := []byte(base[:n])
			for pos := range n {
				for c := range 256 {
					was := id[pos]
					id[pos] = byte(c)
					if got, want := idWords(id), ref(id); got != want {
						t.Fatalf("%q: %v, the byte table says %v", id, got, want)
					}
					id[pos] = was
				}
			}
		}
	}
}

// TestColonIn21 agrees with bytes.IndexByte over the first 21 bytes, for
// colons at every position (and none) in messages of every length up to
// 40, over a background of every other byte value.
func TestColonIn21(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for _, fill := range []byte{'A', 0x00, 0x3b, 0x39, 0xba, 0xff, ' '} {
			msg := bytes.Repeat([]byte{fill}, n)
			for pos := -1; pos < n; pos++ {
				if pos >= 0 {
					msg[pos] = ':'
				}
				want := bytes.IndexByte(msg[:min(n, 21)], ':')
				if got := colonIn21(msg); got != want {
					t.Fatalf("%q: %d, want %d", msg, got, want)
				}
				for pos2 := pos + 1; pos2 < n; pos2 += 3 { // a second colon after it
					msg[pos2] = ':'
					if got, want := colonIn21(msg), bytes.IndexByte(msg[:min(n, 21)], ':'); got != want {
						t.Fatalf("%q: %d, want %d", msg, got, want)
					}
					msg[pos2] = fill
				}
				if pos >= 0 {
					msg[pos] = fill
				}
			}
		}
	}
}

// TestTimestampIsTheSources: a line parses only when it starts with a
// timestamp a source can date (source.StampLen) and a space, and the
// parser leaves the time to that source.
func TestTimestampIsTheSources(t *testing.T) {
	const msg = " mx postfix/qmgr[1]: 601FE984B37: removed"
	for _, stamp := range []string{
		"Nov 26 07:02:42", "Nov  6 07:02:42", "2026-11-26T07:02:42.5+01:00", "2026-11-26T07:02:42Z",
		"Nov 26 25:02:42", "Nov 32 07:02:42", "Foo 26 07:02:42", "2026-11-26T07:02:42+0100", "2026-13-26T07:02:42Z", "Nov 26 07:02:42x",
	} {
		line := []byte(stamp + msg)
		var ev event.Event
		ok := ParseLine(line, &ev)
		n := source.StampLen(line)
		if want := n > 0 && line[n] == ' '; ok != want {
			t.Errorf("%q: parsed %v, want %v", line, ok, want)
		}
		if !ev.Time.IsZero() {
			t.Errorf("%q: the parser set a time", line)
		}
	}
}
