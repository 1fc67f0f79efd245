package mailclass

import (
	"fmt"
	"slices"
)

// DefaultProviders groups the large mailbox providers' recipient domains
// and MX host domains. Keys are domains (a key matches itself and every
// subdomain); values are the `provider` label. Users extend or override
// it in the config.
var DefaultProviders = map[string]string{
	// Google: consumer domains and the MX of Gmail and Workspace.
	"gmail.com": "gmail", "googlemail.com": "gmail", "google.com": "gmail",
	// Microsoft: consumer domains and Exchange Online Protection MX.
	"outlook.com": "microsoft", "hotmail.com": "microsoft", "live.com": "microsoft", "msn.com": "microsoft",
	"hotmail.co.uk": "microsoft", "hotmail.fr": "microsoft", "hotmail.de": "microsoft", "hotmail.it": "microsoft",
	"outlook.de": "microsoft", "outlook.fr": "microsoft", "live.fr": "microsoft", "live.de": "microsoft",
	"protection.outlook.com": "microsoft",
	// microsoft.com: Microsoft's own mail (on Exchange Online) and the
	// sender of its DMARC reports (dmarcreport@microsoft.com).
	"microsoft.com": "microsoft",
	// Yahoo and AOL (one provider since 2017).
	"yahoo.com": "yahoo", "yahoo.co.uk": "yahoo", "yahoo.fr": "yahoo", "yahoo.de": "yahoo", "yahoo.co.jp": "yahoo",
	"ymail.com": "yahoo", "rocketmail.com": "yahoo", "aol.com": "yahoo", "aim.com": "yahoo", "yahoodns.net": "yahoo",
	// yahooinc.com: the sender of Yahoo's DMARC reports (dmarchelp@yahooinc.com).
	"yahooinc.com": "yahoo",
	// Apple.
	"icloud.com": "apple", "me.com": "apple", "mac.com": "apple",
	// United Internet: GMX and WEB.DE.
	"gmx.de": "gmx", "gmx.net": "gmx", "gmx.com": "gmx", "gmx.at": "gmx", "gmx.ch": "gmx", "web.de": "gmx",
	// VK: mail.ru.
	"mail.ru": "mailru", "inbox.ru": "mailru", "list.ru": "mailru", "bk.ru": "mailru",
	"yandex.ru": "yandex", "yandex.com": "yandex", "ya.ru": "yandex", "yandex.net": "yandex",
	"comcast.net": "comcast",
	"orange.fr":   "orange", "wanadoo.fr": "orange",
	"t-online.de": "t-online",
	"proton.me":   "proton", "protonmail.com": "proton", "protonmail.ch": "proton",
	"zoho.com": "zoho", "zohomail.com": "zoho",
	"qq.com":  "tencent",
	"163.com": "netease", "126.com": "netease",
	"naver.com":    "naver",
	"free.fr":      "free",
	"libero.it":    "italiaonline",
	"seznam.cz":    "seznam",
	"fastmail.com": "fastmail", "messagingengine.com": "fastmail",
}

// Well-known provider label values besides the map's.
const (
	ProviderOther = "other" // a destination no entry matches
	ProviderLocal = "local" // delivered on this host (local, virtual, pipe, lmtp to a socket)
)

// Providers maps destination domains and MX hosts to a bounded set of
// provider names. Read-only after NewProviders.
type Providers struct {
	m     map[string]string
	names []string
}

// NewProviders merges user entries over the defaults. A user value of ""
// removes a default.
func NewProviders(user map[string]string) (*Providers, error) {
	p := &Providers{m: map[string]string{}}
	for k, v := range DefaultProviders {
		p.m[k] = v
	}
	for k, v := range user {
		if err := checkProvider(k, v); err != nil {
			return nil, fmt.Errorf("providers: %q: %w", k, err)
		}
		if v == "" {
			delete(p.m, string(lower([]byte(k))))
			continue
		}
		p.m[string(lower([]byte(k)))] = v
	}
	seen := map[string]bool{ProviderOther: true, ProviderLocal: true}
	p.names = []string{ProviderOther, ProviderLocal}
	for _, v := range p.m {
		if !seen[v] {
			seen[v] = true
			p.names = append(p.names, v)
		}
	}
	// Sorted, so that two Providers of one config are equal: configs
	// holding one are compared with reflect.DeepEqual on reload.
	slices.Sort(p.names[2:])
	return p, nil
}

// Names returns the closed set of provider label values.
func (p *Providers) Names() []string { return append([]string(nil), p.names...) }

// Lookup returns the provider of a recipient domain or, failing that, of
// the relay host; "other" when neither matches. It does not allocate.
func (p *Providers) Lookup(domain, relay []byte) string {
	if v, ok := p.lookup(domain); ok {
		return v
	}
	if v, ok := p.lookup(relay); ok {
		return v
	}
	return ProviderOther
}

// lookup tries the name and each parent domain (mx1.gmail.com, gmail.com).
func (p *Providers) lookup(name []byte) (string, bool) {
	var buf [256]byte
	if len(name) == 0 || len(name) > len(buf) {
		return "", false
	}
	b := buf[:len(name)]
	for i, c := range name {
		b[i] = toLower(c)
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	for len(b) > 0 {
		if v, ok := p.m[string(b)]; ok {
			return v, true
		}
		i := 0
		for i < len(b) && b[i] != '.' {
			i++
		}
		if i >= len(b) {
			break
		}
		b = b[i+1:]
	}
	return "", false
}

// checkProvider says what is wrong with one user entry, domain -> name.
func checkProvider(domain, name string) error {
	if len(domain) > 253 || domain == "" {
		return fmt.Errorf("bad domain %q", domain)
	}
	if name != "" && (name == ProviderLocal || name == ProviderOther || !labelSafe(name)) {
		return fmt.Errorf("name %q is reserved or not [a-z0-9_-]", name)
	}
	return nil
}

func labelSafe(s string) bool {
	if len(s) > 32 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Has reports whether name is one of the provider label values (Names).
func (p *Providers) Has(name string) bool { return slices.Contains(p.names, name) }
