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

// lifecycleLines are master/master.c's and conf/postfix-script's
// informational lines. postfix-script's `postfix status` logs "the Postfix
// mail system is running: PID: N" or "... is not running"; they say
// whether the mail system is up, which is what lifecycle lines are about,
// so they are lifecycle events too (its errors, such as "fatal: the
// Postfix mail system is already running", are diagnostics).
var lifecycleLines = [...]string{
	"daemon started -- ",
	"reload -- ",
	"terminating on signal ",
	"starting the Postfix mail system",
	"stopping the Postfix mail system",
	"refreshing the Postfix mail system",
	"waiting for the Postfix mail system to terminate",
	"the Postfix mail system is running: PID: ",
	"the Postfix mail system is not running",
	"daemon started",
}

// parseLifecycle reads master and postfix-script start, stop, reload and
// status lines.
func parseLifecycle(msg []byte, ev *event.Event) bool {
	for _, p := range lifecycleLines {
		if hasPrefix(msg, p) {
			ev.Kind = event.KindLifecycle
			ev.Text = msg
			return true
		}
	}
	return false
}
