#!/usr/bin/env bash
# Cross-checks a Postfix log's counts three ways: pflogsumm (Debian package
# pflogsumm), an independent awk count written from Postfix's log format
# (not from mailscope's parser), and `mailscope replay --format=json`.
# Prints one row per count and exits 1 if mailscope differs from the
# cross-check anywhere (received, delivered, deferred, bounced, expired,
# rejected) or pflogsumm differs from the awk count.
#
# Definitions (docs/collectors/postfix.md, "Cross-check"):
#   received   messages qmgr queued (first "from=<..>, size=" per queue ID),
#              including the ones Postfix made itself (bounce and expiry
#              notices); pflogsumm counts only those that came in through
#              smtpd or pickup, so its figure is compared with that subset
#   delivered  recipient lines with status=sent
#   deferred   recipient lines with status=deferred (pflogsumm: "deferrals")
#   bounced    recipient lines with status=bounced
#              (and only under the syslog name postfix/, its default)
#   expired    qmgr "status=expired" lines (pflogsumm has no such count)
#   rejected   smtpd and postscreen "reject:" lines
#
# Usage: bench/postfix-crosscheck.sh LOG [MAILSCOPE]   (MAILSCOPE: a built
# binary; default: go build ./cmd/mailscope into a temp directory;
# PFLOGSUMM=0 leaves pflogsumm out, which is slow on big files)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log=${1:?usage: postfix-crosscheck.sh LOG [MAILSCOPE]}
ms=${2:-}
tmp=$(mktemp -d /tmp/pfcheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$ms" ]; then
  (cd "$here/.." && go build -o "$tmp/mailscope" ./cmd/mailscope)
  ms=$tmp/mailscope
fi

# The awk count. The program field is the 5th (RFC 3164: "Nov 26 05:31:21
# host prog[pid]:") or the 3rd (RFC 3339); the daemon is its last path
# component, so postfix/submission/smtpd and postfix-in/smtpd are smtpd.
LC_ALL=C awk '
{
  p = ($1 ~ /^[0-9][0-9][0-9][0-9]-/) ? 3 : 5
  prog = $p
  if (prog !~ /^postfix/) next
  sub(/\[[0-9]+\]:$/, "", prog); sub(/:$/, "", prog)
  n = split(prog, parts, "/"); daemon = parts[n]
  qid = $(p + 1); sub(/:$/, "", qid)
  rest = $(p + 2)
  if (daemon == "qmgr" && $0 ~ / from=<[^>]*>, size=[0-9]+, nrcpt=/) { queued[qid] = 1 }
  if ((daemon == "smtpd" && rest ~ /^client=/) || (daemon == "pickup" && rest ~ /^(uid|sender)=/)) {
    inbound[qid] = 1
    # pflogsumm reads only its --syslog-name (postfix): a second
    # instance'"'"'s smtpd (postfix-in/smtpd) is invisible to it.
    if (prog ~ /^postfix\//) inbound_pf[qid] = 1
  }
  if (daemon == "qmgr" && index($0, " status=expired, ")) expired++
  else if (index($0, " status=sent ")) delivered++
  else if (index($0, " status=deferred ")) deferred++
  else if (index($0, " status=bounced ")) bounced++
  if ((daemon == "smtpd" || daemon == "postscreen") && index($0, " reject: ")) rejected++
}
END {
  for (q in queued) { received++; if (q in inbound) received_in++; if (q in inbound_pf) received_in_pf++ }
  printf "received %d\nreceived_in %d\nreceived_in_pf %d\ndelivered %d\ndeferred %d\nbounced %d\nexpired %d\nrejected %d\n",
    received, received_in, received_in_pf, delivered, deferred, bounced, expired, rejected
}' "$log" > "$tmp/awk"

# pflogsumm's Grand Totals.
pflog=-
if [ "${PFLOGSUMM:-1}" = 0 ]; then
  echo "postfix-crosscheck.sh: PFLOGSUMM=0: its column is empty" >&2
elif command -v pflogsumm >/dev/null || [ -x /usr/sbin/pflogsumm ]; then
  PATH=$PATH:/usr/sbin pflogsumm --bounce-detail=0 --deferral-detail=0 --reject-detail=0 \
    --smtpd-warning-detail=0 -h 0 -u 0 "$log" 2>/dev/null > "$tmp/pflogsumm" || true
  LC_ALL=C awk '
    /^ *[0-9]+ +received$/ { print "received_in", $1 }
    /^ *[0-9]+ +delivered$/ { print "delivered", $1 }
    /^ *[0-9]+ +deferred +\( *[0-9]+ +deferrals\)$/ { d = $3; sub(/\(/, "", d); print "deferred", d }
    /^ *[0-9]+ +bounced$/ { print "bounced", $1 }
    /^ *[0-9]+ +rejected / { print "rejected", $1 }
  ' "$tmp/pflogsumm" > "$tmp/pflog"
  pflog=$tmp/pflog
else
  echo "postfix-crosscheck.sh: pflogsumm not installed (Debian package pflogsumm): its column is empty" >&2
fi

"$ms" replay --format=json --timezone=UTC "$log" > "$tmp/ms.json"
python3 - "$tmp/ms.json" > "$tmp/ms" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
d = c["deliveries"]
for k, v in [("received", c["received"]), ("delivered", d.get("sent", 0)), ("deferred", d.get("deferred", 0)),
             ("bounced", d.get("bounced", 0)), ("expired", d.get("expired", 0)), ("rejected", c["rejected"]),
             ("lines", c["lines"]), ("unparsed", c["unparsed"])]:
    print(k, v)
PY

python3 - "$tmp/awk" "$pflog" "$tmp/ms" <<'PY'
import sys
def load(p):
    if p == "-":
        return {}
    return {k: int(v) for k, v in (l.split() for l in open(p) if l.strip())}
awk, pfl, ms = (load(p) for p in sys.argv[1:4])
bad = []
print("%-14s %10s %10s %10s  %s" % ("count", "awk", "pflogsumm", "mailscope", ""))
rows = [("received", "received", None), ("received_in", None, None), ("received_in_pf", None, "received_in"), ("delivered", "delivered", "delivered"),
        ("deferred", "deferred", "deferred"), ("bounced", "bounced", "bounced"), ("expired", "expired", None),
        ("rejected", "rejected", "rejected")]
for name, mskey, pkey in rows:
    a = awk[name]
    m = ms.get(mskey) if mskey else None
    p = pfl.get(pkey) if pkey else None
    notes = []
    if m is not None and m != a:
        notes.append("MAILSCOPE DIFFERS")
    if pfl and p is not None and p != a:
        notes.append("PFLOGSUMM DIFFERS")
    if pfl and pkey and p is None:
        notes.append("PFLOGSUMM COUNT MISSING")
    bad += notes
    show = lambda v: "-" if v is None else str(v)
    print("%-14s %10s %10s %10s  %s" % (name, a, show(p), show(m), " ".join(notes) or "ok"))
print("mailscope read %d lines, %d unparsed" % (ms["lines"], ms["unparsed"]))
print("received_in: through smtpd or pickup; received_in_pf: the same under the postfix/ syslog name only, as pflogsumm reads it")
if bad:
    sys.exit("cross-check failed: " + ", ".join(bad))
PY
