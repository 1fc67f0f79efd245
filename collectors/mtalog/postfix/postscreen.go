package postfix

import "github.com/mailscope/mailscope/collectors/mtalog/event"

// postscreenWords are postscreen's verdict words at the start of a line
// (postscreen/postscreen_early.c, postscreen_smtpd.c, postscreen_misc.c,
// postscreen_dnsbl.c, postscreen.c). Postfix 3.6 renamed WHITELISTED and
// BLACKLISTED to ALLOWLISTED and DENYLISTED; both spellings are read.
var postscreenWords = [...]struct {
	prefix string
	result event.PostscreenResult
}{
	{"CONNECT from ", event.PostscreenConnect},
	{"DISCONNECT ", event.PostscreenDisconnect},
	{"PASS NEW ", event.PostscreenPassNew},
	{"PASS OLD ", event.PostscreenPassOld},
	{"DNSBL rank ", event.PostscreenDNSBL},
	{"PREGREET ", event.PostscreenPregreet},
	{"HANGUP ", event.PostscreenHangup},
	{"COMMAND PIPELINING ", event.PostscreenPipelining},
	{"NON-SMTP COMMAND ", event.PostscreenNonSMTP},
	{"BARE NEWLINE ", event.PostscreenBareNewline},
	{"COMMAND TIME LIMIT ", event.PostscreenCommandLimit},
	{"COMMAND COUNT LIMIT ", event.PostscreenCommandLimit},
	{"COMMAND LENGTH LIMIT ", event.PostscreenCommandLimit},
	{"ALLOWLISTED ", event.PostscreenAllowlisted},
	{"WHITELISTED ", event.PostscreenAllowlisted},
	{"DENYLISTED ", event.PostscreenDenylisted},
	{"BLACKLISTED ", event.PostscreenDenylisted},
	{"ALLOWLIST VETO ", event.PostscreenAllowlistVeto},
	{"WHITELIST VETO ", event.PostscreenAllowlistVeto},
}

// parsePostscreen reads postscreen's verdicts, its NOQUEUE rejects (the
// same shape as smtpd's, with "[addr]:port" clients and ", " between the
// envelope fields) and its cache cleanup line.
func parsePostscreen(msg []byte, ev *event.Event) bool {
	if rest, ok := trimPrefix(msg, "NOQUEUE: "); ok {
		if parseRejectLine(rest, ev) {
			ev.Postscreen = event.PostscreenReject
			return true
		}
		return false
	}
	for _, w := range postscreenWords {
		rest, ok := trimPrefix(msg, w.prefix)
		if !ok {
			continue
		}
		ev.Kind = event.KindPostscreen
		ev.Postscreen = w.result
		switch w.result {
		case event.PostscreenDNSBL:
			// "DNSBL rank 3 for [addr]:port"
			n, r, _ := atoi(rest)
			ev.Count = int32(n)
			rest, _ = trimPrefix(r, " for ")
		case event.PostscreenPregreet, event.PostscreenHangup:
			// "PREGREET 11 after 0.05 from [addr]:port: ...",
			// "HANGUP after 0.5 from [addr]:port in tests ..."
			if _, r, ok := cut(rest, "from "); ok {
				rest = r
			}
		default:
			rest, _ = trimPrefix(rest, "from ")
		}
		ev.Client, _, _ = client(rest)
		return true
	}
	return parseCacheCleanup(msg, ev)
}

// parseCacheCleanup reads "cache btree:/path full cleanup: retained=N
// dropped=N entries" (util/dict_cache.c), logged by postscreen and verify.
func parseCacheCleanup(msg []byte, ev *event.Event) bool {
	if _, ok := trimPrefix(msg, "cache "); !ok {
		return false
	}
	if _, _, ok := cut(msg, " full cleanup: "); !ok {
		if _, _, ok := cut(msg, " cleanup: "); !ok {
			return false
		}
	}
	ev.Kind = event.KindInfo
	return true
}

// parseDnsblog reads "addr 192.0.2.1 listed by domain zen.spamhaus.org as
// 127.0.0.2" (dnsblog/dnsblog.c); the zone goes to Relay.
func parseDnsblog(msg []byte, ev *event.Event) bool {
	rest, ok := trimPrefix(msg, "addr ")
	if !ok {
		return false
	}
	_, rest, ok = cut(rest, " listed by domain ")
	if !ok {
		return false
	}
	zone, _ := word(rest)
	ev.Kind = event.KindDNSBL
	ev.Relay = zone
	return true
}

// parseTlsproxy reads tlsproxy/tlsproxy.c's "CONNECT from [addr]:port",
// "DISCONNECT [addr]:port" and the TLS established lines it logs for
// postscreen's STARTTLS.
func parseTlsproxy(msg []byte, ev *event.Event) bool {
	if rest, ok := trimPrefix(msg, "CONNECT from "); ok {
		ev.Kind = event.KindInfo
		ev.Client, _, _ = client(rest)
		return true
	}
	if rest, ok := trimPrefix(msg, "DISCONNECT "); ok {
		ev.Kind = event.KindInfo
		ev.Client, _, _ = client(rest)
		return true
	}
	return parseTLSEstablished(msg, ev)
}
