package source

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mailscope/mailscope/internal/clock"
)

// TestRsyslogForwarding runs a real rsyslogd that reads numbered lines from
// a file (imfile) and forwards each to three receivers: UDP with RFC 3164,
// TCP with LF framing and RFC 3164, TCP octet-counted with RFC 5424. Every
// receiver must get every line once, in order, dated, with its tag.
func TestRsyslogForwarding(t *testing.T) {
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		t.Skip("rsyslogd is not installed (Debian package rsyslog): ", err)
	}
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	type receiver struct {
		name, proto, framing, template string
		src                            *SyslogSource
		sink                           *recordSink
	}
	receivers := []*receiver{
		{name: "udp3164", proto: "udp", template: "RSYSLOG_TraditionalForwardFormat"},
		{name: "tcp3164", proto: "tcp", framing: "traditional", template: "RSYSLOG_TraditionalForwardFormat"},
		{name: "tcp5424", proto: "tcp", framing: "octet-counted", template: "RSYSLOG_SyslogProtocol23Format"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var actions strings.Builder
	for _, r := range receivers {
		cfg := SyslogConfig{}
		if r.proto == "udp" {
			cfg.UDP = "127.0.0.1:0"
		} else {
			cfg.TCP = "127.0.0.1:0"
		}
		r.src = NewSyslog(r.name, cfg, Options{Clock: clock.Real{}})
		if err := r.src.Listen(); err != nil {
			t.Fatal(err)
		}
		r.sink = &recordSink{}
		done := make(chan error, 1)
		go func() { done <- r.src.Run(ctx, r.sink) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		addr := r.src.Addr(r.proto).String()
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		fmt.Fprintf(&actions, "action(type=\"omfwd\" target=\"127.0.0.1\" port=%q protocol=%q template=%q", port, r.proto, r.template)
		if r.framing != "" {
			fmt.Fprintf(&actions, " TCP_Framing=%q", r.framing)
		}
		actions.WriteString(")\n")
	}

	// UDP has no flow control: a burst larger than the receive buffer
	// (net.core.rmem_max, about 200 KiB and ~1 KiB per datagram by default)
	// is dropped by the kernel. 100 lines stay well inside it, so a loss
	// here is ours.
	const n = 100
	in := filepath.Join(dir, "in.log")
	var lines strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&lines, "connect from client.example[192.0.2.1] seq %d\n", i)
	}
	if err := os.WriteFile(in, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "rsyslog.conf")
	// No imuxsock: the test owns every input. imfile reads in.log from its
	// start (no state yet) and tags the lines as Postfix would. Without
	// parser.permitSlashInProgramName, rsyslog's APP-NAME (RFC 5424) would
	// cut "postfix/smtpd" to "postfix" (see docs/collectors/mta-sources.md).
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`global(workDirectory=%q parser.permitSlashInProgramName="on")
module(load="imfile" mode="polling" PollingInterval="1")
input(type="imfile" File=%q Tag="postfix/smtpd[42]:" Facility="mail" Severity="info")
%s`, work, in, actions.String())), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("rsyslogd output:\n%s", out.String())
		}
	})

	for _, r := range receivers {
		waitLines(t, r.sink, n)
	}
	// A duplicate would have been sent before rsyslogd exits: stop it, then
	// send each receiver a last line of our own and wait for that, so
	// everything rsyslogd sent has been handled when we count.
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	for _, r := range receivers {
		c, err := net.Dial(r.proto, r.src.Addr(r.proto).String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "<22>Nov 26 05:31:21 mx postfix/smtpd[42]: sentinel seq %d\n", n+1)
		c.Close()
		waitLines(t, r.sink, n+1)
	}
	for _, r := range receivers {
		texts := r.sink.texts()
		checkNumbered(t, texts, n+1)
		r.sink.mu.Lock()
		for i, l := range r.sink.lines[:n] {
			if l.Time.IsZero() || !strings.Contains(texts[i], " postfix/smtpd[42]: connect from client.example[192.0.2.1] seq ") {
				t.Errorf("%s: line %d rendered as %q (time %v)", r.name, i, texts[i], l.Time)
				break
			}
		}
		r.sink.mu.Unlock()
		if s := r.src.Snapshot(); s.Lines != n+1 || s.ReadErrors["malformed"] != 0 {
			t.Errorf("%s: snapshot %+v", r.name, s)
		}
	}
	t.Logf("rendered: %q / %q / %q", receivers[0].sink.texts()[0], receivers[1].sink.texts()[0], receivers[2].sink.texts()[0])
}
