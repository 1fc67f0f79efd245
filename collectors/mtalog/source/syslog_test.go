package source

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/testwait"
)

func TestRenderSyslog(t *testing.T) {
	peer := netip.MustParseAddr("192.0.2.7")
	now := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in, want string
		time     time.Time
	}{
		{"<22>Nov 26 05:31:21 mx postfix/smtpd[123]: connect from x", "Nov 26 05:31:21 mx postfix/smtpd[123]: connect from x", time.Date(2026, 11, 26, 5, 31, 21, 0, time.UTC)},
		{"<22>Nov  6 05:31:21 mx postfix/qmgr[9]: removed", "Nov  6 05:31:21 mx postfix/qmgr[9]: removed", time.Date(2026, 11, 6, 5, 31, 21, 0, time.UTC)},
		// From a local socket: no hostname, so the sender's address.
		{"<22>Nov 26 05:31:21 postfix/smtpd[123]: connect", "Nov 26 05:31:21 192.0.2.7 postfix/smtpd[123]: connect", time.Date(2026, 11, 26, 5, 31, 21, 0, time.UTC)},
		// No timestamp at all: dated on receipt.
		{"<13>postfix/smtpd: hi", "2026-11-26T06:00:00.000000Z 192.0.2.7 postfix/smtpd: hi", now},
		// rsyslog's RSYSLOG_ForwardFormat: RFC 3339 in a 3164 frame.
		{"<22>2026-11-26T05:31:21.5+01:00 mx postfix/smtpd[1]: x", "2026-11-26T05:31:21.5+01:00 mx postfix/smtpd[1]: x", time.Date(2026, 11, 26, 4, 31, 21, 5e8, time.UTC)},
		// RFC 5424 without and with structured data, with a BOM.
		{"<22>1 2026-11-26T05:31:21.123456Z mx postfix/smtpd 123 - - connect", "2026-11-26T05:31:21.123456Z mx postfix/smtpd[123]: connect", time.Date(2026, 11, 26, 5, 31, 21, 123456000, time.UTC)},
		{`<22>1 2026-11-26T05:31:21Z mx postfix/smtpd 123 ID47 [exampleSDID@32473 iut="3" eventSource="Ap]p\"l"][x@1 a="b"] ` + "\xEF\xBB\xBF" + "msg here", "2026-11-26T05:31:21Z mx postfix/smtpd[123]: msg here", time.Date(2026, 11, 26, 5, 31, 21, 0, time.UTC)},
		{"<22>1 - - - - - -", "2026-11-26T06:00:00.000000Z 192.0.2.7 -:", now},
		{"<22>1 2026-11-26T05:31:21Z mx app - - [a@1 b=\"c\"]", "2026-11-26T05:31:21Z mx app:", time.Date(2026, 11, 26, 5, 31, 21, 0, time.UTC)},
	} {
		lc := NewLiveClock(time.UTC)
		lc.SetNow(now)
		got, tm, ok := renderSyslog(nil, []byte(tc.in), peer, lc)
		if !ok || string(got) != tc.want || !tm.Equal(tc.time) {
			t.Errorf("%q:\n got %q %v %v\nwant %q %v", tc.in, got, tm, ok, tc.want, tc.time)
		}
	}
	for _, bad := range []string{"", "hello", "<>x", "<192>Nov 26 05:31:21 mx a: b", "<1a>x", "<22>1 notatime mx a - - - x"} {
		lc := NewLiveClock(time.UTC)
		lc.SetNow(now)
		if got, _, ok := renderSyslog(nil, []byte(bad), peer, lc); ok {
			t.Errorf("%q rendered as %q, want rejected", bad, got)
		}
	}
}

func startSyslog(t *testing.T, cfg SyslogConfig) (*SyslogSource, *recordSink, func()) {
	t.Helper()
	src := NewSyslog("relay", cfg, Options{Clock: clock.Real{}, Location: time.UTC})
	if err := src.Listen(); err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	return src, sink, runSource(t, src, sink)
}

// TestSyslogTCPFraming sends octet-counted and LF-framed messages, mixed on
// one connection, an oversize one of each, a malformed one and a final
// message without its LF.
func TestSyslogTCPFraming(t *testing.T) {
	src, sink, stop := startSyslog(t, SyslogConfig{TCP: "127.0.0.1:0", MaxMessageBytes: 80})
	defer stop()
	conn, err := net.Dial("tcp", src.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	m1 := "<22>Nov 26 05:31:21 mx postfix/smtpd[1]: seq 1"
	m4 := "<22>1 2026-11-26T05:31:21Z mx postfix/smtpd 1 - - seq 4 " + strings.Repeat("y", 100)
	frames := fmt.Sprintf("%d %s", len(m1), m1) +
		"<22>Nov 26 05:31:22 mx postfix/smtpd[1]: seq 2\n" +
		"not syslog at all\n" +
		"<22>Nov 26 05:31:23 mx postfix/smtpd[1]: seq 3 " + strings.Repeat("x", 100) + "\n" +
		fmt.Sprintf("%d %s", len(m4), m4) +
		"<22>Nov 26 05:31:25 mx postfix/smtpd[1]: seq 5"
	if _, err := conn.Write([]byte(frames)); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	waitLines(t, sink, 5)
	got := sink.texts()
	checkNumbered(t, got, 5)
	if len(got[2]) != len("Nov 26 05:31:23 mx postfix/smtpd[1]: seq 3 ")+80-len("<22>Nov 26 05:31:23 mx postfix/smtpd[1]: seq 3 ") {
		t.Errorf("oversize LF frame rendered as %q (%d bytes), want the first 80 bytes of the message", got[2], len(got[2]))
	}
	testwait.For(t, 5*time.Second, "the snapshot to count 5 lines, 2 oversize, 1 malformed", func() error {
		s := src.Snapshot()
		if s.OversizeLines == 2 && s.ReadErrors["malformed"] == 1 && s.Lines == 5 && s.Bytes == int64(len(frames)-len("not syslog at all\n")) {
			return nil
		}
		return fmt.Errorf("snapshot %+v", s)
	})
}

func TestSyslogUDPAndConnectionLimit(t *testing.T) {
	src, sink, stop := startSyslog(t, SyslogConfig{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", MaxConnections: 1})
	defer stop()
	u, err := net.Dial("udp", src.Addr("udp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(u, "<22>1 2026-11-26T05:31:2%dZ mx postfix/smtpd 1 - - seq %d\n", i, i)
	}
	waitLines(t, sink, 3)
	checkNumbered(t, sink.texts(), 3)

	c1, err := net.Dial("tcp", src.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	fmt.Fprintf(c1, "<22>Nov 26 05:31:24 mx postfix/smtpd[1]: seq 4\n")
	waitLines(t, sink, 4) // c1 holds the only slot now
	c2, err := net.Dial("tcp", src.Addr("tcp").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection over max_connections was served")
	}
	if n := src.Snapshot().ReadErrors["too_many_connections"]; n != 1 {
		t.Fatalf("too_many_connections %d, want 1", n)
	}
}
