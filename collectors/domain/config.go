package domain

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/postconf"
)

// Config is the domain section of the config file.
type Config struct {
	// Interval is the time between two checks of one domain.
	Interval time.Duration `yaml:"interval"`
	// Jitter delays each domain's first check by a random part of it, so
	// domains (and agents started together) do not run in step.
	Jitter time.Duration `yaml:"jitter"`
	// Resolver is the DNS server (host:port, or an address for port 53);
	// empty uses the system's. DANE needs a validating resolver you trust,
	// reached over loopback.
	Resolver   string        `yaml:"resolver"`
	DNSTimeout time.Duration `yaml:"dns_timeout"`
	Attempts   int           `yaml:"attempts"`
	// Timeout bounds one SMTP dialogue or HTTPS fetch.
	Timeout time.Duration `yaml:"timeout"`
	// SMTPPort is where STARTTLS is probed on each MX (25; change it only
	// for test servers).
	SMTPPort int `yaml:"smtp_port"`
	// HTTPSPort is where MTA-STS policies and BIMI assets are fetched (443;
	// change it only for test servers).
	HTTPSPort int `yaml:"https_port"`
	// TLSCAFile is a PEM bundle of CAs to trust instead of the system's,
	// for private or test servers.
	TLSCAFile string `yaml:"tls_ca_file"`
	// HELOName is the name the STARTTLS probe greets MX hosts with.
	HELOName string `yaml:"helo_name"`
	// FetchBIMI fetches and checks the BIMI logo and mark certificate.
	FetchBIMI bool           `yaml:"fetch_bimi"`
	Domains   []DomainConfig `yaml:"domains"`
}

// DomainConfig is one domain to watch.
type DomainConfig struct {
	Name string `yaml:"name"`
	// DKIMSelectors are the selectors the domain signs with; DNS cannot
	// list them.
	DKIMSelectors []string `yaml:"dkim_selectors"`
	// SendingIPs are the addresses its mail leaves from: each is
	// evaluated against SPF and checked for reverse DNS.
	SendingIPs []string `yaml:"sending_ips"`
	// SkipChecks names checks not to run for this domain (see Checks).
	SkipChecks []string `yaml:"skip_checks"`
}

// Defaults.
const (
	DefaultInterval   = time.Hour
	DefaultJitter     = 5 * time.Minute
	DefaultDNSTimeout = 2 * time.Second
	DefaultAttempts   = 2
	// MaxDomains bounds the domain label.
	MaxDomains = 256
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Interval:   DefaultInterval,
		Jitter:     DefaultJitter,
		DNSTimeout: DefaultDNSTimeout,
		Attempts:   DefaultAttempts,
		Timeout:    DefaultTimeout,
		SMTPPort:   DefaultSMTPPort,
		HTTPSPort:  DefaultHTTPSPort,
	}
}

// Validate returns every problem, with key paths relative to the section.
// It changes nothing: build derives the targets and the CA pool again.
func (c *Config) Validate() error {
	_, ps := c.compile(true)
	return ps.Err()
}

// compiled is what a valid config says to check, and how.
type compiled struct {
	targets []Target
	ca      config.CABundle
}

// compile derives the targets and reads the CA bundle, reporting every
// problem. needDomains is false for /probe and the CLI, which bring the
// domain.
func (c *Config) compile(needDomains bool) (compiled, config.Problems) {
	var out compiled
	var ps config.Problems
	ps.CheckSchedule(c.Interval, c.Jitter, time.Second)
	if c.DNSTimeout <= 0 {
		ps.Add("dns_timeout", "must be positive")
	}
	if c.Attempts < 1 || c.Attempts > 10 {
		ps.Add("attempts", "must be between 1 and 10")
	}
	if c.Timeout <= 0 {
		ps.Add("timeout", "must be positive")
	}
	for key, p := range map[string]int{"smtp_port": c.SMTPPort, "https_port": c.HTTPSPort} {
		if p < 1 || p > 65535 {
			ps.Addf(key, "must be a port from 1 to 65535, got %d", p)
		}
	}
	if c.Resolver != "" {
		if err := dnsx.CheckServer(c.Resolver); err != nil {
			ps.Add("resolver", err.Error())
		}
	}
	if c.HELOName != "" && !isDomainName(c.HELOName) {
		ps.Addf("helo_name", "%q is not a host name", c.HELOName)
	}
	if c.TLSCAFile != "" {
		ca, err := config.LoadCAFile(c.TLSCAFile)
		if err != nil {
			ps.Add("tls_ca_file", err.Error())
		}
		out.ca = ca
	}
	out.targets = c.validateDomains(&ps)
	if len(c.Domains) == 0 && needDomains {
		ps.Add("domains", "no domain to check: list at least one under domains (name, dkim_selectors, sending_ips)")
	}
	if len(c.Domains) > MaxDomains {
		ps.Addf("domains", "at most %d domains (each is a label value)", MaxDomains)
	}
	return out, ps
}

func (c *Config) validateDomains(ps *config.Problems) []Target {
	var out []Target
	seen := map[string]bool{}
	for i, d := range c.Domains {
		path := fmt.Sprintf("domains[%d]", i)
		name := fqdn(strings.TrimSpace(d.Name))
		switch {
		case name == "":
			ps.Add(path+".name", "missing")
			continue
		case !isDomainName(name):
			ps.Addf(path+".name", "%q is not a domain name", d.Name)
			continue
		case seen[name]:
			ps.Addf(path+".name", "domain %s is listed twice", name)
			continue
		}
		seen[name] = true
		t := Target{Domain: name, Skip: map[string]bool{}}
		sels := map[string]bool{}
		for j, s := range d.DKIMSelectors {
			sp := fmt.Sprintf("%s.dkim_selectors[%d]", path, j)
			s = strings.ToLower(strings.TrimSpace(s))
			switch {
			case !isSelector(s):
				ps.Addf(sp, "%q is not a DKIM selector (letters, digits, hyphens, dots)", d.DKIMSelectors[j])
			case sels[s]:
				ps.Addf(sp, "selector %s is listed twice", s)
			default:
				sels[s] = true
				t.Selectors = append(t.Selectors, s)
			}
		}
		for j, s := range d.SendingIPs {
			ip, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil || ip.Zone() != "" {
				ps.Addf(fmt.Sprintf("%s.sending_ips[%d]", path, j), "%q is not an IP address", s)
				continue
			}
			t.SendingIPs = append(t.SendingIPs, ip.Unmap())
		}
		for j, s := range d.SkipChecks {
			if !knownCheck(s) {
				ps.Addf(fmt.Sprintf("%s.skip_checks[%d]", path, j), "%s", config.UnknownMsg("check", s, Checks))
				continue
			}
			t.Skip[s] = true
		}
		out = append(out, t)
	}
	return out
}

func knownCheck(s string) bool {
	for _, c := range Checks {
		if c == s {
			return true
		}
	}
	return false
}

func isDomainName(s string) bool {
	return dnsx.IsHostName(s) && strings.Contains(strings.TrimSuffix(s, "."), ".")
}

func isSelector(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// autoConfig proposes a section on a Postfix host: the domains it
// receives mail for, minus localhost names and bare host names. Without
// sending IPs or DKIM selectors the checks still cover SPF, DMARC, MX,
// MTA-STS, TLS-RPT, BIMI, STARTTLS and DANE.
func autoConfig(facts *postconf.Facts) *Config {
	if facts == nil {
		return nil
	}
	c := NewConfig()
	seen := map[string]bool{}
	for _, d := range facts.Domains {
		d = fqdn(d)
		if d == "" || seen[d] || strings.HasPrefix(d, "localhost") || d == fqdn(facts.MyHostname) || !isDomainName(d) || strings.HasSuffix(d, ".localdomain") {
			continue
		}
		seen[d] = true
		c.Domains = append(c.Domains, DomainConfig{Name: d})
	}
	if len(c.Domains) == 0 {
		return nil
	}
	return c
}
