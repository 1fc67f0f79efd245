package reports

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/dnsx"
)

// Config is the reports section of the config file.
type Config struct {
	// Interval is the time between scans of the directories.
	Interval time.Duration `yaml:"interval"`
	// Directories are read recursively for report files (XML, JSON, gzip,
	// zip or emails; a Maildir's cur/ and new/). Files are left in place:
	// a file is read again only when its size or mtime changes, and the
	// dedup state keeps a report from counting twice across restarts.
	Directories []string `yaml:"directories"`
	// Domains are your policy domains: the only values of the `domain`
	// label (a report about another domain counts as "other").
	Domains []string `yaml:"domains"`
	// OwnIPs are the addresses and CIDR prefixes you send from: records
	// from them are the `own` source class.
	OwnIPs []string `yaml:"own_ips"`
	// MXHosts are the MX hosts your MTA-STS or DANE policies list: the
	// only values of the TLS failures' `mx` label (others count as
	// "other").
	MXHosts []string `yaml:"mx_hosts"`
	// Dedup is how long and how many reports are remembered.
	Dedup DedupConfig `yaml:"dedup"`
	// SettleDelay is how long after a UTC day ends its reports are waited
	// for before that day's counts are added to the counters (see
	// docs/collectors/reports.md, "Counting by the report's period").
	SettleDelay time.Duration `yaml:"settle_delay"`
	// Limits bound what one report may cost.
	Limits LimitsConfig `yaml:"limits"`
	// HTTP is the TLS-RPT HTTPS endpoint (RFC 8460 section 3) on the
	// agent's web listener.
	HTTP HTTPConfig `yaml:"http"`
	// IMAP, when set, is a report mailbox read every interval.
	IMAP *IMAPConfig `yaml:"imap"`
	// SPF is the evaluation of your domains' SPF records for report
	// sources (the own and esp source classes).
	SPF SPFConfig `yaml:"spf"`
	// UnknownSources is what the status page shows of the sources of the
	// unknown class.
	UnknownSources UnknownSourcesConfig `yaml:"unknown_sources"`
}

// SPFConfig sets up the SPF evaluation of report sources: a record's
// source address is own when a term of your own SPF records lets it send
// (docs/collectors/reports.md, "Source classes").
type SPFConfig struct {
	// Enabled: evaluate the SPF record of each configured policy domain
	// for the source addresses of its aggregate reports.
	Enabled bool `yaml:"enabled"`
	// Resolver is the DNS server (host:port, or an address for port 53);
	// empty uses the system's.
	Resolver string `yaml:"resolver"`
	// DNSTimeout bounds one DNS query (each is tried twice).
	DNSTimeout time.Duration `yaml:"dns_timeout"`
}

// UnknownSourcesConfig shapes the status page's tables of unknown sources
// (one per domain): never labels, only the page, the log and `mailscope
// report`.
type UnknownSourcesConfig struct {
	// Top is the rows per domain, the sources with the most messages.
	Top int `yaml:"top"`
	// ReverseDNS looks up the PTR name of each listed source through the
	// agent's shared DNS client (bounded concurrency and time, cached).
	ReverseDNS bool `yaml:"reverse_dns"`
	// Resolver is the DNS server for those lookups, host:port (empty:
	// the system's).
	Resolver string `yaml:"resolver"`
}

// maxUnknownTop bounds unknown_sources.top.
const maxUnknownTop = 100

// DedupConfig bounds the durable dedup state.
type DedupConfig struct {
	// Window is how long a report is remembered, from its period's end;
	// a report whose period ended longer ago is refused as stale.
	Window time.Duration `yaml:"window"`
	// MaxEntries caps the reports remembered; past it the oldest go.
	MaxEntries int `yaml:"max_entries"`
}

// LimitsConfig is parse.Limits in the config file.
type LimitsConfig struct {
	MaxInputBytes        int64 `yaml:"max_input_bytes"`
	MaxDecompressedBytes int64 `yaml:"max_decompressed_bytes"`
	MaxCompressionRatio  int64 `yaml:"max_compression_ratio"`
	MaxZipMembers        int   `yaml:"max_zip_members"`
	MaxMIMEParts         int   `yaml:"max_mime_parts"`
	MaxMIMEDepth         int   `yaml:"max_mime_depth"`
	MaxHeaderBytes       int64 `yaml:"max_header_bytes"`
	MaxXMLDepth          int   `yaml:"max_xml_depth"`
	MaxXMLElements       int   `yaml:"max_xml_elements"`
	MaxJSONDepth         int   `yaml:"max_json_depth"`
	// MaxFilesPerScan bounds the files one directory scan reads; the rest
	// wait for the next scan.
	MaxFilesPerScan int `yaml:"max_files_per_scan"`
}

// HTTPConfig is the TLS-RPT POST endpoint. It is off unless enabled; it
// sits behind the web config's TLS and authentication like every page of
// the agent.
type HTTPConfig struct {
	Enabled bool `yaml:"enabled"`
	// Path is where reporters POST (the path of your rua=https:// URI).
	Path string `yaml:"path"`
	// MaxBodyBytes caps a POST's body; a larger one is refused with 413
	// without being read further.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// NewConfig returns the defaults.
func NewConfig() *Config {
	l := parse.DefaultLimits()
	return &Config{
		Interval:    5 * time.Minute,
		Dedup:       DedupConfig{Window: 60 * 24 * time.Hour, MaxEntries: 200_000},
		SettleDelay: 48 * time.Hour,
		Limits: LimitsConfig{
			MaxInputBytes: l.MaxInputBytes, MaxDecompressedBytes: l.MaxDecompressedBytes, MaxCompressionRatio: l.MaxCompressionRatio,
			MaxZipMembers: l.MaxZipMembers, MaxMIMEParts: l.MaxMIMEParts, MaxMIMEDepth: l.MaxMIMEDepth, MaxHeaderBytes: l.MaxHeaderBytes,
			MaxXMLDepth: l.MaxXMLDepth, MaxXMLElements: l.MaxXMLElements, MaxJSONDepth: l.MaxJSONDepth, MaxFilesPerScan: 10_000,
		},
		HTTP:           HTTPConfig{Path: "/tlsrpt", MaxBodyBytes: 10 << 20},
		SPF:            SPFConfig{Enabled: true, DNSTimeout: 2 * time.Second},
		UnknownSources: UnknownSourcesConfig{Top: 20, ReverseDNS: true},
	}
}

// ParseLimits returns the limits the parser takes.
func (l LimitsConfig) ParseLimits() parse.Limits {
	return parse.Limits{
		MaxInputBytes: l.MaxInputBytes, MaxDecompressedBytes: l.MaxDecompressedBytes, MaxCompressionRatio: l.MaxCompressionRatio,
		MaxZipMembers: l.MaxZipMembers, MaxMIMEParts: l.MaxMIMEParts, MaxMIMEDepth: l.MaxMIMEDepth, MaxHeaderBytes: l.MaxHeaderBytes,
		MaxXMLDepth: l.MaxXMLDepth, MaxXMLElements: l.MaxXMLElements, MaxJSONDepth: l.MaxJSONDepth,
	}
}

// Validate returns every problem, with key paths relative to the section.
// It reads nothing: the directories are checked when the collector runs.
func (c *Config) Validate() error {
	var ps config.Problems
	ps.CheckSchedule(c.Interval, 0, time.Second)
	if len(c.Directories) == 0 && !c.HTTP.Enabled && c.IMAP == nil {
		ps.Add("directories", "no source: set directories or imap, or enable http")
	}
	if c.IMAP != nil {
		c.IMAP.validate(&ps, "imap")
	}
	for i, d := range c.Directories {
		if !filepath.IsAbs(d) {
			ps.Addf(fmt.Sprintf("directories[%d]", i), "must be an absolute path, got %q", d)
		}
	}
	if len(c.Domains) == 0 {
		ps.Add("domains", "required: your policy domains (the values of the domain label)")
	}
	for i, d := range c.Domains {
		if !dnsx.IsHostName(d) {
			ps.Addf(fmt.Sprintf("domains[%d]", i), "not a domain name: %q", d)
		}
	}
	for i, h := range c.MXHosts {
		if !dnsx.IsHostName(h) {
			ps.Addf(fmt.Sprintf("mx_hosts[%d]", i), "not a host name: %q", h)
		}
	}
	for i, s := range c.OwnIPs {
		if _, errs := ParsePrefixes([]string{s}); len(errs) > 0 {
			ps.Addf(fmt.Sprintf("own_ips[%d]", i), "not an address or CIDR prefix: %q", s)
		}
	}
	if c.Dedup.Window < time.Hour {
		ps.Addf("dedup.window", "must be at least 1h, got %s", c.Dedup.Window)
	}
	if c.Dedup.MaxEntries < 1 {
		ps.Addf("dedup.max_entries", "must be at least 1, got %d", c.Dedup.MaxEntries)
	}
	if c.SettleDelay < 0 || c.SettleDelay >= c.Dedup.Window {
		ps.Addf("settle_delay", "must be at least 0 and less than dedup.window (%s), got %s", c.Dedup.Window, c.SettleDelay)
	}
	l := c.Limits
	for _, f := range []struct {
		key string
		v   int64
	}{
		{"max_input_bytes", l.MaxInputBytes}, {"max_decompressed_bytes", l.MaxDecompressedBytes},
		{"max_zip_members", int64(l.MaxZipMembers)}, {"max_mime_parts", int64(l.MaxMIMEParts)},
		{"max_mime_depth", int64(l.MaxMIMEDepth)}, {"max_header_bytes", int64(l.MaxHeaderBytes)},
		{"max_xml_depth", int64(l.MaxXMLDepth)}, {"max_xml_elements", int64(l.MaxXMLElements)},
		{"max_json_depth", int64(l.MaxJSONDepth)}, {"max_files_per_scan", int64(l.MaxFilesPerScan)},
	} {
		if f.v < 1 {
			ps.Addf("limits."+f.key, "must be at least 1, got %d", f.v)
		}
	}
	if l.MaxCompressionRatio < 0 {
		ps.Addf("limits.max_compression_ratio", "must be at least 0 (0: no check), got %d", l.MaxCompressionRatio)
	}
	if c.SPF.Resolver != "" {
		if err := dnsx.CheckServer(c.SPF.Resolver); err != nil {
			ps.Add("spf.resolver", err.Error())
		}
	}
	if c.SPF.DNSTimeout <= 0 || c.SPF.DNSTimeout > time.Minute {
		ps.Addf("spf.dns_timeout", "must be more than 0 and at most 1m, got %s", c.SPF.DNSTimeout)
	}
	if u := c.UnknownSources; u.Top < 1 || u.Top > maxUnknownTop {
		ps.Addf("unknown_sources.top", "must be between 1 and %d, got %d", maxUnknownTop, u.Top)
	}
	if r := c.UnknownSources.Resolver; r != "" {
		if err := dnsx.CheckServer(r); err != nil {
			ps.Addf("unknown_sources.resolver", "%v", err)
		}
	}
	if c.HTTP.Enabled {
		if !strings.HasPrefix(c.HTTP.Path, "/") || c.HTTP.Path == "/" || reservedPath(c.HTTP.Path) {
			ps.Addf("http.path", "must be a path of its own starting with /, not one of the agent's pages, got %q", c.HTTP.Path)
		}
		if c.HTTP.MaxBodyBytes < 1 {
			ps.Addf("http.max_body_bytes", "must be at least 1, got %d", c.HTTP.MaxBodyBytes)
		}
	}
	return ps.Err()
}

// reservedPath says whether p is one of the agent's own pages.
func reservedPath(p string) bool {
	for _, r := range []string{"/metrics", "/probe", "/-/", "/config", "/api/"} {
		if p == r || strings.HasPrefix(p, strings.TrimSuffix(r, "/")+"/") {
			return true
		}
	}
	return false
}
