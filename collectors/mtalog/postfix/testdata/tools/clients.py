"""SMTP clients for the corpus run: SASL failures on the submission
listener (STARTTLS, then AUTH PLAIN and AUTH LOGIN with bad passwords),
postscreen sessions (a well-behaved client that passes, a client that talks
before the greeting), and an inbound STARTTLS delivery.
Usage: clients.py SUBMISSION_PORT POSTSCREEN_PORT SMTPD_PORT. 127.0.0.1 only."""
import smtplib, socket, ssl, sys, time

sub, ps, smtpd = (int(a) for a in sys.argv[1:4])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE

for i in range(4):
    s = smtplib.SMTP("127.0.0.1", sub, timeout=10)
    s.ehlo("client.test")
    s.starttls(context=ctx)
    s.ehlo("client.test")
    try:
        if i % 2:
            s.login("user%d@mx.test" % i, "wrong")  # smtplib picks PLAIN
        else:
            s.auth("LOGIN", lambda c=None: "wrong" if c else "user@mx.test")
    except smtplib.SMTPException:
        pass
    try:
        s.quit()
    except smtplib.SMTPException:
        pass

# Inbound STARTTLS delivery on the main listener.
s = smtplib.SMTP("127.0.0.1", smtpd, timeout=10)
s.ehlo("tls-client.test")
s.starttls(context=ctx)
s.ehlo("tls-client.test")
s.sendmail("sender@mx.test", ["tls-in@ok.test"], "Subject: tls\r\n\r\nbody\r\n")
s.quit()

# postscreen: one client talks before the greeting (PREGREET) ...
c = socket.create_connection(("127.0.0.1", ps), timeout=10)
c.sendall(b"EHLO pregreet.test\r\n")
time.sleep(3)
try:
    c.recv(4096)
    c.sendall(b"QUIT\r\n")
    c.recv(4096)
except OSError:
    pass
c.close()
# ... one waits and passes, then sends a message.
for _ in range(2):
    s = smtplib.SMTP("127.0.0.1", ps, timeout=20)
    s.ehlo("good.test")
    s.sendmail("sender@mx.test", ["ps@ok.test"], "Subject: ps\r\n\r\nbody\r\n")
    s.quit()
