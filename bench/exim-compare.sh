#!/usr/bin/env bash
# Measures the Exim log pipeline on a multi-million-line file against a
# plain line read of the same file in the same run, on one core, and times
# eximstats (and gvengel/exim_exporter, if `go install` can build it) on
# the same file. Figures go in docs/benchmarks.md.
#
# Usage: bench/exim-compare.sh [REPEAT]   (the two real-Exim corpora of
# collectors/mtalog/exim/testdata, concatenated REPEAT times, default 1000:
# 2,791,000 lines). EXIMSTATS=path overrides
# bench/out/exim-root/usr/sbin/eximstats (bench/exim-corpus.sh unpacks it).
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
echo "file: $(wc -l < "$big") lines, $(du -h "$big" | cut -f1)"
for round in 1 2 3; do
  for mode in read parse pipeline; do
    "${one[@]}" "$tmp/postfixbench" -mta=exim -mode=$mode "$big"
  done
done
es=${EXIMSTATS:-$here/out/exim-root/usr/sbin/eximstats}
if [ -f "$es" ]; then
  s=$(date +%s.%N)
  "${one[@]}" perl "$es" -nr -nt -ne -t0 -h0 -q0 "$big" > /dev/null 2>&1
  e=$(date +%s.%N)
  python3 -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print('eximstats seconds=%.3f lines_per_second=%.0f' % (d, n/d))" "$s" "$e" "$(wc -l < "$big")"
else
  echo "eximstats: not found at $es (run bench/exim-corpus.sh once)"
fi
if GOBIN=$tmp go install github.com/gvengel/exim_exporter@latest > "$tmp/ee.log" 2>&1; then
  echo "exim_exporter: built; it follows a live log and has no one-shot mode to time here"
else
  echo "exim_exporter: does not build here: $(tail -n 2 "$tmp/ee.log" | tr '\n' ' ')"
fi
