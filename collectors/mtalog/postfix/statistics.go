package postfix

import "github.com/mailscope/mailscope/collectors/mtalog/event"

// parseStatistics reads anvil/anvil.c's "statistics: max connection rate
// 1/60s for (smtp:192.0.2.1) at Nov 26 05:31:21" family (connection rate
// and count, message, recipient, newtls and auth rates, cache size) and
// scache/scache.c's "statistics: start interval ...", "statistics: domain
// lookup hits=0 miss=1 success=0%", "statistics: max simultaneous
// domains=1 addresses=1 connection=1". Count holds anvil's maximum.
func parseStatistics(msg []byte, ev *event.Event) bool {
	rest, ok := trimPrefix(msg, "statistics: ")
	if !ok {
		return false
	}
	ev.Kind = event.KindStatistics
	if r, ok := trimPrefix(rest, "max "); ok {
		// "max connection rate 1/60s for (...)" -> 1
		if _, num, ok := cut(r, " rate "); ok {
			n, _, _ := atoi(num)
			ev.Count = int32(n)
		} else if _, num, ok := cut(r, " count "); ok {
			n, _, _ := atoi(num)
			ev.Count = int32(n)
		} else if _, num, ok := cut(r, " size "); ok {
			n, _, _ := atoi(num)
			ev.Count = int32(n)
		}
	}
	return true
}
