#!/usr/bin/env bash
# Runs a private, loopback-only Postfix (Debian package postfix) and drives
# mail through it to produce testdata/real-postfix.log: deliveries to
# smtp-sink (2xx), deferrals (4xx) that later expire, bounces (5xx), mail to
# the error and discard transports, relay-denied and policy rejects,
# postscreen PASS NEW and PREGREET, inbound and outbound STARTTLS sessions
# and SASL authentication failures on a submission listener (against a
# minimal Dovecot-auth-protocol responder, tools/fakeauth.py, that refuses
# every login). Run as root:  testdata/gen-corpus.sh OUT.log
# Nothing leaves 127.0.0.1; every server is stopped by PID on exit.
set -euo pipefail
out=${1:?usage: gen-corpus.sh OUT.log}
here=$(cd "$(dirname "$0")" && pwd)
d=$(mktemp -d /tmp/pfcorpus.XXXXXX)
chmod 755 "$d"
pids=()
cleanup() {
  postfix -c "$d/etc" stop >/dev/null 2>&1 || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
P_SMTPD=$(port); P_SUB=$(port); P_PS=$(port); P_TLS=$(port)
P_OK=$(port); P_DEFER=$(port); P_BOUNCE=$(port); P_AUTH=$(port)
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
yahoo.com smtp:[127.0.0.1]:$P_DEFER
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
postconf -c "$d/etc" -M "smtpd/pass=smtpd pass - - n - - smtpd"
postconf -c "$d/etc" -M "dnsblog/unix=dnsblog unix - - n - 0 dnsblog"
postconf -c "$d/etc" -M "tlsproxy/unix=tlsproxy unix - - n - 0 tlsproxy"
postconf -c "$d/etc" -M "127.0.0.1:$P_TLS/inet=127.0.0.1:$P_TLS inet n - n - - smtpd -o syslog_name=postfix-in/smtpd -o myhostname=sink.test -o content_filter=discard:tls-sink"
postconf -c "$d/etc" -F '*/*/chroot = n'
python3 "$here/tools/fakeauth.py" "$P_AUTH" & pids+=($!)
smtp-sink -u nobody -c 127.0.0.1:$P_OK 100 & pids+=($!)
smtp-sink -u nobody -c -r RCPT 127.0.0.1:$P_DEFER 100 & pids+=($!)
smtp-sink -u nobody -c -f RCPT -B "550 5.7.1 Service unavailable; client blocked using zen.spamhaus.org" 127.0.0.1:$P_BOUNCE 100 & pids+=($!)
postfix -c "$d/etc" set-permissions >/dev/null 2>&1 || true
postfix -c "$d/etc" start
python3 -c "import socket,time,sys
for _ in range(100):
  try: socket.create_connection((\"127.0.0.1\",int(sys.argv[1])),1).close(); break
  except OSError: time.sleep(0.1)" "$P_SMTPD"
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
python3 "$here/tools/clients.py" "$P_SUB" "$P_PS" "$P_SMTPD"
# Let deferred mail be retried and expire (maximal_queue_lifetime = 40s).
for _ in $(seq 60); do
  [ -z "$(ls -A "$d/queue/deferred" "$d/queue/active" "$d/queue/incoming" 2>/dev/null | grep -v ':$' | grep -v '^$')" ] && break
  sleep 2
done
postfix -c "$d/etc" stop
sleep 1
# Hide the temp directory name, which varies per run.
sed "s#$d#/var/spool/pfcorpus#g" "$d/mail.log" > "$out"
wc -l "$out"
