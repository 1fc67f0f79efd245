#!/usr/bin/env bash
# Measures the Exim queue collector's spool reader (collectors/queue,
# ReadEximSpool) on a synthetic spool of N messages, default 1,000,000:
# BenchmarkReadEximSpool writes the spool (an -H, a -D and a msglog file per
# message, split over 62 subdirectories as split_spool_directory does) and
# reads it once; /usr/bin/time -v gives the peak memory of the whole run
# (writing included). The spool is written under SPOOL_TMPDIR (default
# /var/tmp: on disk, not a tmpfs; a million messages are 3 million files)
# and deleted afterwards. Figures go in docs/collectors/queue.md.
#
# Usage: bench/exim-spool-million.sh [N]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000000}
tmp=$(mktemp -d "${SPOOL_TMPDIR:-/var/tmp}/eximspool.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$here/.." && go test -c -o "$tmp/queue.test" ./collectors/queue)
echo "spool: $n messages under $tmp"
cd "$here/../collectors/queue"
EXIM_SPOOL_MESSAGES=$n TMPDIR=$tmp /usr/bin/time -v "$tmp/queue.test" \
  -test.run '^$' -test.bench '^BenchmarkReadEximSpool$' -test.benchtime 1x -test.benchmem -test.timeout 2h \
  2> "$tmp/time.txt" | grep -E '^Benchmark|^ok|^PASS|^FAIL'
grep -E 'Elapsed|Maximum resident|File system (inputs|outputs)' "$tmp/time.txt"
