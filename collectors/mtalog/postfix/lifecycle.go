package postfix

import "github.com/mailscope/mailscope/collectors/mtalog/event"

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
