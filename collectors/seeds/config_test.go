package seeds

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/config/configtest"
)

func problems(t *testing.T, c *Config) []string {
	t.Helper()
	return configtest.Lines(t, c.Validate())
}

func validConfig(t *testing.T) *Config {
	c := NewConfig()
	c.From = "news@example.com"
	c.Submit = Endpoint{Address: "mail.example.com:587", Username: "news@example.com", PasswordFile: configtest.WriteSecret(t, "submit", "pw")}
	c.Seeds = []SeedMailbox{{Name: "gmail-1", Provider: "gmail",
		IMAP: Endpoint{Address: "imap.gmail.com:993", Username: "seed1@gmail.com", PasswordFile: configtest.WriteSecret(t, "seed", "pw2")}}}
	return c
}

func TestValidConfigDefaults(t *testing.T) {
	c := validConfig(t)
	want := *c
	want.Seeds = append([]SeedMailbox(nil), c.Seeds...)
	if ps := problems(t, c); ps != nil {
		t.Fatal(ps)
	}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("Validate changed the config: %+v", c)
	}
	r, err := NewRunner(c, RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("NewRunner changed the config: %+v", c)
	}
	d := r.cfg
	s := d.Seeds[0]
	if d.Submit.Security != "starttls" || s.IMAP.Security != "tls" || d.Submit.Auth != "plain" || s.IMAP.Auth != "login" || s.Address != "seed1@gmail.com" {
		t.Errorf("defaults: submit %s/%s imap %s/%s address %s", d.Submit.Security, d.Submit.Auth, s.IMAP.Security, s.IMAP.Auth, s.Address)
	}
	if r.submitSec.password.Reveal() != "pw" || r.seedSec[0].password.Reveal() != "pw2" {
		t.Error("secrets not read from their files")
	}
	// Printing the config never shows a secret.
	c.Submit.Password = "inline-secret"
	if out := fmt.Sprintf("%v %+v %#v", c, c, c.Submit); strings.Contains(out, "inline-secret") || strings.Contains(out, "pw2") {
		t.Errorf("a secret prints: %s", out)
	}
}

func TestConfigProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want []string
	}{
		{"timing", func(c *Config) {
			c.Interval, c.RoundTimeout, c.PollInterval, c.Jitter = 10*time.Minute, 15*time.Minute, 20*time.Minute, time.Hour
		}, []string{
			"jitter: must be at least 0 and less than interval (10m0s), got 1h0m0s",
			"round_timeout: must be less than interval (10m0s): a round must end before the next starts, got 15m0s",
			"poll_interval: must be positive and at most round_timeout (15m0s), got 20m0s",
		}},
		{"sender and submission", func(c *Config) {
			c.From = "News <news@example.com>"
			c.Submit = Endpoint{Address: "mail.example.com", Security: "none", Auth: "cram-md5", PasswordFile: "/nonexistent/pw"}
		}, []string{
			`from: "News <news@example.com>" is not a bare email address`,
			`submit.address: want host:port, got "mail.example.com"`,
			`submit.security: must be tls or starttls (there is no cleartext mode), got "none"`,
			`submit.auth: must be one of login, plain, xoauth2, oauthbearer, got "cram-md5"`,
			"submit.username: missing",
			"submit.password_file: cannot read secret file /nonexistent/pw: no such file or directory",
		}},
		{"seeds", func(c *Config) {
			s := c.Seeds[0]
			s.Name = "seed1@gmail.com"
			c.Seeds = append(c.Seeds, s, SeedMailbox{Name: "gmail-1", Provider: "Gmail",
				IMAP: Endpoint{Address: "imap.gmail.com:993", Username: "user", Auth: "xoauth2", Password: "pw"}})
		}, []string{
			`mailboxes[1].name: "seed1@gmail.com": want letters, digits, '.', '_' or '-' (it becomes the mailbox label; never use the address)`,
			`mailboxes[2].name: "gmail-1" is used twice`,
			`mailboxes[2].provider: "Gmail": want a lower-case provider name such as gmail, microsoft, yahoo, apple, fastmail or other`,
			"mailboxes[2].imap.oauth: missing: set token_file, or token_url, client_id and refresh_token_file",
			"mailboxes[2].address: missing: the seed's email address (default: imap.username when it is an address)",
		}},
		{"oauth", func(c *Config) {
			c.Seeds[0].IMAP.Auth = "oauthbearer"
			c.Seeds[0].IMAP.PasswordFile = ""
			c.Seeds[0].IMAP.OAuth = OAuthConfig{TokenURL: "http://login.example.com/token", RefreshToken: "r", RefreshTokenFile: "/x"}
			c.Submit.OAuth.TokenFile = "/x"
		}, []string{
			"submit.oauth: applies to auth xoauth2 or oauthbearer only (auth is plain)",
			`mailboxes[0].imap.oauth.token_url: want an https URL (http only on loopback), got "http://login.example.com/token"`,
			"mailboxes[0].imap.oauth.client_id: missing",
			"mailboxes[0].imap.oauth.refresh_token: set either mailboxes[0].imap.oauth.refresh_token or mailboxes[0].imap.oauth.refresh_token_file, not both",
		}},
		{"message", func(c *Config) {
			c.Message = MessageConfig{Subject: "Hi {{.Nope", ListUnsubscribe: "https://x", ListUnsubscribePost: true,
				Headers: map[string]string{"X-Mailscope-Probe": "x", "Bad Header": "y"}}
		}, []string{
			"message: subject is not a template: template: subject:1: unclosed action",
			"message.text: set text, html or both",
			"message.list_unsubscribe: want one line of <URI> entries, such as <https://example.com/u/1>, <mailto:u@example.com>",
			"message.list_unsubscribe_post: one-click unsubscribe (RFC 8058) needs an https URI in list_unsubscribe",
		}},
		{"no seeds", func(c *Config) { c.Seeds = nil }, []string{"mailboxes: no seed mailbox: add at least one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig(t)
			tc.edit(c)
			got := problems(t, c)
			if tc.name == "message" {
				// Map order: check the header problems apart.
				var rest []string
				hdr := 0
				for _, p := range got {
					if strings.HasPrefix(p, "message.headers: ") {
						hdr++
						continue
					}
					rest = append(rest, p)
				}
				if hdr != 2 {
					t.Errorf("%d header problems, want 2: %v", hdr, got)
				}
				got = rest
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
