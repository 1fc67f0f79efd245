#!/usr/bin/env bash
# Writes a real-Postfix log corpus and cross-checks it.
#
# Runs a private, loopback-only Postfix (Debian package postfix) and a real
# Dovecot auth service (dovecot-core) and drives mail through them with
# smtp-source, sendmail and a few Python clients: deliveries to smtp-sink
# (2xx), deferrals (4xx, some through a postfix-out/smtp transport) that
# expire after maximal_queue_lifetime = 40s,
# bounces (5xx), mail to the error and discard transports, relay-denied and
# policy rejects, postscreen PASS NEW and PREGREET, inbound and outbound
# STARTTLS sessions (smtpd_tls_loglevel = smtp_tls_loglevel = 1), SASL
# failures and one good login on a submission listener. Then it runs
# bench/postfix-crosscheck.sh on the log (pflogsumm, an awk count and
# `mailscope replay` must agree), unless NO_CROSSCHECK=1.
#
# Usage, as root:  bench/postfix-corpus.sh [OUT.log]   (default bench/out/postfix-corpus.log)
# Nothing leaves 127.0.0.1; every server is stopped by PID on exit; the
# whole run is bounded (51 s here, most of it waiting for the
# deferred mail to expire; hard limit 4 minutes).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/out/postfix-corpus.log}
mkdir -p "$(dirname "$out")"
[ "$(id -u)" -eq 0 ] || { echo "postfix-corpus.sh: run as root (postfix -c DIR start needs it)" >&2; exit 2; }
for b in postfix postconf smtp-source smtp-sink sendmail dovecot openssl python3; do
  command -v "$b" >/dev/null || PATH=$PATH:/usr/sbin:/usr/lib/postfix/sbin
  command -v "$b" >/dev/null || { echo "postfix-corpus.sh: $b not installed (Debian packages postfix, dovecot-core, openssl, python3)" >&2; exit 2; }
done

d=$(mktemp -d /tmp/pfcorpus.XXXXXX)
chmod 755 "$d"
pids=()
cleanup() {
  postfix -c "$d/etc" stop >/dev/null 2>&1 || true
  [ -s "$d/dovecot/run/master.pid" ] && kill "$(cat "$d/dovecot/run/master.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
# A hard limit, so a hung server cannot hold the machine: the whole script
# is stopped (and cleaned up, by the traps above) after 4 minutes.
(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep 240 & sp=$!
  wait "$sp"
  echo "postfix-corpus.sh: over 4 minutes, giving up" >&2
  kill -TERM $$
) & pids+=($!)

port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
waitport() {
  python3 -c "import socket,time,sys
for _ in range(300):
  try: socket.create_connection(('127.0.0.1',int(sys.argv[1])),1).close(); sys.exit(0)
  except OSError: time.sleep(0.1)
sys.exit('port %s never opened' % sys.argv[1])" "$1"
}
P_SMTPD=$(port); P_SUB=$(port); P_PS=$(port); P_TLS=$(port)
P_OK=$(port); P_DEFER=$(port); P_BOUNCE=$(port); P_AUTH=$(port)

# Dovecot: the auth service only (protocols = none), users from a
# passwd-file, listening for Postfix's SASL on a loopback port.
mkdir -p "$d/dovecot/run" "$d/dovecot/state"
AUTH_USER=user@mx.test AUTH_PASS=$(openssl rand -hex 12)
printf '%s:{PLAIN}%s::::::\n' "$AUTH_USER" "$AUTH_PASS" > "$d/dovecot/users"
chmod 644 "$d/dovecot/users"
cat > "$d/dovecot/dovecot.conf" <<CF
base_dir = $d/dovecot/run
state_dir = $d/dovecot/state
log_path = $d/dovecot/dovecot.log
listen = 127.0.0.1
protocols = none
ssl = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $d/dovecot/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$d/dovecot/home/%u
}
service auth {
  inet_listener {
    address = 127.0.0.1
    port = $P_AUTH
  }
}
CF
dovecot -c "$d/dovecot/dovecot.conf"

mkdir -p "$d/etc" "$d/queue" "$d/data"
cp /usr/share/postfix/master.cf.dist "$d/etc/master.cf"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.test \
  -keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" 2>/dev/null
cat > "$d/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/mail.log
maillog_file_prefixes = $d
myhostname = mx.test
mydomain = test
myorigin = mx.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.2/32
smtp_dns_support_level = disabled
relay_domains = mx.test ok.test gmail.com outlook.com defer.test yahoo.com bounce.test error.test discard.test tls.test
transport_maps = texthash:$d/etc/transport
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = check_recipient_access texthash:$d/etc/access
smtp_tls_security_level = may
smtpd_tls_cert_file = $d/etc/cert.pem
smtpd_tls_key_file = $d/etc/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtp_tls_loglevel = 1
maximal_queue_lifetime = 40s
bounce_queue_lifetime = 40s
queue_run_delay = 4s
minimal_backoff_time = 4s
maximal_backoff_time = 8s
postscreen_greet_action = enforce
postscreen_greet_wait = 2s
notify_classes = resource, software
CF
cat > "$d/etc/transport" <<T
mx.test smtp:[127.0.0.1]:$P_OK
ok.test smtp:[127.0.0.1]:$P_OK
gmail.com smtp:[127.0.0.1]:$P_OK
outlook.com smtp:[127.0.0.1]:$P_BOUNCE
defer.test smtp:[127.0.0.1]:$P_DEFER
yahoo.com smtp-out:[127.0.0.1]:$P_DEFER
bounce.test smtp:[127.0.0.1]:$P_BOUNCE
error.test error:5.1.1 no such user here
discard.test discard:silently dropped
tls.test smtp:[127.0.0.1]:$P_TLS
T
cat > "$d/etc/access" <<T
blocked@ok.test REJECT 5.7.1 recipient blocked by policy
later@ok.test DEFER_IF_PERMIT 4.7.1 greylisted, try again later
T
grep -q '^postlog' "$d/etc/master.cf" || echo 'postlog   unix-dgram n  -       n       -       1       postlogd' >> "$d/etc/master.cf"
postconf -c "$d/etc" -MX smtp/inet
postconf -c "$d/etc" -M "127.0.0.1:$P_SMTPD/inet=127.0.0.1:$P_SMTPD inet n - n - - smtpd"
postconf -c "$d/etc" -M "127.0.0.1:$P_SUB/inet=127.0.0.1:$P_SUB inet n - n - - smtpd -o syslog_name=postfix/submission -o mynetworks= -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=inet:127.0.0.1:$P_AUTH -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes"
postconf -c "$d/etc" -M "127.0.0.1:$P_PS/inet=127.0.0.1:$P_PS inet n - n - 1 postscreen -o postscreen_access_list=static:dunno"
# A second outbound transport under its own syslog name, as split
# inbound/outbound setups log theirs: its deferrals are postfix-out/smtp.
postconf -c "$d/etc" -M "smtp-out/unix=smtp-out unix - - n - - smtp -o syslog_name=postfix-out"
postconf -c "$d/etc" -M "smtpd/pass=smtpd pass - - n - - smtpd"
postconf -c "$d/etc" -M "dnsblog/unix=dnsblog unix - - n - 0 dnsblog"
postconf -c "$d/etc" -M "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"
postconf -c "$d/etc" -M "127.0.0.1:$P_TLS/inet=127.0.0.1:$P_TLS inet n - n - - smtpd -o syslog_name=postfix-in/smtpd -o myhostname=sink.test -o content_filter=discard:tls-sink"
postconf -c "$d/etc" -F '*/*/chroot = n'
# -c prints session counters on stdout: not wanted in the report.
smtp-sink -u nobody -c "127.0.0.1:$P_OK" 100 >/dev/null & pids+=($!)
smtp-sink -u nobody -c -r RCPT "127.0.0.1:$P_DEFER" 100 >/dev/null & pids+=($!)
smtp-sink -u nobody -c -f RCPT -B "550 5.7.1 Service unavailable; client blocked using zen.spamhaus.org" "127.0.0.1:$P_BOUNCE" 100 >/dev/null & pids+=($!)
postfix -c "$d/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$d/etc" start
for p in "$P_SMTPD" "$P_OK" "$P_AUTH"; do waitport "$p"; done

src() { smtp-source -c -m "$1" -s 2 -f sender@mx.test -t "$2" "127.0.0.1:$P_SMTPD" >/dev/null 2>&1 || true; }
src 40 user@ok.test
src 20 someone@gmail.com
src 10 user@defer.test
src 5 someone@yahoo.com
src 10 user@bounce.test
src 4 someone@outlook.com
src 5 user@error.test
src 5 user@discard.test
src 5 user@tls.test
# Rejects: relay denied, a policy reject, a temporary policy reject.
smtp-source -m 3 -f sender@mx.test -t user@elsewhere.example "127.0.0.1:$P_SMTPD" >/dev/null 2>&1 || true
smtp-source -m 3 -f sender@mx.test -t blocked@ok.test "127.0.0.1:$P_SMTPD" >/dev/null 2>&1 || true
smtp-source -m 2 -f sender@mx.test -t later@ok.test "127.0.0.1:$P_SMTPD" >/dev/null 2>&1 || true
# Local submission through sendmail/pickup.
for i in 1 2 3; do printf 'Subject: pickup %s\n\nbody\n' "$i" | sendmail -C "$d/etc" -f local@mx.test user@ok.test; done
timeout 90 python3 "$here/postfix-clients.py" "$P_SUB" "$P_PS" "$P_SMTPD" "$AUTH_USER" "$AUTH_PASS"
# Let deferred mail be retried and expire (maximal_queue_lifetime = 40s),
# then the bounce notices be delivered: at most 2 minutes.
for _ in $(seq 60); do
  [ -z "$(find "$d/queue/deferred" "$d/queue/active" "$d/queue/incoming" -type f 2>/dev/null | head -1)" ] && break
  sleep 2
done
postfix -c "$d/etc" stop
# Wait for master to exit by its PID file, not `postfix status`, which
# would log a line of its own into the corpus.
mpid=$(cat "$d/queue/pid/master.pid" 2>/dev/null | tr -d ' ' || true)
for _ in $(seq 50); do [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null || break; sleep 0.2; done
# Hide the temp directory name, which varies per run.
sed "s#$d#/var/spool/pfcorpus#g" "$d/mail.log" > "$out"
echo "postfix-corpus.sh: $(wc -l < "$out") lines in $out"
if [ "${NO_CROSSCHECK:-0}" != 1 ]; then
  "$here/postfix-crosscheck.sh" "$out"
fi
