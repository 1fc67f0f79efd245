#!/usr/bin/env bash
# Cross-checks a Postfix log's counts three ways: pflogsumm (Debian package
# pflogsumm), an independent awk count written from Postfix's log format
# (not from mailscope's parser), and `mailscope replay --format=json`.
# Prints one row per count and exits 1 if mailscope differs from the
# cross-check anywhere (received, delivered, deferred, bounced, expired,
# rejected) or pflogsumm differs from the awk count made its way.
#
# Definitions (docs/collectors/postfix.md, "Cross-check"):
#   received   messages qmgr queued (first "from=<..>, size=" per queue ID),
#              including the ones Postfix made itself (bounce and expiry
#              notices)
#   delivered  recipient lines with status=sent
#   deferred   recipient lines with status=deferred (pflogsumm: "deferrals")
#   bounced    recipient lines with status=bounced
#   expired    qmgr "status=expired" lines (pflogsumm has no such count)
#   rejected   smtpd and postscreen "reject:" lines
# pflogsumm reads only lines of its syslog name (postfix/...) and counts as
# received only messages that came in through smtpd or pickup, so it is
# compared with a second awk column that counts the same way.
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
  # pflogsumm reads only its --syslog-name (postfix/...): another
  # instance'"'"'s lines (postfix-in/smtpd, postfix-out/smtp) are invisible
  # to it, so every count is also kept for postfix/ alone (_pf).
  pf = (prog ~ /^postfix\//)
  qid = $(p + 1); sub(/:$/, "", qid)
  rest = $(p + 2)
  if (daemon == "qmgr" && $0 ~ / from=<[^>]*>, size=[0-9]+, nrcpt=/) { queued[qid] = 1 }
  if (pf && ((daemon == "smtpd" && rest ~ /^client=/) || (daemon == "pickup" && rest ~ /^(uid|sender)=/))) { inbound_pf[qid] = 1 }
  k = ""
  if (daemon == "qmgr" && index($0, " status=expired, ")) k = "expired"
  else if (index($0, " status=sent ")) k = "delivered"
  else if (index($0, " status=deferred ")) k = "deferred"
  else if (index($0, " status=bounced ")) k = "bounced"
  else if ((daemon == "smtpd" || daemon == "postscreen") && index($0, " reject: ")) k = "rejected"
  if (k != "") { c[k]++; if (pf) c[k "_pf"]++ }
}
END {
  # received: every queued message; received_pf, pflogsumm'"'"'s figure: those
  # that came in through a postfix/ smtpd or pickup.
  for (q in queued) { c["received"]++; if (q in inbound_pf) c["received_pf"]++ }
  split("received delivered deferred bounced expired rejected", names, " ")
  for (i = 1; i <= 6; i++) printf "%s %d\n%s_pf %d\n", names[i], c[names[i]], names[i], c[names[i] "_pf"]
}' "$log" > "$tmp/awk"

# pflogsumm's Grand Totals.
pflog=-
if [ "${PFLOGSUMM:-1}" = 0 ]; then
  echo "postfix-crosscheck.sh: PFLOGSUMM=0: its column is empty" >&2
elif command -v pflogsumm >/dev/null || [ -x /usr/sbin/pflogsumm ]; then
  PATH=$PATH:/usr/sbin pflogsumm --bounce-detail=0 --deferral-detail=0 --reject-detail=0 \
    --smtpd-warning-detail=0 -h 0 -u 0 "$log" 2>/dev/null > "$tmp/pflogsumm" || true
  LC_ALL=C awk '
    /^ *[0-9]+ +received$/ { print "received", $1 }
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
rc=0
python3 "$here/crosscheck.py" --counts received,delivered,deferred,bounced,expired,rejected \
  --oracle pflogsumm --suffix pf --awk-column "awk postfix/" --no-oracle expired \
  "$tmp/awk" "$pflog" "$tmp/ms.json" || rc=$?
echo "awk postfix/: the same count under the syslog name postfix/ only, as pflogsumm reads the log;"
echo "for received, also only messages that came in through smtpd or pickup (pflogsumm's definition)"
exit "$rc"
