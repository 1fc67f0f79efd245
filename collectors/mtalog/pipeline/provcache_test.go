package pipeline

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestProviderCacheAgreesWithLookup: through the cache, every (domain,
// relay) pair gets what Providers.Lookup says, for pairs that collide in
// the 128 slots, differ only in case or in one byte, and are too long to
// cache.
func TestProviderCacheAgreesWithLookup(t *testing.T) {
	pr, err := mailclass.NewProviders(map[string]string{"corp.example": "corp"})
	if err != nil {
		t.Fatal(err)
	}
	domains := []string{"gmail.com", "GMAIL.com", "x.gmail.com", "gmail.co", "hotmail.com", "ok.test", "ok.tesu", "a.gmail.com", "aaamail.com",
		"corp.example", "mx.corp.example", "", strings.Repeat("a", 60) + ".gmail.com", strings.Repeat("b", 47) + ".de"}
	relays := []string{"", "gmail-smtp-in.l.google.com", "127.0.0.1", "mx1.corp.example", "mx2.corp.example", "mx1.corq.example",
		"eur.mail.protection.outlook.com", strings.Repeat("c", 49), "localhost"}
	var c providerCache
	rng := rand.New(rand.NewPCG(3, 4))
	hits := 0
	for range 20_000 {
		d, r := []byte(domains[rng.IntN(len(domains))]), []byte(relays[rng.IntN(len(relays))])
		want := pr.Lookup(d, r)
		var got string
		if slot := c.slot(d, r); slot != nil && slot.holds(d, r) {
			got = slot.provider
			hits++
		} else {
			got = pr.Lookup(d, r)
			if slot != nil {
				slot.put(d, r, got, 0)
			}
		}
		if got != want {
			t.Fatalf("(%q, %q): %q through the cache, Lookup says %q", d, r, got, want)
		}
	}
	if hits == 0 {
		t.Fatal("the cache never hit")
	}
}
