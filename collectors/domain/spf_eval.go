package domain

import (
	"context"
	"net/netip"

	"github.com/mailscope/mailscope/internal/dnsx"
	"github.com/mailscope/mailscope/internal/spf"
)

// SPFResult is the result of check_host() (RFC 7208 §2.6).
type SPFResult = spf.Result

// The SPF results.
const (
	SPFNone      = spf.None
	SPFNeutral   = spf.Neutral
	SPFPass      = spf.Pass
	SPFFail      = spf.Fail
	SPFSoftfail  = spf.Softfail
	SPFTemperror = spf.Temperror
	SPFPermerror = spf.Permerror
)

// spfResolver asks the SPF evaluator's questions through the checks'
// lookup, so each one gets its span.
type spfResolver struct{ env *Env }

func (r spfResolver) Lookup(ctx context.Context, name string, qtype uint16) (*dnsx.Answer, error) {
	return r.env.lookup(ctx, name, qtype)
}

// EvaluateSPF runs check_host(ip, domain, sender) as a receiver would, and
// says why in words. The sender is postmaster@domain when empty.
func EvaluateSPF(ctx context.Context, env *Env, ip netip.Addr, domain, sender string) (SPFResult, string) {
	return spf.Evaluate(ctx, spfResolver{env}, ip, domain, sender)
}

// fetchSPF returns the one SPF record at domain: none, a record, or an
// error result (temperror, permerror) with its reason.
func fetchSPF(ctx context.Context, env *Env, domain string) (string, SPFResult, string) {
	return spf.Fetch(ctx, spfResolver{env}, domain)
}
