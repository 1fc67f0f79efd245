#!/usr/bin/env python3
"""SMTP sinks that answer as the big mailbox providers do, for the Exim corpus.

Usage: exim-sinks.py PORT CERT KEY

Listens on PORT at 127.0.0.2 (Gmail), 127.0.0.3 (Microsoft), 127.0.0.4
(Yahoo) and 127.0.0.5 (a plain relay), loopback only. Each offers STARTTLS
with CERT/KEY and answers RCPT by the recipient's local part:

  tmp*     a temporary refusal in the provider's words (Gmail 451 4.7.28,
           Microsoft 451 4.7.500, Yahoo 421 4.7.0 [TSS04])
  auth*    Gmail 550 5.7.26 (unauthenticated sender)
  blk*     Microsoft 550 5.7.1 ... (S3150) (blocklisted sender address)
  nouser*  550 5.1.1 (no such user)
  full*    452 4.2.2 (mailbox full)
  slow*    accepts RCPT, then answers DATA's end with 451 4.3.0
  anything else: 250

Every connection is bounded: 30 s idle, 200 commands, 1 MB of data. The
process stops on SIGTERM or after 15 minutes.
"""
import socket
import ssl
import sys
import threading
import time

PORT = int(sys.argv[1])
CTX = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
CTX.load_cert_chain(sys.argv[2], sys.argv[3])

PERSONAS = {
    "127.0.0.2": ("mx.google.com", {
        "tmp": "451-4.7.28 Our system has detected an unusual rate of unsolicited mail\r\n451 4.7.28 originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp",
        "auth": "550-5.7.26 This mail is unauthenticated, which poses a security risk to the\r\n550 5.7.26 sender and Gmail users, and has been blocked. The sender must authenticate with at least one of SPF or DKIM. - gsmtp",
        "nouser": "550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Please try double-checking the recipient's email address for typos. - gsmtp",
        "full": "452-4.2.2 The recipient's inbox is out of storage space.\r\n452 4.2.2 Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp - gsmtp",
    }),
    "127.0.0.3": ("mail.protection.outlook.com", {
        "tmp": "451 4.7.500 Server busy. Please try again later from [127.0.0.1]. (S77719) [AM4PEPF00027A6A.eurprd04.prod.outlook.com]",
        "blk": "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). [AM4PEPF00027A6A.eurprd04.prod.outlook.com]",
        "nouser": "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM4PEPF00027A6A.eurprd04.prod.outlook.com]",
    }),
    "127.0.0.4": ("mta5.am0.yahoodns.net", {
        "tmp": "421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        "nouser": "554 5.7.9 Message not accepted for policy reasons.  See https://postmaster.yahooinc.com/error-codes",
    }),
    "127.0.0.5": ("mx.example.net", {
        "nouser": "550 5.1.1 <unknown>: Recipient address rejected: User unknown in virtual mailbox table",
        "full": "452 4.2.2 Mailbox full",
    }),
}


def reply_for(ip, rcpt):
    local = rcpt.split("@", 1)[0].lstrip("<").lower()
    for prefix, text in PERSONAS[ip][1].items():
        if local.startswith(prefix):
            return text
    return "250 2.1.5 OK"


def serve(holder, ip):
    conn = holder[0]
    name = PERSONAS[ip][0]
    conn.settimeout(30)
    f = conn.makefile("rb")
    tls = False

    def send(s):
        conn.sendall(s.encode() + b"\r\n")

    send("220 %s ESMTP ready" % name)
    slow = False
    for _ in range(200):
        line = f.readline(4096)
        if not line:
            return
        cmd = line.decode("latin-1").strip()
        verb = cmd[:4].upper()
        if verb in ("EHLO", "HELO"):
            caps = ["250-%s at your service" % name, "250-SIZE 35882577", "250-PIPELINING"]
            if not tls:
                caps.append("250-STARTTLS")
            caps.append("250 8BITMIME")
            send("\r\n".join(caps))
        elif verb == "STAR" and not tls:
            send("220 2.0.0 Ready to start TLS")
            conn = CTX.wrap_socket(conn, server_side=True)
            holder[0] = conn
            conn.settimeout(30)
            f = conn.makefile("rb")
            tls = True
        elif verb == "MAIL":
            slow = False
            send("250 2.1.0 OK")
        elif verb == "RCPT":
            r = reply_for(ip, cmd[8:])
            if cmd[8:].lstrip("<").lower().startswith("slow"):
                slow = True
            send(r)
            if r.startswith("421"):
                return
        elif verb == "DATA":
            send("354 Go ahead")
            total = 0
            while True:
                l = f.readline(65536)
                if not l:
                    return
                total += len(l)
                if l in (b".\r\n", b".\n") or total > 1 << 20:
                    break
            send("451 4.3.0 Temporary server error. Please try again later" if slow else "250 2.0.0 OK queued")
        elif verb == "RSET":
            send("250 2.0.0 OK")
        elif verb == "QUIT":
            send("221 2.0.0 closing connection")
            return
        else:
            send("250 OK")


def handle(conn, ip):
    holder = [conn]
    try:
        serve(holder, ip)
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn = holder[0]
        try:
            if isinstance(conn, ssl.SSLSocket):
                conn.settimeout(2)
                conn.unwrap()
        except (OSError, ssl.SSLError, ValueError):
            pass
        try:
            conn.close()
        except OSError:
            pass


def listen(ip):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, PORT))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn, ip), daemon=True).start()


for ip in PERSONAS:
    threading.Thread(target=listen, args=(ip,), daemon=True).start()
time.sleep(900)
