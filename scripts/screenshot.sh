#!/usr/bin/env bash
# Renders the agent's status page in headless Chromium, as a user sees it:
#   scripts/screenshot.sh [CONFIG] [OUT.png]
# Starts ./mailscope (make build) on a free loopback port with CONFIG
# (default: the self-metrics only), waits for it, takes the screenshot and
# stops the agent. Needs the Debian package chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-}
out=${2:-status.png}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
args=(--web.listen-address="127.0.0.1:$port")
[ -n "$config" ] && args+=(--config.file="$config")
./mailscope "${args[@]}" >/tmp/mailscope-screenshot.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break
  sleep 0.2
done
sleep "${SETTLE:-2}" # let the first scheduled runs report
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1" --no-proxy-server \
  --user-data-dir="$profile" --hide-scrollbars --window-size=1280,720 \
  --screenshot="$out" "http://127.0.0.1:$port/${PAGE:-}" 2>/dev/null
rm -rf "$profile"
echo "wrote $out"
