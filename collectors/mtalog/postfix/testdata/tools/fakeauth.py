"""A minimal responder for Dovecot's authentication protocol (the side
Postfix's smtpd_sasl_type=dovecot talks to) that refuses every login, so a
corpus run logs real Postfix SASL failure lines without a Dovecot install.
Usage: fakeauth.py PORT. Listens on 127.0.0.1 only."""
import socketserver, sys

class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
                         b"SPID\t1\nCUID\t1\nCOOKIE\t0123456789abcdef0123456789abcdef\nDONE\n")
        for line in self.rfile:
            f = line.rstrip(b"\n").split(b"\t")
            if f[0] == b"AUTH":
                has_resp = any(x.startswith(b"resp=") for x in f)
                if f[2] == b"LOGIN" and not has_resp:
                    self.wfile.write(b"CONT\t" + f[1] + b"\tVXNlcm5hbWU6\n")
                    continue
                self.wfile.write(b"FAIL\t" + f[1] + b"\treason=Authentication failed\n")
            elif f[0] == b"CONT":
                self.wfile.write(b"FAIL\t" + f[1] + b"\treason=Authentication failed\n")

class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

S(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
