package reports

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/imapx"
	"github.com/mailscope/mailscope/internal/oauthtoken"
)

// IMAPConfig is a report mailbox. Several agents may read one mailbox: a
// report is claimed by moving it (IMAP MOVE, RFC 6851) into the processing
// folder first, and only the agent whose move succeeded reads it; it then
// goes to the done folder, or to the invalid folder when refused.
type IMAPConfig struct {
	Address string `yaml:"address"`
	// Security is tls (port 993) or starttls (143); there is no cleartext
	// mode, so the password never crosses the network in clear.
	Security   string        `yaml:"security"`
	CAFile     string        `yaml:"ca_file"`
	ServerName string        `yaml:"server_name"`
	Timeout    time.Duration `yaml:"timeout"`
	Username   string        `yaml:"username"`
	// Auth is login (the default), plain, xoauth2 or oauthbearer.
	Auth string `yaml:"auth"`
	// PasswordFile holds the password for login and plain (secrets only
	// from files).
	PasswordFile string `yaml:"password_file"`
	// OAuth supplies the access token for xoauth2 and oauthbearer, as the
	// seeds collector's mailboxes do.
	OAuth            oauthtoken.Config `yaml:"oauth"`
	Mailbox          string            `yaml:"mailbox"`
	ProcessingFolder string            `yaml:"processing_folder"`
	DoneFolder       string            `yaml:"done_folder"`
	InvalidFolder    string            `yaml:"invalid_folder"`
}

// withDefaults fills the folders and timeout a section left out.
func (c IMAPConfig) withDefaults() IMAPConfig {
	if c.Security == "" {
		c.Security = string(imapx.ImplicitTLS)
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Auth == "" {
		c.Auth = "login"
	}
	if c.Mailbox == "" {
		c.Mailbox = "INBOX"
	}
	if c.ProcessingFolder == "" {
		c.ProcessingFolder = "mailscope-processing"
	}
	if c.DoneFolder == "" {
		c.DoneFolder = "mailscope-done"
	}
	if c.InvalidFolder == "" {
		c.InvalidFolder = "mailscope-invalid"
	}
	return c
}

// validate reports the problems under path; it reads no file.
func (c IMAPConfig) validate(ps *config.Problems, path string) {
	c = c.withDefaults()
	if host, port, err := net.SplitHostPort(c.Address); err != nil || host == "" || port == "" {
		ps.Addf(path+".address", "want host:port, got %q", c.Address)
	}
	if c.Security != string(imapx.ImplicitTLS) && c.Security != string(imapx.StartTLS) {
		ps.Addf(path+".security", "must be tls or starttls (there is no cleartext mode), got %q", c.Security)
	}
	if c.Timeout < 0 {
		ps.Addf(path+".timeout", "must be positive, got %s", c.Timeout)
	}
	if c.Username == "" {
		ps.Add(path+".username", "missing")
	}
	oauth := oauthtoken.IsMethod(c.Auth)
	switch {
	case !slices.Contains(imapx.Methods, c.Auth):
		ps.Addf(path+".auth", "must be one of %s, got %q", strings.Join(imapx.Methods, ", "), c.Auth)
	case oauth:
		if c.PasswordFile != "" {
			ps.Addf(path+".password_file", "applies to auth login or plain only (auth is %s)", c.Auth)
		}
		c.OAuth.Check(ps, path+".oauth")
	default:
		if c.PasswordFile == "" || !filepath.IsAbs(c.PasswordFile) {
			ps.Addf(path+".password_file", "required, an absolute path; got %q", c.PasswordFile)
		}
		if c.OAuth.Set() {
			ps.Addf(path+".oauth", "applies to auth xoauth2 or oauthbearer only (auth is %s)", c.Auth)
		}
	}
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		ps.Addf(path+".ca_file", "must be an absolute path, got %q", c.CAFile)
	}
	folders := map[string]string{}
	for _, f := range []struct{ key, v string }{{"mailbox", c.Mailbox}, {"processing_folder", c.ProcessingFolder},
		{"done_folder", c.DoneFolder}, {"invalid_folder", c.InvalidFolder}} {
		if other, dup := folders[f.v]; dup {
			ps.Addf(path+"."+f.key, "the same folder as %s (%q): each step needs its own", other, f.v)
		}
		folders[f.v] = f.key
	}
}

// imapSource is the built mailbox: where to connect and as whom.
type imapSource struct {
	cfg  IMAPConfig
	opts imapx.Options
	auth imapx.Auth
}

// buildIMAP reads the password or OAuth secret files and the CA file:
// the collector's build step. client calls the OAuth token endpoint (nil:
// one with the mailbox's timeout).
func buildIMAP(c IMAPConfig, clk clock.Clock, client *http.Client) (*imapSource, error) {
	c = c.withDefaults()
	auth := imapx.Auth{Method: c.Auth, Username: c.Username}
	if oauthtoken.IsMethod(c.Auth) {
		var ps config.Problems
		sec := c.OAuth.ReadSecrets(&ps, "imap.oauth")
		if err := ps.Err(); err != nil {
			return nil, err
		}
		auth.Token = oauthtoken.NewSource(c.OAuth, sec, clk, client, c.Timeout).Token
	} else {
		pw, err := config.ReadSecretFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("imap.password_file: %w", err)
		}
		auth.Password = pw.Reveal()
	}
	tc := &tls.Config{ServerName: c.ServerName}
	if c.CAFile != "" {
		ca, err := config.LoadCAFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("imap.ca_file: %w", err)
		}
		tc.RootCAs = ca.Pool()
	}
	return &imapSource{cfg: c,
		opts: imapx.Options{Address: c.Address, Security: imapx.Security(c.Security), TLSConfig: tc, Timeout: c.Timeout},
		auth: auth}, nil
}
