package seeds

import (
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/imapx"
	"github.com/mailscope/mailscope/internal/oauthtoken"
)

// Config is the seeds section of the config file.
type Config struct {
	// Interval is the time between rounds.
	Interval time.Duration `yaml:"interval"`
	// Jitter delays the first round by a random part of it, so agents
	// started together do not send in step.
	Jitter time.Duration `yaml:"jitter"`
	// RoundTimeout is how long a round waits for each message before the
	// seed counts as missing.
	RoundTimeout time.Duration `yaml:"round_timeout"`
	// PollInterval is the time between searches of one seed mailbox.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Concurrency bounds the seed mailboxes searched at once.
	Concurrency int `yaml:"concurrency"`
	// KeepMessages leaves the test messages in the seed mailboxes for
	// inspection instead of deleting them.
	KeepMessages bool `yaml:"keep_messages"`
	// From is the envelope sender and the From address.
	From    string        `yaml:"from"`
	Submit  Endpoint      `yaml:"submit"`
	Message MessageConfig `yaml:"message"`
	Seeds   []SeedMailbox `yaml:"mailboxes"`
}

// MessageConfig shapes the test message so that it looks like the mail
// the user really sends: the provider judges content too.
type MessageConfig struct {
	FromName string `yaml:"from_name"`
	ReplyTo  string `yaml:"reply_to"`
	// Subject, Text and HTML are Go templates with {{.Token}} (the round
	// token), {{.Seed}} (the seed name) and {{.Date}}. The token is added
	// to the subject when the template does not place it.
	Subject string `yaml:"subject"`
	Text    string `yaml:"text"`
	HTML    string `yaml:"html"`
	// ListUnsubscribe is the List-Unsubscribe value (such as
	// "<https://example.com/u/1>, <mailto:u@example.com>").
	ListUnsubscribe string `yaml:"list_unsubscribe"`
	// ListUnsubscribePost adds List-Unsubscribe-Post: List-Unsubscribe=One-Click
	// (RFC 8058), which needs an https List-Unsubscribe URI.
	ListUnsubscribePost bool `yaml:"list_unsubscribe_post"`
	// Headers are added as they are (a Feedback-ID, a campaign header).
	Headers map[string]string `yaml:"headers"`
}

// Endpoint is a server to log in to: the submission server or a seed's
// IMAP server.
type Endpoint struct {
	// Address is host:port.
	Address string `yaml:"address"`
	// Security is "tls" (implicit, ports 465 and 993) or "starttls";
	// empty picks tls for 465 and 993, else starttls. There is no
	// cleartext mode: credentials never cross the network in clear.
	Security string `yaml:"security"`
	// CAFile verifies the server with these CAs instead of the system's.
	CAFile string `yaml:"ca_file"`
	// ServerName is the name checked in the certificate (default: the
	// host of Address).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify turns certificate verification off for this
	// server only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// Timeout bounds connecting and each command.
	Timeout time.Duration `yaml:"timeout"`
	// Auth is plain, login, xoauth2 or oauthbearer (default: plain for
	// submission, login for IMAP).
	Auth         string        `yaml:"auth"`
	Username     string        `yaml:"username"`
	Password     config.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
	// OAuth supplies the access token for xoauth2 and oauthbearer.
	OAuth OAuthConfig `yaml:"oauth"`
}

// endpointSecrets are an endpoint's secrets and CA bundle as read from
// their files by the build step (NewRunner); a config never holds them.
type endpointSecrets struct {
	password config.Secret
	ca       config.CABundle
	oauth    oauthtoken.Secrets
}

// OAuthConfig gets an access token: from a file something else keeps
// fresh, or by the refresh-token grant at a token endpoint. The reports
// collector's mailbox has the same section.
type OAuthConfig = oauthtoken.Config

// SeedMailbox is one seed: an address that receives a test message, and
// the IMAP login that finds it.
type SeedMailbox struct {
	// Name is the `mailbox` label; never the address.
	Name string `yaml:"name"`
	// Provider is the `provider` label (gmail, microsoft, yahoo, ...): a
	// name of the shared provider set (the top-level providers: section
	// over the built-in map; the agent refuses others, since dashboards
	// join the seeds' series with the MTA's on it). It also picks the
	// default authserv-ids.
	Provider string `yaml:"provider"`
	// Address receives the message (default: the IMAP username when it is
	// an address).
	Address string   `yaml:"address"`
	IMAP    Endpoint `yaml:"imap"`
	// SpamFolders are localized spam folder names to try before the
	// built-in fallbacks, when no folder has the \Junk attribute.
	SpamFolders []string `yaml:"spam_folders"`
	// TrashFolder overrides the trash found by \Trash or by name.
	TrashFolder string `yaml:"trash_folder"`
	// Folders are searched after INBOX and spam (placement other).
	Folders []string `yaml:"folders"`
	// AuthservIDs are the Authentication-Results authserv-ids trusted as
	// the provider's: an exact name, or a suffix starting with a dot. "-"
	// trusts headers without an authserv-id (Microsoft). Default: by
	// provider; for other providers, the topmost header.
	AuthservIDs []string `yaml:"authserv_ids"`
}

// Defaults.
const (
	DefaultInterval     = time.Hour
	DefaultJitter       = 5 * time.Minute
	DefaultRoundTimeout = 15 * time.Minute
	DefaultPollInterval = 30 * time.Second
	DefaultConcurrency  = 8
	DefaultTimeout      = 30 * time.Second
	// maxSeeds bounds the mailbox label.
	maxSeeds = 200
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Interval:     DefaultInterval,
		Jitter:       DefaultJitter,
		RoundTimeout: DefaultRoundTimeout,
		PollInterval: DefaultPollInterval,
		Concurrency:  DefaultConcurrency,
		Message: MessageConfig{
			Subject: "Delivery check {{.Token}}",
			Text:    "This message checks that mail from us reaches you.\r\nIt is removed automatically.\r\n\r\nReference: {{.Token}}\r\n",
		},
	}
}

var (
	nameRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	providerRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	headerRE   = regexp.MustCompile(`^[A-Za-z0-9-]+$`)
)

// reservedHeaders are set by the message builder; configuring them would
// break matching or the path.
var reservedHeaders = map[string]bool{"from": true, "to": true, "subject": true, "message-id": true, "date": true,
	"x-mailscope-probe": true, "reply-to": true, "list-unsubscribe": true, "list-unsubscribe-post": true,
	"mime-version": true, "content-type": true, "content-transfer-encoding": true}

// Validate returns every problem, with key paths relative to the section;
// it reads every secret and CA file to check it, and changes nothing.
func (c *Config) Validate() error {
	_, _, ps := c.withDefaults().resolve()
	return ps.Err()
}

// withDefaults returns a copy of the config with the defaults that depend
// on other keys filled in: each endpoint's security (by port), timeout and
// auth, and a seed's address (its IMAP username when that is an address).
// Rounds run with this copy.
func (c *Config) withDefaults() *Config {
	out := *c
	out.Submit = c.Submit.withDefaults("plain")
	out.Seeds = make([]SeedMailbox, len(c.Seeds))
	for i, s := range c.Seeds {
		s.IMAP = s.IMAP.withDefaults("login")
		if s.Address == "" && strings.Contains(s.IMAP.Username, "@") {
			s.Address = s.IMAP.Username
		}
		out.Seeds[i] = s
	}
	return &out
}

// withDefaults fills in security, timeout and auth (defAuth).
func (e Endpoint) withDefaults(defAuth string) Endpoint {
	if e.Security == "" {
		_, port, _ := net.SplitHostPort(e.Address)
		if port == "465" || port == "993" {
			e.Security = string(imapx.ImplicitTLS)
		} else {
			e.Security = string(imapx.StartTLS)
		}
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	if e.Auth == "" {
		e.Auth = defAuth
	}
	return e
}

// resolve checks a config with its defaults filled in and reads its
// secrets and CA bundles: those of the submission endpoint, and of each
// seed's IMAP endpoint.
func (c *Config) resolve() (submit endpointSecrets, seeds []endpointSecrets, ps config.Problems) {
	ps.CheckSchedule(c.Interval, c.Jitter, 0)
	if c.RoundTimeout <= 0 {
		ps.Add("round_timeout", "must be positive")
	} else if c.Interval > 0 && c.RoundTimeout >= c.Interval {
		ps.Addf("round_timeout", "must be less than interval (%s): a round must end before the next starts, got %s", c.Interval, c.RoundTimeout)
	}
	if c.PollInterval <= 0 || (c.RoundTimeout > 0 && c.PollInterval > c.RoundTimeout) {
		ps.Addf("poll_interval", "must be positive and at most round_timeout (%s), got %s", c.RoundTimeout, c.PollInterval)
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		ps.Add("concurrency", "must be between 1 and 64")
	}
	if c.From == "" {
		ps.Add("from", "missing: the sender address of the test messages")
	} else if a, err := mail.ParseAddress(c.From); err != nil || a.Name != "" || a.Address != c.From {
		ps.Addf("from", "%q is not a bare email address", c.From)
	}
	submit = c.Submit.validate(&ps, "submit")
	c.validateMessage(&ps)
	if len(c.Seeds) == 0 {
		ps.Add("mailboxes", "no seed mailbox: add at least one")
	}
	if len(c.Seeds) > maxSeeds {
		ps.Addf("mailboxes", "at most %d seed mailboxes, got %d", maxSeeds, len(c.Seeds))
	}
	names := map[string]bool{}
	seeds = make([]endpointSecrets, len(c.Seeds))
	for i := range c.Seeds {
		seeds[i] = c.Seeds[i].validate(&ps, fmt.Sprintf("mailboxes[%d]", i), names)
	}
	return submit, seeds, ps
}

func (c *Config) validateMessage(ps *config.Problems) {
	m := &c.Message
	if _, err := parseTemplates(m); err != nil {
		ps.Addf("message", "%v", err)
	}
	if strings.TrimSpace(m.Subject) == "" {
		ps.Add("message.subject", "missing")
	} else if strings.ContainsAny(m.Subject, "\r\n") {
		ps.Add("message.subject", "must be one line")
	}
	if m.Text == "" && m.HTML == "" {
		ps.Add("message.text", "set text, html or both")
	}
	if m.ReplyTo != "" {
		if _, err := mail.ParseAddress(m.ReplyTo); err != nil {
			ps.Addf("message.reply_to", "%q is not an email address", m.ReplyTo)
		}
	}
	if strings.ContainsAny(m.FromName, "\r\n") {
		ps.Add("message.from_name", "must be one line")
	}
	if m.ListUnsubscribe != "" && (!strings.HasPrefix(strings.TrimSpace(m.ListUnsubscribe), "<") || strings.ContainsAny(m.ListUnsubscribe, "\r\n")) {
		ps.Add("message.list_unsubscribe", "want one line of <URI> entries, such as <https://example.com/u/1>, <mailto:u@example.com>")
	}
	if m.ListUnsubscribePost && !strings.Contains(m.ListUnsubscribe, "<https://") {
		ps.Add("message.list_unsubscribe_post", "one-click unsubscribe (RFC 8058) needs an https URI in list_unsubscribe")
	}
	for k, v := range m.Headers {
		switch {
		case !headerRE.MatchString(k):
			ps.Addf("message.headers", "%q is not a header name", k)
		case reservedHeaders[strings.ToLower(k)]:
			ps.Addf("message.headers", "%s is set by mailscope (use the message keys instead)", k)
		case strings.ContainsAny(v, "\r\n"):
			ps.Addf("message.headers", "%s: the value must be one line", k)
		}
	}
}

// ProviderLabels returns each mailbox's provider by key path, for the
// agent to check against the shared provider set
// (collectors.ProviderLabels).
func (c *Config) ProviderLabels() map[string]string {
	out := make(map[string]string, len(c.Seeds))
	for i, s := range c.Seeds {
		if providerRE.MatchString(s.Provider) { // else Validate said so
			out[fmt.Sprintf("mailboxes[%d].provider", i)] = s.Provider
		}
	}
	return out
}

func (s *SeedMailbox) validate(ps *config.Problems, path string, names map[string]bool) endpointSecrets {
	switch {
	case s.Name == "":
		ps.Add(path+".name", "missing")
	case !nameRE.MatchString(s.Name):
		ps.Addf(path+".name", "%q: want letters, digits, '.', '_' or '-' (it becomes the mailbox label; never use the address)", s.Name)
	case strings.Contains(s.Name, "@"):
		ps.Add(path+".name", "must not be an address")
	case names[s.Name]:
		ps.Addf(path+".name", "%q is used twice", s.Name)
	}
	names[s.Name] = true
	if !providerRE.MatchString(s.Provider) {
		ps.Addf(path+".provider", "%q: want a lower-case provider name such as gmail, microsoft, yahoo, apple, fastmail or other", s.Provider)
	}
	sec := s.IMAP.validate(ps, path+".imap")
	if s.Address == "" {
		ps.Add(path+".address", "missing: the seed's email address (default: imap.username when it is an address)")
	} else if a, err := mail.ParseAddress(s.Address); err != nil || a.Address != s.Address {
		ps.Addf(path+".address", "%q is not a bare email address", s.Address)
	}
	for _, id := range s.AuthservIDs {
		if id == "" || strings.ContainsAny(id, " ;") {
			ps.Addf(path+".authserv_ids", "%q is not an authserv-id (a host name, .suffix, or - for none)", id)
		}
	}
	return sec
}

// validate checks an endpoint with its defaults filled in and reads its
// secrets and CA bundle.
func (e *Endpoint) validate(ps *config.Problems, path string) endpointSecrets {
	host, port, err := net.SplitHostPort(e.Address)
	switch {
	case e.Address == "":
		ps.Add(path+".address", "missing")
	case err != nil || host == "" || port == "":
		ps.Addf(path+".address", "want host:port, got %q", e.Address)
	}
	if e.Security != string(imapx.ImplicitTLS) && e.Security != string(imapx.StartTLS) {
		ps.Addf(path+".security", "must be tls or starttls (there is no cleartext mode), got %q", e.Security)
	}
	if e.Timeout < 0 {
		ps.Add(path+".timeout", "must be positive")
	}
	var sec endpointSecrets
	if e.CAFile != "" {
		ca, err := config.LoadCAFile(e.CAFile)
		if err != nil {
			ps.Add(path+".ca_file", err.Error())
		}
		sec.ca = ca
	}
	known := false
	for _, m := range imapx.Methods {
		known = known || m == e.Auth
	}
	if !known {
		ps.Addf(path+".auth", "must be one of %s, got %q", strings.Join(imapx.Methods, ", "), e.Auth)
	}
	if e.Username == "" {
		ps.Add(path+".username", "missing")
	}
	oauth := oauthtoken.IsMethod(e.Auth)
	sec.password = config.ResolveSecret(ps, path+".password", e.Password, e.PasswordFile, !oauth)
	if oauth {
		e.OAuth.Check(ps, path+".oauth")
		sec.oauth = e.OAuth.ReadSecrets(ps, path+".oauth")
	} else if e.OAuth.Set() {
		ps.Addf(path+".oauth", "applies to auth xoauth2 or oauthbearer only (auth is %s)", e.Auth)
	}
	return sec
}
