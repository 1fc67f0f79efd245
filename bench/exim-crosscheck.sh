#!/usr/bin/env bash
# Cross-checks an Exim main log's counts three ways: eximstats (Perl, in
# Debian's exim4-base; bench/exim-corpus.sh unpacks it), an independent
# awk count written from Exim's log format (not from mailscope's parser),
# and `mailscope replay --mta=exim --format=json`. Prints one row per
# count and exits 1 if mailscope differs from the awk count anywhere, or
# eximstats differs from the awk count made its way.
#
# Definitions (docs/collectors/exim.md, "Cross-check"):
#   received   messages that arrived: "<=" and "(=" (fakereject) lines,
#              bounces Exim made included
#   delivered  recipient lines "=>", "->" and ">>" (cutthrough)
#   deferred   "==" lines
#   failed     "**" lines (mailscope: bounced + expired)
#   rejected   the SMTP server's rejects: "H=... rejected ...", an early
#              talker's "rejected connection", "Connection from ... refused"
# eximstats counts differently, and its column is compared with a second
# awk column that counts its way ("_es"): received without "(=", delivered
# without ">>", deferred and failed as messages (at least one "=="/"**"
# after the message's "<=" in the same log), rejected as every line
# without a flag that contains "rejected", "refused" or "dropped".
#
# Usage: bench/exim-crosscheck.sh LOG [MAILSCOPE]   (MAILSCOPE: a built
# binary; default: go build ./cmd/mailscope; EXIMSTATS=path overrides
# bench/out/exim-root/usr/sbin/eximstats, EXIMSTATS=0 leaves it out)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
log=${1:?usage: exim-crosscheck.sh LOG [MAILSCOPE]}
ms=${2:-}
tmp=$(mktemp -d /tmp/eximcheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$ms" ]; then
  (cd "$here/.." && go build -o "$tmp/mailscope" ./cmd/mailscope)
  ms=$tmp/mailscope
fi

LC_ALL=C awk '
{
  s = $0
  # Syslog form: drop everything up to "exim...: ", as eximstats does.
  if (s !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] /) { if (!sub(/^([A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]+|[0-9-]+T[^ ]+) [^ ]+ exim[^ :]*: /, "", s)) next }
  if (!sub(/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9](\.[0-9]+)?( [-+][0-9][0-9][0-9][0-9])?( \[[0-9]+\])? /, "", s)) next
  # eximstats reject rule: the two bytes where a flag would be after a
  # 16-character ID are no flag, and the line says rejected/refused/dropped.
  f2 = substr(s, 18, 2)
  if (f2 !~ /^([<>=*-]+|SA)$/ && s ~ /rejected|refused|dropped/) c["rejected_es"]++
  n = split(s, w, " ")
  id = w[1]; flag = w[2]
  isid = (id ~ /^[0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z][0-9A-Za-z]-[0-9A-Za-z]+-[0-9A-Za-z]+$/ && (length(id) == 16 || length(id) == 23))
  if (isid && (flag == "<=" || flag == "(=")) {
    if (!(id in arrived)) c["received"]++
    arrived[id] = 1
    if (flag == "<=") { c["received_es"]++; seen_es[id] = 1 }
    next
  }
  if (isid && (flag == "=>" || flag == "->" || flag == ">>")) {
    c["delivered"]++
    if (flag != ">>") c["delivered_es"]++
    next
  }
  if (isid && flag == "==") {
    c["deferred"]++
    if ((id in seen_es) && !(id in delayed)) { delayed[id] = 1; c["deferred_es"]++ }
    next
  }
  if (isid && flag == "**") {
    c["failed"]++
    if ((id in seen_es) && !(id in errored)) { errored[id] = 1; c["failed_es"]++ }
    next
  }
  if (isid) s = substr(s, length(id) + 2)
  if (s ~ /^H=.* (temporarily )?rejected / || s ~ /^SMTP protocol synchronization error.*: rejected connection/ || s ~ /^Connection from [^ ]+ refused/) c["rejected"]++
}
END {
  split("received delivered deferred failed rejected", names, " ")
  for (i = 1; i <= 5; i++) printf "%s %d\n%s_es %d\n", names[i], c[names[i]], names[i], c[names[i] "_es"]
}' "$log" > "$tmp/awk"

# eximstats' Grand total summary.
es=${EXIMSTATS:-$here/out/exim-root/usr/sbin/eximstats}
esout=-
if [ "$es" = 0 ]; then
  echo "exim-crosscheck.sh: EXIMSTATS=0: its column is empty" >&2
elif [ -f "$es" ]; then
  perl "$es" -nr -nt -ne -t0 -h0 -q0 "$log" 2>/dev/null > "$tmp/eximstats" || true
  LC_ALL=C awk '
    $1 == "Received" { print "received", $3; print "deferred", $5; print "failed", $7 }
    $1 == "Delivered" { print "delivered", $4 }
    $1 == "Rejects" { print "rejected", $2 }
  ' "$tmp/eximstats" > "$tmp/es"
  esout=$tmp/es
else
  echo "exim-crosscheck.sh: no eximstats at $es (run bench/exim-corpus.sh once, or set EXIMSTATS): its column is empty" >&2
fi

"$ms" replay --mta=exim --format=json --timezone=UTC "$log" > "$tmp/ms.json"
python3 "$here/crosscheck.py" --counts received,delivered,deferred,failed,rejected \
  --oracle eximstats --suffix es --awk-column "awk eximstats" --max-unparsed 0.005 \
  "$tmp/awk" "$esout" "$tmp/ms.json"
