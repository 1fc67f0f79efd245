#!/usr/bin/env bash
# Writes a real-Exim main-log corpus.
#
# Debian's Exim packages conflict with the installed Postfix, so they are
# fetched with `apt-get download` and unpacked with `dpkg -x` (cached in
# $EXIM_ROOT, default bench/out/exim-root), never installed. The setuid
# exim4 binary ignores LD_LIBRARY_PATH and wants a Debian-exim user and a
# trusted_configs list to keep root with -C: it runs inside `unshare -m`
# with a private copy of /etc bind-mounted over /etc (that user, a loader
# cache from `ldconfig -C`, /etc/exim4/trusted_configs, and a hosts file
# naming the fake provider MX hosts), so the host is left untouched.
#
# Exim listens on 127.0.0.1 and routes with manualroute to SMTP sinks on
# 127.0.0.2-5 that answer as Gmail, Microsoft, Yahoo and a plain relay do
# (bench/exim-sinks.py); bench/exim-clients.py drives every kind of session
# at it, and local submissions (-odi, -N, a freeze and a thaw) go through
# the binary. Short retry rules (F,60s,8s) and a 4 s queue runner make the
# deferred mail retry, expire and bounce within minutes; bounces that fail
# too are frozen and then cancelled by timeout_frozen_after.
#
# Usage, as root:  bench/exim-corpus.sh default|rich [OUT.log] [ROUNDS]
#   default: Exim's default log_selector; rich: the issue's rich set.
# Writes OUT.log (default bench/out/exim-SELECTOR.log), the main log; the
# reject and panic logs beside it (.reject, .panic). Nothing leaves
# 127.0.0.1; every process is stopped by PID on exit; hard limit 6 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sel=${1:?usage: exim-corpus.sh default|rich [OUT.log] [ROUNDS]}
out=${2:-$here/out/exim-$sel.log}
rounds=${3:-6}
mkdir -p "$(dirname "$out")"
[ "$(id -u)" -eq 0 ] || { echo "exim-corpus.sh: run as root (exim -C keeps root only for root)" >&2; exit 2; }
for b in apt-get dpkg unshare mount ldconfig openssl python3; do
  command -v "$b" >/dev/null || { echo "exim-corpus.sh: $b missing" >&2; exit 2; }
done
case $sel in
default) selector="" ;;
rich) selector="+millisec +pid +deliver_time +queue_time +queue_time_overall +delivery_size +outgoing_port +incoming_port +tls_peerdn +tls_sni +received_recipients +subject +smtp_connection +smtp_incomplete_transaction +connection_reject +smtp_protocol_error +smtp_syntax_error +sender_on_delivery +return_path_on_delivery +smtp_confirmation +outgoing_interface +tls_certificate_verified" ;;
*) echo "exim-corpus.sh: selector must be default or rich" >&2; exit 2 ;;
esac

# The packages, unpacked once.
root=${EXIM_ROOT:-$here/out/exim-root}
if [ ! -x "$root/usr/sbin/exim4" ]; then
  dl=$(mktemp -d /tmp/eximdl.XXXXXX)
  (cd "$dl" && apt-get download exim4-base exim4-config exim4-daemon-heavy libmariadb3 libidn12 libspf2-2 >/dev/null)
  mkdir -p "$root"
  for f in "$dl"/*.deb; do dpkg -x "$f" "$root"; done
  rm -rf "$dl"
fi

d=$(mktemp -d /tmp/eximcorpus.XXXXXX)
chmod 755 "$d"
pids=()
cleanup() {
  [ -s "$d/exim.pid" ] && kill "$(cat "$d/exim.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep 360 & sp=$!
  wait "$sp"
  echo "exim-corpus.sh: over 6 minutes, giving up" >&2
  kill -TERM $$
) & pids+=($!)

port() { python3 -c 'import socket,sys;s=socket.socket();s.bind((sys.argv[1],0));print(s.getsockname()[1])' "${1:-127.0.0.1}"; }
P_SMTP=$(port); P_SINK=$(port 127.0.0.2)
PASSWORD=$(openssl rand -hex 12)

# The private /etc.
cp -a /etc/. "$d/etc/" 2>/dev/null || { mkdir -p "$d/etc" && cp -a /etc/. "$d/etc/"; }
grep -q '^Debian-exim:' "$d/etc/passwd" || echo 'Debian-exim:x:1901:1901:Exim:/nonexistent:/usr/sbin/nologin' >> "$d/etc/passwd"
grep -q '^Debian-exim:' "$d/etc/group" || echo 'Debian-exim:x:1901:' >> "$d/etc/group"
printf '%s\n' "$root/usr/lib/x86_64-linux-gnu" "$root/usr/lib" /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu /usr/local/lib > "$d/ld.so.conf"
ldconfig -C "$d/etc/ld.so.cache" -f "$d/ld.so.conf"
mkdir -p "$d/etc/exim4"
echo "$d/exim.conf" > "$d/etc/exim4/trusted_configs"
cat >> "$d/etc/hosts" <<H
127.0.0.2 gmail-smtp-in.l.google.com
127.0.0.3 example-com.mail.protection.outlook.com
127.0.0.4 mta5.am0.yahoodns.net
127.0.0.5 mx.example.net
127.0.0.6 mx.dead.example
H

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.example.test \
  -keyout "$d/key.pem" -out "$d/cert.pem" >/dev/null 2>&1
chmod 644 "$d/key.pem"
mkdir -p "$d/log" "$d/mail" "$d/spool"
chown 1901:1901 "$d/log" "$d/spool"
chmod 1777 "$d/mail"

cat > "$d/exim.conf" <<CF
exim_path = $root/usr/sbin/exim4
primary_hostname = mx.example.test
qualify_domain = example.test
spool_directory = $d/spool
log_file_path = $d/log/%slog
pid_file_path = $d/exim.pid
log_selector = $selector
daemon_smtp_ports = $P_SMTP
local_interfaces = 127.0.0.1
domainlist local_domains = example.test
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_connect = acl_connect
acl_smtp_helo = acl_helo
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data
tls_advertise_hosts = *
tls_certificate = $d/cert.pem
tls_privatekey = $d/key.pem
auth_advertise_hosts = *
smtp_enforce_sync = true
pipelining_connect_advertise_hosts =
smtp_receive_timeout = 4s
host_lookup =
rfc1413_hosts =
timeout_frozen_after = 70s
ignore_bounce_errors_after = 2m
queue_run_max = 2
never_users =
keep_environment =

begin acl
acl_connect:
  deny hosts = 127.0.0.66
       message = connection refused: host blocked
  accept hosts = 127.0.0.10
         delay = 1s
  accept

acl_helo:
  deny condition = \${if eq{\$sender_helo_name}{bad.helo}}
       message = bad HELO name
  accept

acl_mail:
  deny senders = *@spammer.test
       message = sender blocked by policy
  accept

acl_rcpt:
  accept hosts = :
  deny domains = +local_domains
       !verify = recipient
  accept domains = +local_domains
  accept domains = example.net
         hosts = +relay_from_hosts
         condition = \${if match{\$local_part}{\\N^ok[0-9]+cut\$\\N}}
         control = cutthrough_delivery
         verify = recipient
  accept hosts = +relay_from_hosts
  accept authenticated = *
  deny message = relay not permitted

acl_data:
  deny condition = \${if def:h_X-Test-Spam:}
       message = message looks like spam
  accept condition = \${if def:h_X-Test-Fakereject:}
         control = fakereject/we do not want this
  accept

begin routers
remote:
  driver = manualroute
  domains = ! +local_domains
  transport = remote_smtp
  route_list = gmail.com gmail-smtp-in.l.google.com byname ; \
               outlook.com example-com.mail.protection.outlook.com byname ; \
               yahoo.com mta5.am0.yahoodns.net byname ; \
               example.net mx.example.net byname ; \
               dead.example mx.dead.example byname
  no_more
aliases:
  driver = redirect
  domains = +local_domains
  data = \${lookup{\$local_part}lsearch{$d/aliases}}
  allow_fail
  allow_defer
localuser:
  driver = accept
  domains = +local_domains
  local_parts = alice : bob : carol : postmaster : root
  transport = local_file

begin transports
remote_smtp:
  driver = smtp
  port = $P_SINK
  hosts_try_prdr = *
local_file:
  driver = appendfile
  file = $d/mail/\$local_part_data
  user = Debian-exim
  group = Debian-exim
  mode = 0600

begin retry
*  *  F,60s,8s

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = \${if and{{eq{\$auth2}{carol}}{eq{\$auth3}{$PASSWORD}}}}
  server_set_id = \$auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = \${if and{{eq{\$auth1}{carol}}{eq{\$auth2}{$PASSWORD}}}}
  server_set_id = \$auth1
CF
printf 'team: alice, bob\ngone: :fail: user has left\nlater: :defer: mailbox moving\n' > "$d/aliases"
chmod 644 "$d/exim.conf" "$d/aliases"

python3 "$here/exim-sinks.py" "$P_SINK" "$d/cert.pem" "$d/key.pem" & pids+=($!)

# Everything that runs the binary runs in the private mount namespace.
cat > "$d/run.sh" <<RUN
set -eu
mount --bind "$d/etc" /etc
x="$root/usr/sbin/exim4 -C $d/exim.conf"
\$x -bV >/dev/null
\$x -bd -q4s
for _ in \$(seq 100); do [ -s "$d/exim.pid" ] && break; sleep 0.1; done
python3 -c "import socket,time,sys
for _ in range(100):
  try: socket.create_connection(('127.0.0.1',$P_SMTP),1).close(); sys.exit(0)
  except OSError: time.sleep(0.1)
sys.exit('exim never listened')"
for r in \$(seq $rounds); do
  printf 'Subject: local\n\nbody\n' | \$x -odi -f root@example.test alice@example.test
  printf 'Subject: local\n\nbody\n' | \$x -odi -f root@example.test gone@example.test later@example.test
  printf 'Subject: suppressed\n\nbody\n' | \$x -odi -N -f root@example.test bob@example.test
done
printf 'Subject: held\n\nbody\n' | \$x -odq -f root@example.test bob@example.test
id=\$(\$x -bpr | awk 'NF>=3 && \$3 ~ /-/ {print \$3; exit}')
[ -n "\$id" ] && \$x -Mf "\$id" && sleep 1 && \$x -Mt "\$id"
python3 "$here/exim-clients.py" $P_SMTP $PASSWORD $rounds
# Until the deferred mail has expired, bounced, frozen and timed out.
for _ in \$(seq 200); do
  n=\$(\$x -bpc)
  [ "\$n" -le 0 ] && break
  sleep 1
done
\$x -bpc
RUN
unshare -m bash "$d/run.sh"
kill "$(cat "$d/exim.pid")" 2>/dev/null || true
sleep 1
cp "$d/log/mainlog" "$out"
[ -f "$d/log/rejectlog" ] && cp "$d/log/rejectlog" "${out%.log}.reject" || true
[ -f "$d/log/paniclog" ] && cp "$d/log/paniclog" "${out%.log}.panic" || true
echo "exim-corpus.sh: $(wc -l < "$out") lines in $out"
