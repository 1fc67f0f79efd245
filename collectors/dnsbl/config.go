package dnsbl

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// Config is the dnsbl section of the config file.
type Config struct {
	// Interval is the time between sweeps.
	Interval time.Duration `yaml:"interval"`
	// Jitter delays the first sweep by a random part of it, so agents
	// started together do not query the lists in step.
	Jitter time.Duration `yaml:"jitter"`
	// Resolver is the DNS server (host:port, or host for port 53); empty
	// uses the system's. A local recursive resolver (unbound) is strongly
	// recommended: public resolvers are refused by Spamhaus and others.
	Resolver string        `yaml:"resolver"`
	Timeout  time.Duration `yaml:"timeout"`
	Attempts int           `yaml:"attempts"`
	// Concurrency bounds this collector's checks in flight.
	Concurrency int `yaml:"concurrency"`
	// ZoneRate caps the checks per second sent to one zone; 0 is no cap.
	ZoneRate float64 `yaml:"zone_rate"`
	// MaxTargets caps the targets (configured after CIDR expansion, plus
	// discovered), which bounds the `target` label.
	MaxTargets int           `yaml:"max_targets"`
	Targets    TargetsConfig `yaml:"targets"`
	// Zones are catalog zones by name (see CatalogNames).
	Zones []string `yaml:"zones"`
	// CustomZones are lists the catalog does not know, with their codes.
	CustomZones []CustomZone `yaml:"custom_zones"`
	// DQSKey is the Spamhaus Data Query Service key for *.dq.spamhaus.net
	// zones; prefer DQSKeyFile or ${ENV}.
	DQSKey     config.Secret `yaml:"dqs_key"`
	DQSKeyFile string        `yaml:"dqs_key_file"`
	// GenericZones are lists read by RFC 5782 alone (GenericZone): the
	// CLI's --zone names that are not in the catalog. Not a config key.
	GenericZones []GenericZoneName `yaml:"-"`
}

// GenericZoneName is one of the CLI's generic zones: its name and the kind
// given with it (NAME:ipv6), or the zero Kind when its health test is to
// find it.
type GenericZoneName struct {
	Name string
	Kind Kind
}

// TargetsConfig says what to check.
type TargetsConfig struct {
	// IPs are addresses or CIDR prefixes (expanded, within MaxTargets).
	IPs     []string `yaml:"ips"`
	Domains []string `yaml:"domains"`
	// Discover finds the addresses mail really leaves from.
	Discover DiscoverConfig `yaml:"discover"`
}

// DiscoverConfig turns on target discovery.
type DiscoverConfig struct {
	// Postfix adds smtp_bind_address and smtp_bind_address6 of the local
	// Postfix (postconf), or, when they are unset, the public source
	// address of the host's default route.
	Postfix bool `yaml:"postfix"`
	// PostfixConfigDir is the instance to ask (postconf -c); empty is the
	// default instance.
	PostfixConfigDir string `yaml:"postfix_config_dir"`
	// Seeds adds the public sending IPs that receivers recorded in the
	// seeds collector's test messages (default on; nothing without seeds).
	Seeds bool `yaml:"seeds"`
	// MTALog adds the public addresses the MTA log shows deliveries
	// leaving from (Exim's outgoing interface; default on; nothing on
	// Postfix, which does not log it).
	MTALog bool `yaml:"mta_log"`
}

// CustomZone is a user-defined list.
type CustomZone struct {
	Name string `yaml:"name"`
	// Type is "ip" (or "ipv4": IPv4 addresses, IPv6 too with IPv6),
	// "ipv6" (IPv6 addresses only, health-tested with ::ffff:127.0.0.2)
	// or "domain".
	Type Kind `yaml:"type"`
	IPv6 bool `yaml:"ipv6"`
	// Codes maps answers (127.0.0.x) to meanings; any other 127/8 answer
	// is still a listing ("unknown code").
	Codes map[string]string `yaml:"codes"`
	// ErrorCodes maps answers that mean "refused or failed".
	ErrorCodes map[string]string `yaml:"error_codes"`
	// HealthCheck runs the RFC 5782 test each sweep (default true).
	HealthCheck *bool `yaml:"health_check"`
	// HealthListed / HealthClean are a domain zone's test names (default
	// "test" and "invalid").
	HealthListed string `yaml:"health_listed"`
	HealthClean  string `yaml:"health_clean"`
	// Weight is "critical" or "warning" (default), for alert severity.
	Weight string `yaml:"weight"`
	// Delist is a URL shown with a listing.
	Delist string `yaml:"delist"`
	// Resolver overrides the DNS server for this zone (a local mirror).
	Resolver string `yaml:"resolver"`
}

// Defaults.
const (
	DefaultInterval    = 15 * time.Minute
	DefaultJitter      = time.Minute
	DefaultTimeout     = 2 * time.Second
	DefaultAttempts    = 2
	DefaultConcurrency = 16
	DefaultZoneRate    = 20
	DefaultMaxTargets  = 256
	// minCatalogInterval protects public lists from agents set to sweep
	// every few seconds; custom zones (your own mirror) may go faster.
	minCatalogInterval = time.Minute
)

// NewConfig returns the defaults.
func NewConfig() *Config {
	return &Config{
		Interval:    DefaultInterval,
		Jitter:      DefaultJitter,
		Timeout:     DefaultTimeout,
		Attempts:    DefaultAttempts,
		Concurrency: DefaultConcurrency,
		ZoneRate:    DefaultZoneRate,
		MaxTargets:  DefaultMaxTargets,
		Zones:       append([]string(nil), DefaultZones...),
		Targets:     TargetsConfig{Discover: DiscoverConfig{Seeds: true, MTALog: true}},
	}
}

// publicResolvers are open resolvers whose queries Spamhaus, URIBL and
// SURBL refuse or answer with error codes.
var publicResolvers = map[string]string{
	"8.8.8.8": "Google", "8.8.4.4": "Google", "2001:4860:4860::8888": "Google", "2001:4860:4860::8844": "Google",
	"1.1.1.1": "Cloudflare", "1.0.0.1": "Cloudflare", "2606:4700:4700::1111": "Cloudflare", "2606:4700:4700::1001": "Cloudflare",
	"9.9.9.9": "Quad9", "149.112.112.112": "Quad9", "2620:fe::fe": "Quad9",
	"208.67.222.222": "OpenDNS", "208.67.220.220": "OpenDNS",
}

// publicResolverName returns who runs the resolver at hostport, or "".
func publicResolverName(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return publicResolvers[a.Unmap().String()]
	}
	return ""
}

// refusesPublic reports whether a zone is known to refuse public resolvers.
func refusesPublic(z *Zone) bool {
	return strings.HasSuffix(z.Name, ".spamhaus.org") || z.Name == "multi.uribl.com" || z.Name == "multi.surbl.org"
}

// Validate returns every problem, with key paths relative to the section.
// It changes nothing: build derives the zones and targets again.
func (c *Config) Validate() error {
	_, ps := c.compile(true)
	return ps.Err()
}

// compiled is what a valid config says to check.
type compiled struct {
	zones   []Zone
	targets []Target
}

// compile derives the zones and configured targets and reports every
// problem. needTargets is false for /probe and the CLI, which bring their
// own target.
func (c *Config) compile(needTargets bool) (compiled, config.Problems) {
	var ps config.Problems
	ps.CheckSchedule(c.Interval, c.Jitter, 0)
	if c.Timeout <= 0 {
		ps.Add("timeout", "must be positive")
	}
	if c.Attempts < 1 || c.Attempts > 10 {
		ps.Add("attempts", "must be between 1 and 10")
	}
	if c.Concurrency < 1 || c.Concurrency > 1024 {
		ps.Add("concurrency", "must be between 1 and 1024")
	}
	if c.ZoneRate < 0 {
		ps.Add("zone_rate", "must be 0 (no cap) or positive")
	}
	if c.MaxTargets < 1 {
		ps.Add("max_targets", "must be at least 1")
	}
	if c.Resolver != "" {
		if err := dnsx.CheckServer(c.Resolver); err != nil {
			ps.Add("resolver", err.Error())
		}
	}
	key := config.ResolveSecret(&ps, "dqs_key", c.DQSKey, c.DQSKeyFile, false)
	if key != "" && !isAlnum(key.Reveal()) {
		ps.Add("dqs_key", "must be letters and digits only (the 26-character key from the Spamhaus portal)")
	}
	zones := c.validateZones(&ps, key)
	targets := c.validateTargets(&ps, needTargets)
	return compiled{zones: zones, targets: targets}, ps
}

func (c *Config) validateZones(ps *config.Problems, key config.Secret) []Zone {
	var zones []Zone
	seen := map[string]bool{}
	usesDQS, usesCatalog := false, false
	for i, name := range c.Zones {
		path := fmt.Sprintf("zones[%d]", i)
		name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
		if why := defunctReason(name); why != "" {
			ps.Addf(path, "%s is defunct (%s); remove it", name, why)
			continue
		}
		z, ok := lookupZone(name, key.Reveal())
		if !ok {
			ps.Addf(path, "%s (define lists the catalog does not know under custom_zones, with their codes)", config.UnknownMsg("zone", name, CatalogNames()))
			continue
		}
		if seen[name] {
			ps.Addf(path, "zone %s is listed twice", name)
			continue
		}
		seen[name] = true
		if z.dqs != "" {
			usesDQS = true
			if key == "" {
				ps.Addf(path, "%s is a Spamhaus DQS zone: set dqs_key_file (or dqs_key from an environment variable)", name)
			}
		} else {
			usesCatalog = true
		}
		if who := publicResolverName(c.Resolver); who != "" && refusesPublic(&z) {
			ps.Addf("resolver", "%s is %s's public resolver, which %s refuses (answers are errors or false \"not listed\"): run a local recursive resolver such as unbound, or use Spamhaus DQS", c.Resolver, who, name)
		}
		zones = append(zones, z)
	}
	if key != "" && !usesDQS {
		ps.Add("dqs_key", "is set, but no *.dq.spamhaus.net zone is in zones")
	}
	if usesCatalog && c.Interval > 0 && c.Interval < minCatalogInterval {
		ps.Addf("interval", "must be at least %s with public zones, which must not be queried more often, got %s", minCatalogInterval, c.Interval)
	}
	for i, cz := range c.CustomZones {
		z, ok := cz.zone(ps, fmt.Sprintf("custom_zones[%d]", i))
		if !ok {
			continue
		}
		if seen[z.Name] {
			ps.Addf(fmt.Sprintf("custom_zones[%d].name", i), "zone %s is defined twice", z.Name)
			continue
		}
		seen[z.Name] = true
		zones = append(zones, z)
	}
	for i, g := range c.GenericZones {
		if !isDomain(g.Name) {
			ps.Addf(fmt.Sprintf("zone[%d]", i), "%q is not a DNS name", g.Name)
			continue
		}
		zones = append(zones, GenericZone(g.Name, g.Kind))
	}
	if len(zones) == 0 && len(*ps) == 0 {
		ps.Add("zones", "no zone to check: name catalog zones or define custom_zones")
	}
	return zones
}

// zone turns a custom zone into a Zone, reporting its problems under path.
func (cz CustomZone) zone(ps *config.Problems, path string) (Zone, bool) {
	n := len(*ps)
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(cz.Name), "."))
	switch {
	case name == "":
		ps.Add(path+".name", "missing")
	case !isDomain(name):
		ps.Addf(path+".name", "%q is not a DNS name", cz.Name)
	case defunctReason(name) != "":
		ps.Addf(path+".name", "%s is defunct (%s); remove it", name, defunctReason(name))
	}
	if _, ok := catalog[name]; ok {
		ps.Addf(path+".name", "%s is in the catalog: list it under zones instead", name)
	}
	kind, ok := ParseKind(string(cz.Type))
	if !ok {
		ps.Addf(path+".type", "must be ip (or ipv4), ipv6 or domain, got %q", cz.Type)
	}
	if cz.IPv6 && kind != KindIP {
		ps.Add(path+".ipv6", "applies to ip zones only (an IPv6-only list is type: ipv6)")
	}
	for _, m := range []struct {
		key   string
		codes map[string]string
	}{{"codes", cz.Codes}, {"error_codes", cz.ErrorCodes}} {
		for code := range m.codes {
			a, err := netip.ParseAddr(code)
			if err != nil || !a.Is4() || !netip.MustParsePrefix("127.0.0.0/8").Contains(a) {
				ps.Addf(path+"."+m.key, "%q is not an address in 127.0.0.0/8", code)
			}
		}
	}
	for code := range cz.ErrorCodes {
		if _, dup := cz.Codes[code]; dup {
			ps.Addf(path+".error_codes", "%s is both a listing code and an error code", code)
		}
	}
	switch cz.Weight {
	case "", "critical", "warning":
	default:
		ps.Addf(path+".weight", "must be critical or warning, got %q", cz.Weight)
	}
	if cz.Resolver != "" {
		if err := dnsx.CheckServer(cz.Resolver); err != nil {
			ps.Add(path+".resolver", err.Error())
		}
	}
	if len(*ps) > n {
		return Zone{}, false
	}
	z := Zone{Name: name, Kind: kind, IPv6: cz.IPv6, Codes: cz.Codes, Errors: cz.ErrorCodes,
		Weight: cz.Weight, Delist: cz.Delist, Resolver: dnsx.ServerAddr(cz.Resolver)}
	if z.Weight == "" {
		z.Weight = "warning"
	}
	if cz.HealthCheck == nil || *cz.HealthCheck {
		z.HealthListed, z.HealthClean = "test", "invalid"
		if cz.HealthListed != "" {
			z.HealthListed = cz.HealthListed
		}
		if cz.HealthClean != "" {
			z.HealthClean = cz.HealthClean
		}
	} else if z.Kind != KindDomain {
		z.noHealth = true
	}
	return z, true
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

func isDomain(s string) bool {
	return dnsx.IsHostName(s) && strings.Contains(strings.TrimSuffix(s, "."), ".")
}
