#!/usr/bin/env bash
# Blocklist sweep benchmark against a real rbldnsd (docs/benchmarks.md,
# "Blocklist sweep"): starts rbldnsd on a free loopback port with the ten
# zones collectors/dnsbl/sweep_bench_test.go expects (z0.test .. z9.test,
# each listing 127.0.0.2 for its health test and every target whose number
# is 7 modulo 100), runs BenchmarkSweep against it, stops rbldnsd and
# prints the figures. Nothing leaves 127.0.0.1. It stops by itself: the
# benchmark is bounded by `timeout` and rbldnsd is stopped on every exit.
#
#   bench/dnsbl-rbldnsd.sh              # or: make bench-dnsbl
#   BENCHTIME=20x COUNT=5 bench/dnsbl-rbldnsd.sh
set -euo pipefail

BENCHTIME=${BENCHTIME:-10x}
COUNT=${COUNT:-3}
GO=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)

rbldnsd=$(command -v rbldnsd || true)
[ -n "$rbldnsd" ] || [ ! -x /usr/sbin/rbldnsd ] || rbldnsd=/usr/sbin/rbldnsd
if [ -z "$rbldnsd" ]; then
	echo "rbldnsd not installed (Debian package rbldnsd)" >&2
	exit 1
fi

dir=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# rbldnsd drops privileges to its own user: the directory and the zone
# files must be readable by others, or the zones load empty.
chmod 755 "$dir"
zones=()
for z in $(seq 0 9); do
	f="$dir/z$z"
	{
		echo ":127.0.0.2:Listed on z$z.test: \$"
		echo "127.0.0.2"
		for i in $(seq 7 100 1000); do
			echo "10.0.$((i / 256)).$((i % 256))"
		done
	} >"$f"
	chmod 644 "$f"
	zones+=("z$z.test:ip4set:z$z")
done

# A port from the kernel when python3 is there, else a random one; a port
# taken since is seen by rbldnsd exiting at once, and the next one is tried.
freeport() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
	else
		echo $((20000 + RANDOM % 30000))
	fi
}
port=
for _ in $(seq 1 10); do
	p=$(freeport)
	# -n: stay in the foreground, so $! is rbldnsd itself, and its log
	# (with its own query count at exit) goes to stderr; -c 3600: no zone
	# file rereads during the run.
	"$rbldnsd" -n -c 3600 -b "127.0.0.1/$p" -w "$dir" "${zones[@]}" >"$dir/rbldnsd.log" 2>&1 &
	pid=$!
	sleep 0.3
	if kill -0 "$pid" 2>/dev/null; then
		port=$p
		break
	fi
	wait "$pid" 2>/dev/null || true
	pid=
done
if [ -z "$port" ]; then
	echo "rbldnsd did not start:" >&2
	cat "$dir/rbldnsd.log" >&2
	exit 1
fi

echo "rbldnsd $(dpkg-query -W -f '${Version}' rbldnsd 2>/dev/null || echo '?') on 127.0.0.1:$port: 10 zones, 1,000 targets, 10 listed per zone; $(nproc) CPUs, $($GO env GOVERSION)"
cd "$root"
out="$dir/bench.txt"
MAILSCOPE_BENCH_RESOLVER="127.0.0.1:$port" timeout 600 \
	"$GO" test -run '^$' -bench '^BenchmarkSweep$' -benchtime "$BENCHTIME" -count "$COUNT" -timeout 9m ./collectors/dnsbl/ | tee "$out"

kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=
echo
# rbldnsd counts what it received over the whole run (the benchmark's
# calibration runs and readiness probes included), from the other end of
# the socket.
echo "rbldnsd's own count: $(grep -o 'stats for [0-9]*sec: .*' "$dir/rbldnsd.log" || echo 'none logged')"
# One line per run: sweep time, queries sent per sweep and per second,
# lookups the cache answered.
awk '/^BenchmarkSweep\// {
	name = $1; sub(/-[0-9]+$/, "", name); sub(/^BenchmarkSweep\//, "", name)
	for (i = 3; i < NF; i += 2) v[$(i + 1)] = $i
	printf "%-5s sweep %6.3f s  %7.0f queries sent/sweep  %7.0f queries/s  %7.0f cache hits/sweep  %7.0f lookups/s\n",
		name, v["ns/op"] / 1e9, v["queries/sweep"], v["queries/s"], v["cache_hits/sweep"], v["lookups/s"]
}' "$out"
