"""SMTP clients for the Postfix corpus run (bench/postfix-corpus.sh):
SASL logins on the submission listener against the real Dovecot auth
service (STARTTLS, then AUTH PLAIN and AUTH LOGIN with bad passwords, and
one good login that submits a message), postscreen sessions (a client that
talks before the greeting, two that wait and pass), and an inbound STARTTLS
delivery on the main listener.
Usage: postfix-clients.py SUBMISSION_PORT POSTSCREEN_PORT SMTPD_PORT USER PASSWORD.
Connects to 127.0.0.1 only; every socket has a timeout."""
import smtplib, socket, ssl, sys, time

sub, ps, smtpd = (int(a) for a in sys.argv[1:4])
user, password = sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def submission():
    s = smtplib.SMTP("127.0.0.1", sub, timeout=10)
    s.ehlo("client.test")
    s.starttls(context=ctx)
    s.ehlo("client.test")
    return s


for i in range(4):
    s = submission()
    try:
        if i % 2:
            s.login(user, "wrong-%d" % i)  # smtplib picks PLAIN
        else:
            s.auth("LOGIN", lambda c=None: "wrong" if c else user)
    except smtplib.SMTPException:
        pass
    try:
        s.quit()
    except smtplib.SMTPException:
        pass

# A good login: an authenticated submission (client= with sasl_method=).
s = submission()
s.login(user, password)
s.sendmail(user, ["sasl@ok.test"], "Subject: sasl\r\n\r\nbody\r\n")
s.quit()

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
# ... two wait and pass, then send a message.
for _ in range(2):
    s = smtplib.SMTP("127.0.0.1", ps, timeout=20)
    s.ehlo("good.test")
    s.sendmail("sender@mx.test", ["ps@ok.test"], "Subject: ps\r\n\r\nbody\r\n")
    s.quit()
