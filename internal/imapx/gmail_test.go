package imapx

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/testca"
)

// gmailResponder is a small IMAP responder that answers the side
// channel's commands the way Gmail does: CAPABILITY with X-GM-EXT-1,
// AUTHENTICATE PLAIN or XOAUTH2 (with or without SASL-IR), EXAMINE, and
// UID SEARCH UID n X-GM-RAW "category:c", which matches when c is the
// message's category.
type gmailResponder struct {
	addr     string
	saslIR   bool
	user     string
	password string
	category string
	uid      int

	mu       sync.Mutex
	commands []string
}

func startGmail(t *testing.T, g *gmailResponder) *tls.Config {
	t.Helper()
	ca := testca.New(t, time.Now())
	cert := ca.Issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), "imap.gmail.test")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	g.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go g.serve(c)
		}
	}()
	return &tls.Config{RootCAs: ca.Pool, ServerName: "imap.gmail.test"}
}

func (g *gmailResponder) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	fmt.Fprint(c, "* OK Gimap ready for requests from 127.0.0.1\r\n")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		g.mu.Lock()
		g.commands = append(g.commands, line)
		g.mu.Unlock()
		tag, cmd, _ := strings.Cut(line, " ")
		up := strings.ToUpper(cmd)
		switch {
		case up == "CAPABILITY":
			caps := "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE APPENDLIMIT=35651584 AUTH=XOAUTH2 AUTH=PLAIN"
			if g.saslIR {
				caps += " SASL-IR"
			}
			fmt.Fprintf(c, "* CAPABILITY %s\r\n%s OK Thats all she wrote!\r\n", caps, tag)
		case strings.HasPrefix(up, "AUTHENTICATE "):
			f := strings.Fields(cmd)
			var ir string
			if len(f) == 3 {
				ir = f[2]
			} else {
				fmt.Fprint(c, "+ \r\n")
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				ir = strings.TrimSpace(l)
			}
			b, _ := base64.StdEncoding.DecodeString(ir)
			ok := false
			switch strings.ToUpper(f[1]) {
			case "PLAIN":
				parts := strings.Split(string(b), "\x00")
				ok = len(parts) == 3 && parts[1] == g.user && parts[2] == g.password
			case "XOAUTH2":
				ok = string(b) == "user="+g.user+"\x01auth=Bearer "+g.password+"\x01\x01"
				if !ok {
					fmt.Fprintf(c, "+ %s\r\n", base64.StdEncoding.EncodeToString([]byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`)))
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
				}
			}
			if ok {
				fmt.Fprintf(c, "%s OK %s authenticated (Success)\r\n", tag, g.user)
			} else {
				fmt.Fprintf(c, "%s NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)\r\n", tag)
			}
		case up == "EXAMINE INBOX":
			fmt.Fprintf(c, "* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n%s OK [READ-ONLY] INBOX selected. (Success)\r\n", tag)
		case strings.HasPrefix(up, "UID SEARCH UID "):
			var uid int
			var cat string
			if _, err := fmt.Sscanf(cmd, "UID SEARCH UID %d X-GM-RAW \"category:%s", &uid, &cat); err != nil {
				fmt.Fprintf(c, "%s BAD Could not parse command\r\n", tag)
				continue
			}
			cat = strings.TrimSuffix(cat, `"`)
			if uid == g.uid && cat == g.category {
				fmt.Fprintf(c, "* SEARCH %d\r\n", uid)
			} else {
				fmt.Fprint(c, "* SEARCH\r\n")
			}
			fmt.Fprintf(c, "%s OK SEARCH completed (Success)\r\n", tag)
		case up == "LOGOUT":
			fmt.Fprintf(c, "* BYE LOGOUT Requested\r\n%s OK 73 good day (Success)\r\n", tag)
			return
		default:
			fmt.Fprintf(c, "%s BAD Unknown command\r\n", tag)
		}
	}
}

func TestGmailCategory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		saslIR  bool
		method  string
		cat     string
		wantErr string
	}{
		{"promotions, plain with SASL-IR", true, "login", "promotions", ""},
		{"primary, plain after a continuation", false, "plain", "primary", ""},
		{"no category", true, "login", "", ""},
		{"xoauth2", true, "xoauth2", "social", ""},
		{"bad password", true, "login", "social", "AUTHENTICATIONFAILED"},
		{"bad token", true, "xoauth2", "social", "XOAUTH2 refused (status 400)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &gmailResponder{saslIR: tc.saslIR, user: "seed1@gmail.test", password: "s3cret-pw", category: tc.cat, uid: 42}
			tc1 := startGmail(t, g)
			secret := g.password
			if tc.wantErr != "" {
				secret = "wrong-s3cret"
			}
			a := Auth{Method: tc.method, Username: g.user, Password: secret,
				Token: func(context.Context) (string, error) { return secret, nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := GmailCategory(ctx, Options{Address: g.addr, Security: ImplicitTLS, TLSConfig: tc1, Timeout: 5 * time.Second}, a, 42)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error carries the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.cat {
				t.Errorf("category %q, want %q", got, tc.cat)
			}
			g.mu.Lock()
			defer g.mu.Unlock()
			for _, c := range g.commands {
				if strings.Contains(c, secret) {
					t.Errorf("a command line carries the secret in clear: %q", c)
				}
			}
			if last := g.commands[len(g.commands)-1]; !strings.HasSuffix(last, "LOGOUT") {
				t.Errorf("last command %q, want LOGOUT", last)
			}
		})
	}
}

func TestGmailCategoryHonoursTheContext(t *testing.T) {
	// A server that greets and then never answers.
	asked := make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			fmt.Fprint(c, "* OK hello\r\n")
			defer c.Close()
			buf := make([]byte, 1024)
			for {
				if _, err := c.Read(buf); err != nil {
					return
				}
				select {
				case asked <- struct{}{}:
				default:
				}
			}
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := GmailCategory(ctx, Options{Address: ln.Addr().String(), Security: StartTLS}, Auth{Username: "u", Password: "p"}, 1)
		done <- err
	}()
	<-asked // the side channel waits for an answer that never comes
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want a cancellation", err)
	}
}
