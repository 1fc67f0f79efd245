package source

import (
	"errors"
	"fmt"
	"github.com/mailscope/mailscope/internal/testlog"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
)

// dialFrom connects to addr from a given loopback source address.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer waits (bounded) for the server to close c.
func closedByPeer(c net.Conn, within time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestSyslogIdleConnectionsGiveBackTheirSlots: connections that send
// nothing are closed after idle_timeout, so idle senders cannot keep every
// slot for good.
func TestSyslogIdleConnectionsGiveBackTheirSlots(t *testing.T) {
	src, sink, stop := startSyslog(t, SyslogConfig{TCP: "127.0.0.1:0", MaxConnections: 2, IdleTimeout: time.Second})
	defer stop()
	addr := src.Addr("tcp").String()
	idle1, idle2 := dialFrom(t, "127.0.0.1", addr), dialFrom(t, "127.0.0.1", addr)
	for _, c := range []net.Conn{idle1, idle2} {
		if !closedByPeer(c, 10*time.Second) {
			t.Fatal("an idle connection was not closed")
		}
	}
	c := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(c, "<22>Nov 26 05:31:24 mx postfix/smtpd[1]: seq 1\n")
	waitLines(t, sink, 1)
}

// TestSyslogPerAddressLimit: one address cannot take more than its share;
// another sender still gets in, and refusals are counted.
func TestSyslogPerAddressLimit(t *testing.T) {
	src, sink, stop := startSyslog(t, SyslogConfig{TCP: "127.0.0.1:0", MaxConnections: 10, MaxConnectionsPerAddress: 2})
	defer stop()
	addr := src.Addr("tcp").String()
	for range 5 {
		dialFrom(t, "127.0.0.1", addr)
	}
	deadline := time.Now().Add(10 * time.Second)
	for src.Snapshot().ReadErrors["too_many_from_address"] < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	other := dialFrom(t, "127.0.0.2", addr)
	fmt.Fprintf(other, "<22>Nov 26 05:31:24 mx postfix/smtpd[1]: seq 1\n")
	waitLines(t, sink, 1)
	if n := src.Snapshot().ReadErrors["too_many_from_address"]; n != 3 {
		t.Errorf("too_many_from_address %d, want 3", n)
	}
}

// TestSyslogRefusalsLoggedOncePerMinute: a flood of refused connections
// writes one log line a minute, with the count, not one per connection.
func TestSyslogRefusalsLoggedOncePerMinute(t *testing.T) {
	var logs testlog.Buffer
	clk := clock.NewFake(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC))
	src := NewSyslog("relay", SyslogConfig{TCP: "127.0.0.1:0", MaxConnections: 1},
		Options{Clock: clk, Location: time.UTC, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := src.Listen(); err != nil {
		t.Fatal(err)
	}
	defer runSource(t, src, &recordSink{})()
	addr := src.Addr("tcp").String()
	holder := dialFrom(t, "127.0.0.1", addr)
	fmt.Fprintf(holder, "<22>Nov 26 05:31:24 mx postfix/smtpd[1]: hold\n")
	refuseN := func(n int) {
		for range n {
			if !closedByPeer(dialFrom(t, "127.0.0.2", addr), 10*time.Second) {
				t.Fatal("a connection over max_connections was served")
			}
		}
	}
	refuseN(20)
	if got := logs.Count("Refused syslog connections"); got != 1 {
		t.Errorf("20 refusals in a minute logged %d times, want once:\n%s", got, logs.String())
	}
	clk.Advance(time.Minute)
	refuseN(1)
	if got := logs.Count("Refused syslog connections"); got != 2 || !strings.Contains(logs.String(), "refused=20") {
		t.Errorf("after a minute: %d lines, want 2, the second with the 20 refused since:\n%s", got, logs.String())
	}
	if n := src.Snapshot().ReadErrors["too_many_connections"]; n != 21 {
		t.Errorf("too_many_connections %d, want 21", n)
	}
}
