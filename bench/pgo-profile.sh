#!/usr/bin/env bash
# Writes cmd/mailscope/default.pgo: the CPU profile Go's profile-guided
# optimisation builds the agent with. `go build ./cmd/mailscope` (make
# build, scripts/release.sh, the Debian package) uses a main package's
# default.pgo by itself; the speed comparisons build bench/postfixbench
# with it too (-pgo=...), so they measure the code as the agent runs it.
#
# The profile is of the agent's hot path, the log pipeline: the real
# corpora of both MTAs (collectors/mtalog/exim/testdata, Exim 4.96 with
# the default and a rich log_selector; collectors/mtalog/postfix/testdata/
# real-postfix.log), each repeated to about 420,000 lines and
# run through postfixbench -mode=pipeline (the replay source, parser,
# classifier, metrics and correlator, as `mailscope replay` and the
# follower run them), merged into one profile with equal weight.
#
# Run it again when the pipeline's code changes much (docs/benchmarks.md,
# "Profile-guided optimisation"); a stale profile still builds and only
# helps less. Usage: bench/pgo-profile.sh [OUT] (default
# cmd/mailscope/default.pgo). Needs Go; reads and writes local files only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
out=${1:-$root/cmd/mailscope/default.pgo}
tmp=$(mktemp -d /tmp/mailscope-pgo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# The profile is taken of a build without one, so it does not feed on
# its own inlining decisions.
(cd "$root" && go build -pgo=off -o "$tmp/postfixbench" ./bench/postfixbench)

for _ in $(seq 150); do
  cat "$root/collectors/mtalog/exim/testdata/exim-rich.log" "$root/collectors/mtalog/exim/testdata/exim-default.log"
done > "$tmp/exim.log"
for _ in $(seq 360); do
  cat "$root/collectors/mtalog/postfix/testdata/real-postfix.log"
done > "$tmp/postfix.log"

"$tmp/postfixbench" -mta=exim -mode=pipeline -repeat=40 -cpuprofile="$tmp/exim.pprof" "$tmp/exim.log"
"$tmp/postfixbench" -mta=postfix -mode=pipeline -repeat=60 -cpuprofile="$tmp/postfix.pprof" "$tmp/postfix.log"
go tool pprof -proto "$tmp/exim.pprof" "$tmp/postfix.pprof" > "$tmp/merged.pgo"
mv "$tmp/merged.pgo" "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"
