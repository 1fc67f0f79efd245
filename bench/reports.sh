#!/usr/bin/env bash
# `mailscope report` ingestion benchmark (docs/benchmarks.md, "Report
# ingestion"): writes N gzip DMARC aggregate reports of R records into a
# temp dir, then reads them with `mailscope report --format=json` on one
# core (taskset -c 1, GOMAXPROCS=1) under /usr/bin/time -v, and prints the
# wall time and the peak resident memory. Runs COUNT times.
#
#   bench/reports.sh               # N=10000 R=100 COUNT=3
set -euo pipefail

N=${N:-10000}
R=${R:-100}
COUNT=${COUNT:-3}
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

cd "$root"
CGO_ENABLED=0 "$GO" build -trimpath -o "$dir/mailscope" ./cmd/mailscope
"$GO" run ./bench/reportcorpus -dir "$dir/corpus" -n "$N" -records "$R"
echo "corpus: $N reports x $R records, $(du -sh "$dir/corpus" | cut -f1) gzip"
for i in $(seq "$COUNT"); do
	taskset -c 1 env GOMAXPROCS=1 /usr/bin/time -f "run $i: %e s wall, %U s user, %M KiB max RSS" \
		"$dir/mailscope" report --format=json "$dir/corpus" >"$dir/out.json"
done
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); print(len(a), "objects,", sum(1 for o in a if o.get("error")), "refused,", sum(o["records"] for o in a), "records")' "$dir/out.json"
