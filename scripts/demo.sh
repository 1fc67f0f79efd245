#!/usr/bin/env bash
# mailscope demo: the whole path on loopback, with generated mail traffic.
#
#   sudo make demo        (or: sudo scripts/demo.sh)
#
# Starts, each in a private directory on 127.0.0.1:
#   - a private Postfix instance relaying to smtp-sink "remote servers" that
#     accept, defer (4xx) or bounce (5xx), with test traffic every few seconds;
#   - rbldnsd serving a test blocklist that lists the demo's sending IP
#     after two minutes (an incident to watch);
#   - mailscope following Postfix's log, reading its queue and probing the
#     blocklist;
#   - Prometheus loading the shipped alert rules (their `for:` shortened to
#     30s, so alerts fire within minutes) and Alertmanager.
# Prints the URLs, runs until Ctrl-C (at most DEMO_MINUTES, default 120),
# then stops everything and removes its directory.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"

DEMO_MINUTES=${DEMO_MINUTES:-120}
PACKAGES=(postfix rbldnsd prometheus prometheus-alertmanager)

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root (it starts a private Postfix instance)" >&2
  exit 1
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

D=$(mktemp -d /tmp/mailscope-demo.XXXXXX)
chmod 755 "$D"
pids=()
cleaned=
cleanup() {
  # Once: the EXIT trap follows an INT or TERM one. A second Ctrl-C (or a
  # TERM) while stopping is ignored, not obeyed: obeyed, it killed the
  # script between the kills and the rm, leaving $D and its daemons behind.
  [ -n "$cleaned" ] && return
  cleaned=1
  trap '' INT TERM
  echo
  echo "==> stopping the demo (a second Ctrl-C is not needed; this takes a few seconds)"
  [ -n "${traffic_pid:-}" ] && kill "$traffic_pid" 2>/dev/null || true
  postfix -c "$D/etc" stop >/dev/null 2>&1 || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Bounded: whatever has not stopped after ten seconds is killed.
  for _ in $(seq 100); do
    alive=
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ -z "$alive" ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$D"
  echo "==> stopped; removed $D"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# A port the kernel says is free right now.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
start() { # name command...: runs in the background, output to $D/NAME.log
  local name=$1; shift
  "$@" >"$D/$name.log" 2>&1 &
  pids+=($!)
}
wait_http() { # name url
  for _ in $(seq 100); do
    curl -sf -o /dev/null "$2" && return 0
    sleep 0.3
  done
  echo "demo: $1 did not come up at $2; its log says:" >&2
  tail -n 20 "$D/$1.log" >&2
  exit 1
}

echo "==> building mailscope"
go build -o "$D/mailscope" ./cmd/mailscope

P_SMTPD=$(free_port); P_OK=$(free_port); P_DEFER=$(free_port); P_BOUNCE=$(free_port)
P_DNS=$(free_port); P_AGENT=$(free_port); P_PROM=$(free_port); P_AM=$(free_port)

echo "==> starting the remote servers (smtp-sink) and Postfix"
start sink-ok smtp-sink -u nobody -c "127.0.0.1:$P_OK" 100
start sink-defer smtp-sink -u nobody -c -r RCPT "127.0.0.1:$P_DEFER" 100
start sink-bounce smtp-sink -u nobody -c -f RCPT -B "550 5.7.1 Service unavailable; client blocked using demo.bl" "127.0.0.1:$P_BOUNCE" 100
mkdir -p "$D/etc" "$D/queue" "$D/data"
cp /usr/share/postfix/master.cf.dist "$D/etc/master.cf"
cat >"$D/etc/transport" <<EOT
example.net smtp:[127.0.0.1]:$P_OK
gmail.com smtp:[127.0.0.1]:$P_OK
outlook.com smtp:[127.0.0.1]:$P_DEFER
yahoo.com smtp:[127.0.0.1]:$P_BOUNCE
demo.test discard:
EOT
cat >"$D/etc/main.cf" <<EOT
compatibility_level = 3.6
queue_directory = $D/queue
data_directory = $D/data
maillog_file = $D/mail.log
maillog_file_prefixes = $D
myhostname = mx.demo.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
smtp_dns_support_level = disabled
relay_domains = example.net gmail.com outlook.com yahoo.com demo.test
transport_maps = texthash:$D/etc/transport
alias_maps =
alias_database =
# Deferred mail is retried often and given up after ten minutes, so the
# demo shows retries, queue age and expiry within its run.
minimal_backoff_time = 60s
maximal_backoff_time = 120s
queue_run_delay = 60s
maximal_queue_lifetime = 10m
bounce_queue_lifetime = 10m
EOT
postconf -c "$D/etc" -MX smtp/inet
postconf -c "$D/etc" -M "127.0.0.1:$P_SMTPD/inet=127.0.0.1:$P_SMTPD inet n - n - - smtpd"
postconf -c "$D/etc" -F '*/*/chroot = n'
grep -q '^postlog' "$D/etc/master.cf" || echo 'postlog unix-dgram n - n - 1 postlogd' >>"$D/etc/master.cf"
chown -R postfix "$D/data"
postfix -c "$D/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$D/etc" start

echo "==> starting the test blocklist (rbldnsd)"
mkdir -p "$D/zones" && chmod 755 "$D/zones"
printf ':127.0.0.2:Listed by the mailscope demo, see https://demo.bl/$\n127.0.0.2\n' >"$D/zones/demo.bl"
chmod 644 "$D/zones/demo.bl"
start rbldnsd rbldnsd -n -t 5 -c 5 -b "127.0.0.1/$P_DNS" -r "$D/zones" demo.bl:ip4set:demo.bl

echo "==> starting mailscope"
cat >"$D/mailscope.yml" <<EOT
state_dir: $D/state
mta:
  kind: postfix
  sources:
    - name: maillog
      file: {paths: [$D/mail.log], start_at: beginning}
queue:
  interval: 15s
  timeout: 10s
  config_dir: $D/etc
dnsbl:
  interval: 30s
  jitter: 0s
  resolver: 127.0.0.1:$P_DNS
  zones: []
  targets: {ips: [192.0.2.10]}
  custom_zones:
    - {name: demo.bl, type: ip, weight: critical, delist: "https://demo.bl/remove"}
EOT
start mailscope "$D/mailscope" --config.file="$D/mailscope.yml" --web.listen-address="127.0.0.1:$P_AGENT"
wait_http mailscope "http://127.0.0.1:$P_AGENT/-/ready"

echo "==> starting Alertmanager and Prometheus (shipped rules, for: 30s)"
cat >"$D/alertmanager.yml" <<EOT
route: {receiver: demo, group_wait: 5s, group_interval: 10s, repeat_interval: 1h}
receivers: [{name: demo}]
EOT
start alertmanager prometheus-alertmanager --config.file="$D/alertmanager.yml" --storage.path="$D/am" \
  --web.listen-address="127.0.0.1:$P_AM" --cluster.listen-address=
sed -E 's/^(\s+for:\s*)\S+/\130s/' alerts/mailscope.rules.yml >"$D/rules.yml"
cat >"$D/prometheus.yml" <<EOT
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: [$D/rules.yml]
alerting: {alertmanagers: [{static_configs: [{targets: ["127.0.0.1:$P_AM"]}]}]}
scrape_configs:
  - job_name: mailscope
    static_configs: [{targets: ["127.0.0.1:$P_AGENT"], labels: {hostname: mx.demo.test}}]
EOT
start prometheus prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/prom" \
  --web.listen-address="127.0.0.1:$P_PROM"
wait_http prometheus "http://127.0.0.1:$P_PROM/-/ready"
wait_http alertmanager "http://127.0.0.1:$P_AM/-/ready"
# Debian's Prometheus is built without the React UI: its pages are under
# /classic/ there, and /alerts is a 404. Link what this Prometheus serves.
PROM_UI=
if ! curl -sf -o /dev/null "http://127.0.0.1:$P_PROM/alerts"; then
  PROM_UI=/classic
fi

# Traffic: a few messages every 10 seconds to each kind of destination;
# after two minutes the sending IP is listed on the demo blocklist.
(
  end=$((SECONDS + DEMO_MINUTES * 60)); n=0
  while [ $SECONDS -lt $end ]; do
    for to in user@example.net user@gmail.com user@gmail.com user@outlook.com user@yahoo.com; do
      smtp-source -m 1 -f sender@demo.test -t "$to" "127.0.0.1:$P_SMTPD" >/dev/null 2>&1 || true
    done
    n=$((n + 1))
    if [ $n -eq 12 ]; then
      printf '192.0.2.10\n' >>"$D/zones/demo.bl"
    fi
    sleep 10
  done
) &
traffic_pid=$!

cat <<EOT

mailscope demo is running (it stops by itself after $DEMO_MINUTES minutes):

  mailscope status page   http://127.0.0.1:$P_AGENT/
  mailscope metrics       http://127.0.0.1:$P_AGENT/metrics
  Prometheus alerts       http://127.0.0.1:$P_PROM$PROM_UI/alerts
  Prometheus graph        http://127.0.0.1:$P_PROM$PROM_UI/graph?g0.expr=sum%20by%20(status)%20(rate(mailscope_mta_deliveries_total%5B1m%5D))
  Alertmanager            http://127.0.0.1:$P_AM/

Traffic: mail to example.net and gmail.com is delivered, outlook.com is deferred
(and expires after 10 minutes), yahoo.com bounces as blocklisted. After about two
minutes the sending IP 192.0.2.10 is listed on the demo blocklist: watch
MailscopeBlocklisted fire in Prometheus and Alertmanager.

Dashboards: import dashboards/*.json into your Grafana (Dashboards > New > Import),
choosing a Prometheus data source that scrapes this agent.

Logs are in $D. Press Ctrl-C to stop.
EOT
wait "$traffic_pid" 2>/dev/null || true
