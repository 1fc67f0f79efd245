package e2e

import (
	"fmt"
	"testing"

	"github.com/mailscope/mailscope/test/e2e/harness"
)

// submissionStack is what the seed tests send their probes through: a
// Postfix (mta.test) whose submission listener takes mail only over TLS
// and only from SASL-authenticated users (SASL through Dovecot), and that
// delivers the seed.test mailboxes to the same Dovecot over LMTP.
type submissionStack struct {
	pki  *testPKI
	dove *harness.Dovecot
	pf   *harness.Postfix
}

// startSubmissionStack starts Dovecot with the users (the probe's sender,
// probe@mta.test, among them) and Postfix in front of it; extraMainCF is
// added to Postfix's main.cf (a transport map, say).
func startSubmissionStack(t *testing.T, dovecotHost string, users []harness.DovecotUser, extraMainCF string) submissionStack {
	t.Helper()
	pki := newTestPKI(t)
	cert, key := readFile(t, pki.ServerCert), readFile(t, pki.ServerKey)
	dove := harness.StartDovecot(t, harness.DovecotOptions{Hostname: dovecotHost, CertPEM: cert, KeyPEM: key, Users: users})
	pf := harness.StartPostfix(t, harness.PostfixOptions{
		Hostname: "mta.test",
		CertPEM:  cert, KeyPEM: key,
		Listeners: []harness.PostfixListener{{Name: "submission", Options: []string{
			"smtpd_tls_security_level=encrypt", "smtpd_sasl_auth_enable=yes",
			"smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
			"smtpd_relay_restrictions=permit_sasl_authenticated,reject",
		}}},
		MainCF: fmt.Sprintf(`smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:%s
virtual_mailbox_domains = seed.test
virtual_transport = lmtp:inet:%s
`, dove.AuthAddr, dove.LMTPAddr) + extraMainCF,
	})
	return submissionStack{pki: pki, dove: dove, pf: pf}
}
