#!/usr/bin/env bash
# Measures the Exim log pipeline on a multi-million-line file against a
# plain line read of the same file in the same run, on one core, and times
# eximstats and gvengel/exim_exporter (EXIM_EXPORTER=path to a binary
# built from its source, else `go install` from the module proxy) on the
# same file. Figures go in docs/benchmarks.md.
#
# Usage: bench/exim-compare.sh [REPEAT]   (the two real-Exim corpora of
# collectors/mtalog/exim/testdata, concatenated REPEAT times, default 1000:
# 2,791,000 lines). EXIMSTATS=path overrides
# bench/out/exim-root/usr/sbin/eximstats (bench/exim-corpus.sh unpacks it);
# ROUNDS=n sets the rounds of read, parse and pipeline (default 5).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repeat=${1:-1000}
tmp=$(mktemp -d /tmp/eximcompare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
big=$tmp/mainlog
for _ in $(seq "$repeat"); do
  cat "$here/../collectors/mtalog/exim/testdata/exim-rich.log" "$here/../collectors/mtalog/exim/testdata/exim-default.log"
done > "$big"
# Built as the agent is: with its profile for profile-guided optimisation
# (bench/pgo-profile.sh), which go build of cmd/mailscope uses by itself.
(cd "$here/.." && go build -pgo="$here/../cmd/mailscope/default.pgo" -o "$tmp/postfixbench" ./bench/postfixbench)
one=()
command -v taskset >/dev/null && one=(taskset -c 0)
echo "file: $(wc -l < "$big") lines, $(du -h "$big" | cut -f1)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
# ROUNDS rounds (default 5) of read, parse and pipeline in turn, each on
# one core (taskset, GOMAXPROCS=1, as bench/postfix-compare.sh); then the
# pipeline's share of the read's speed round by round, fastest against
# fastest and median against median (this shared machine's speed drifts
# between rounds, so one round says little).
for round in $(seq "${ROUNDS:-5}"); do
  for mode in read parse pipeline; do
    GOMAXPROCS=1 "${one[@]}" "$tmp/postfixbench" -mta=exim -mode=$mode "$big" | tee -a "$tmp/rounds"
  done
done
python3 - "$tmp/rounds" <<'EOF'
import re, statistics, sys
t = {"read": [], "parse": [], "pipeline": []}
for line in open(sys.argv[1]):
    m = re.match(r"mode=(\w+) .*seconds=([0-9.]+)", line)
    if m:
        t[m.group(1)].append(float(m.group(2)))
r, p = t["read"], t["pipeline"]
print("pipeline / read, round by round: " + ", ".join("%.1f%%" % (100 * a / b) for a, b in zip(r, p)))
print("fastest: read %.3f s, pipeline %.3f s: %.1f%%; median: read %.3f s, pipeline %.3f s: %.1f%%" % (
    min(r), min(p), 100 * min(r) / min(p), statistics.median(r), statistics.median(p),
    100 * statistics.median(r) / statistics.median(p)))
EOF
es=${EXIMSTATS:-$here/out/exim-root/usr/sbin/eximstats}
if [ -f "$es" ]; then
  s=$(date +%s.%N)
  "${one[@]}" perl "$es" -nr -nt -ne -t0 -h0 -q0 "$big" > /dev/null 2>&1
  e=$(date +%s.%N)
  python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print('eximstats seconds=%.3f lines_per_second=%.0f' % (d, n/d))" "$s" "$e" "$(wc -l < "$big")"
else
  echo "eximstats: not found at $es (run bench/exim-corpus.sh once)"
fi
# gvengel/exim_exporter: EXIM_EXPORTER=path to a binary built from its
# source (`go build` in a checkout of github.com/gvengel/exim_exporter),
# else `go install` from the module proxy. It has no one-shot mode: it
# follows an empty mainlog (from its end, by nxadm/tail on inotify), the
# file is appended, and it is done when a scrape counts every "Completed"
# line. The scrape polls every 0.1 s; its port is on 127.0.0.1.
ee=${EXIM_EXPORTER:-}
if [ -z "$ee" ]; then
  if GOBIN=$tmp go install github.com/gvengel/exim_exporter@latest > "$tmp/ee.log" 2>&1; then
    ee=$tmp/exim_exporter
  else
    echo "exim_exporter: does not build here: $(tail -n 2 "$tmp/ee.log" | tr '\n' ' ')"
  fi
fi
if [ -n "$ee" ]; then
  completed=$(grep -c ' Completed' "$big")
  mkdir -p "$tmp/eelog"
  : > "$tmp/eelog/mainlog"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  GOMAXPROCS=1 "${one[@]}" "$ee" --web.listen-address="127.0.0.1:$port" --exim.log-path="$tmp/eelog" \
    --exim.input-path="$tmp/eelog/no-spool" > "$tmp/ee.err" 2>&1 &
  ee_pid=$!
  trap 'kill "$ee_pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
  # Appending before its tailer opened (and seeked to the end of) the
  # file would hide the corpus from it.
  for _ in $(seq 100); do
    find "/proc/$ee_pid/fd" -lname "$tmp/eelog/mainlog" 2>/dev/null | grep -q . && break
    sleep 0.1
  done
  sleep 0.2
  s=$(date +%s.%N)
  cat "$big" >> "$tmp/eelog/mainlog"
  ok=0
  for _ in $(seq 3000); do # at most 300 s
    got=$(curl -fs "127.0.0.1:$port/metrics" 2>/dev/null | sed -n 's/^exim_messages_total{flag="completed"} //p')
    if [ -n "$got" ] && [ "${got%.*}" -ge "$completed" ] 2>/dev/null; then ok=1; break; fi
    sleep 0.1
  done
  e=$(date +%s.%N)
  read -r ut st < <(awk '{print $14, $15}' "/proc/$ee_pid/stat")
  kill "$ee_pid" 2>/dev/null || true
  if [ "$ok" = 1 ]; then
    python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); c=(int(sys.argv[4])+int(sys.argv[5]))/int(sys.argv[6]); print('exim_exporter seconds=%.3f lines_per_second=%.0f cpu_seconds=%.2f (following; counts flags only)' % (d, n/d, c))" \
      "$s" "$e" "$(wc -l < "$big")" "$ut" "$st" "$(getconf CLK_TCK)"
  else
    echo "exim_exporter: did not count all $completed Completed lines in 300 s (last: ${got:-none}); $(tail -n 2 "$tmp/ee.err" | tr '\n' ' ')"
  fi
fi
