#!/usr/bin/env python3
"""SMTP clients for the Exim corpus: every kind of session a real MTA logs.

Usage: exim-clients.py PORT PASSWORD ROUNDS

Talks only to Exim on 127.0.0.1:PORT, from loopback source addresses:
127.0.0.1 may relay, 127.0.0.9 is an outsider, 127.0.0.66 is refused at
connect, 127.0.0.10 gets a banner delay (so an early talker trips Exim's
synchronisation check). Each round sends relayed mail that the sinks
(exim-sinks.py) accept, defer and refuse in the providers' words, local
mail, and the rejects, authentication failures, early talkers, timeouts
and dropped connections Exim logs. Every socket has a 20 s timeout.
"""
import smtplib
import socket
import sys
import time

PORT = int(sys.argv[1])
PASSWORD = sys.argv[2]
ROUNDS = int(sys.argv[3])


def msg(sender, rcpts, subject, extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\n%s\r\nA test message.\r\n" % (sender, ", ".join(rcpts), subject, extra)).encode()


def send(sender, rcpts, subject, src="127.0.0.1", tls=False, extra="", login=None):
    try:
        s = smtplib.SMTP("127.0.0.1", PORT, local_hostname="client.example.org", timeout=20, source_address=(src, 0))
        s.ehlo()
        if tls:
            s.starttls()
            s.ehlo()
        if login:
            s.login(*login)
        s.sendmail(sender, rcpts, msg(sender, rcpts, subject, extra))
        s.quit()
    except (smtplib.SMTPException, OSError) as e:
        print("client:", subject, type(e).__name__, file=sys.stderr)


def raw(src, lines, wait_banner=True, pause=0.0):
    """A hand-driven session: each line sent after the reply to the last."""
    try:
        c = socket.create_connection(("127.0.0.1", PORT), timeout=20, source_address=(src, 0))
        f = c.makefile("rb")
        if wait_banner:
            f.readline()
        for l in lines:
            c.sendall(l.encode() + b"\r\n")
            r = f.readline()
            while r[3:4] == b"-":
                r = f.readline()
        if pause:
            time.sleep(pause)
        c.close()
    except OSError as e:
        print("client: raw", type(e).__name__, file=sys.stderr)


for r in range(ROUNDS):
    # Delivered: plain and over TLS, several recipients in one transaction.
    send("alice@example.test", ["ok%d@example.net" % r, "ok%db@example.net" % r], "ok %d" % r, tls=r % 2 == 0)
    send("alice@example.test", ["ok%dcut@example.net" % r], "cutthrough %d" % r)
    send("bob@example.test", ["ok%d@gmail.com" % r, "ok%d@outlook.com" % r, "ok%d@yahoo.com" % r], "providers %d" % r)
    send("bob@example.test", ["alice@example.test", "team@example.test"], "local %d" % r, tls=True)
    # Deferred, retried, expired and bounced.
    send("alice@example.test", ["tmp%d@gmail.com" % r], "gmail rate %d" % r)
    send("alice@example.test", ["tmp%d@outlook.com" % r], "ms busy %d" % r)
    send("alice@example.test", ["tmp%d@yahoo.com" % r], "yahoo tss04 %d" % r)
    send("alice@example.test", ["someone%d@dead.example" % r], "dead %d" % r)
    send("alice@example.test", ["slow%d@example.net" % r, "full%d@example.net" % r], "slow %d" % r)
    # Failed at once, bounced to the sender.
    send("bob@example.test", ["auth%d@gmail.com" % r], "gmail auth %d" % r)
    send("bob@example.test", ["blk%d@outlook.com" % r, "nouser%d@yahoo.com" % r], "ms block %d" % r)
    send("bob@example.test", ["nouser%d@example.net" % r], "no user %d" % r)
    send("bob@example.test", ["x%d@nowhere.invalid" % r], "unroutable %d" % r)
    # A bounce that cannot be delivered either: frozen.
    if r % 3 == 0:
        send("nouser%d@gmail.com" % (100 + r), ["auth%d@gmail.com" % (100 + r)], "double bounce %d" % r)
    # Outsiders: rejects of each kind.
    send("mallory@outside.example", ["victim%d@gmail.com" % r], "relay %d" % r, src="127.0.0.9")
    send("mallory@outside.example", ["nobody%d@example.test" % r], "unknown %d" % r, src="127.0.0.9")
    send("boss@spammer.test", ["alice@example.test"], "bad sender %d" % r, src="127.0.0.9")
    send("mallory@outside.example", ["alice@example.test"], "spam %d" % r, src="127.0.0.9", extra="X-Test-Spam: yes\r\n")
    send("mallory@outside.example", ["bob@example.test"], "fake %d" % r, src="127.0.0.9", extra="X-Test-Fakereject: yes\r\n")
    raw("127.0.0.9", ["EHLO bad.helo", "QUIT"])
    raw("127.0.0.66", [], wait_banner=True)
    # Authentication: failures and one good login that relays.
    send("carol@example.test", ["ok%d@example.net" % r], "auth bad %d" % r, src="127.0.0.9", tls=True, login=("carol", "wrong"))
    raw("127.0.0.9", ["EHLO client.example.org", "AUTH PLAIN AGNhcm9sAGJhZA==", "QUIT"])
    send("carol@example.test", ["ok%dc@example.net" % r], "auth good %d" % r, src="127.0.0.9", tls=True, login=("carol", PASSWORD))
    # Protocol trouble: an early talker, garbage, a dropped transaction,
    # a client that falls silent.
    raw("127.0.0.10", ["EHLO early.example.org"], wait_banner=False)
    raw("127.0.0.9", ["EHLO client.example.org", "FOO bar", "MAIL FROM:<a@outside.example>", "RCPT TO:<alice@example.test>"])
    if r % 4 == 0:
        raw("127.0.0.9", ["EHLO slow.example.org"], pause=6)
