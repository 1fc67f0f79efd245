package seeds

import (
	"testing"
	"time"
)

// Samples in the shape each provider writes (addresses and keys
// anonymised).
const (
	gmailHeaders = "Authentication-Results: mx.google.com;\r\n" +
		"       dkim=pass header.i=@example.com header.s=s1 header.b=AbCdEf;\r\n" +
		"       spf=pass (google.com: domain of news@example.com designates 192.0.2.10 as permitted sender) smtp.mailfrom=news@example.com;\r\n" +
		"       dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=example.com\r\n" +
		"ARC-Authentication-Results: i=1; mx.google.com;\r\n" +
		"       dkim=pass header.i=@example.com header.s=s1 header.b=AbCdEf;\r\n" +
		"       spf=pass smtp.mailfrom=news@example.com; arc=none\r\n" +
		"Received: from mail.example.com (mail.example.com. [192.0.2.10])\r\n" +
		"        by mx.google.com with ESMTPS id a1si2 for <seed1@gmail.com>\r\n" +
		"        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n" +
		"        Wed, 04 Mar 2026 05:06:19 -0800 (PST)\r\n" +
		"Received: from [127.0.0.1] (localhost [127.0.0.1]) by mail.example.com (Postfix) with ESMTPSA id 4Q1;\r\n" +
		"        Wed, 04 Mar 2026 13:06:08 +0000 (UTC)\r\n" +
		// A forged header further down, as a sender could add: ignored.
		"Authentication-Results: mx.google.com; spf=fail smtp.mailfrom=forged\r\n"

	microsoftHeaders = "Authentication-Results: spf=pass (sender IP is 192.0.2.10)\r\n" +
		" smtp.mailfrom=example.com; dkim=pass (signature was verified)\r\n" +
		" header.d=example.com;dmarc=pass action=none\r\n" +
		" header.from=example.com;compauth=pass reason=100\r\n" +
		"X-MS-Exchange-Organization-SCL: 1\r\n" +
		"X-Forefront-Antispam-Report: CIP:192.0.2.10;CTRY:;LANG:en;SCL:5;SRV:;\r\n" +
		"Received: from mail.example.com (192.0.2.10) by AM1PEPF000.mail.protection.outlook.com\r\n" +
		" (10.167.16.1) with Microsoft SMTP Server id 15.20.1; Wed, 4 Mar 2026 13:06:20 +0000\r\n" +
		"Received: from [127.0.0.1] (localhost [127.0.0.1]) by mail.example.com (Postfix) with ESMTPSA id 4Q1; Wed, 04 Mar 2026 13:06:08 +0000\r\n"

	yahooHeaders = "Authentication-Results: atlas-production.v2.mail-mx.bf2.yahoo.com;\r\n" +
		" dkim=pass header.i=@example.com header.s=s1;\r\n" +
		" spf=softfail smtp.mailfrom=example.com;\r\n" +
		" dmarc=fail(p=NONE) header.from=example.com;\r\n" +
		"Received: from 192.0.2.10 (EHLO mail.example.com) by 10.197.33.1 with SMTP; Wed, 04 Mar 2026 13:06:30 +0000\r\n" +
		"Received: from [127.0.0.1] (localhost [127.0.0.1]) by mail.example.com (Postfix) with ESMTPSA id 4Q1; Wed, 04 Mar 2026 13:06:08 +0000\r\n"

	fastmailHeaders = "X-Spam-Score: 0.4\r\n" +
		"X-Spamd-Result: default: False [-1.20 / 15.00]; DMARC_POLICY_ALLOW(-0.50)\r\n" +
		"Authentication-Results: mx5.messagingengine.com;\r\n" +
		"    arc=none (no signatures found);\r\n" +
		"    dkim=pass (2048-bit rsa key sha256) header.d=example.com header.i=@example.com header.b=X;\r\n" +
		"    dmarc=pass policy.published-domain-policy=reject header.from=example.com;\r\n" +
		"    spf=pass smtp.mailfrom=news@example.com smtp.helo=mail.example.com\r\n" +
		"Received: from mail.example.com (mail.example.com [IPv6:2001:db8::10])\r\n" +
		"    by mx5.messagingengine.com (Postfix) with ESMTPS id 1; Wed,  4 Mar 2026 08:06:12 -0500 (EST)\r\n" +
		"Received: from [127.0.0.1] (localhost [127.0.0.1]) by mail.example.com (Postfix) with ESMTPSA id 4Q1; Wed, 04 Mar 2026 13:06:08 +0000\r\n"
)

func TestAnalyzeProviderSamples(t *testing.T) {
	sent := time.Date(2026, 3, 4, 13, 6, 8, 0, time.UTC)
	for _, tc := range []struct {
		name, headers, provider string
		verdicts, ip, id        string
		delay                   time.Duration
		scores                  map[string]float64
	}{
		{"gmail", gmailHeaders, "gmail", "arc=none dkim=pass dmarc=pass spf=pass", "192.0.2.10", "mx.google.com", 11 * time.Second, nil},
		{"microsoft", microsoftHeaders, "microsoft", "compauth=pass dkim=pass dmarc=pass spf=pass", "192.0.2.10", "", 12 * time.Second, map[string]float64{"microsoft_scl": 1}},
		{"yahoo", yahooHeaders, "yahoo", "dkim=pass dmarc=fail spf=softfail", "192.0.2.10", "atlas-production.v2.mail-mx.bf2.yahoo.com", 22 * time.Second, nil},
		{"fastmail", fastmailHeaders, "fastmail", "arc=none dkim=pass dmarc=pass spf=pass", "2001:db8::10", "mx5.messagingengine.com", 4 * time.Second,
			map[string]float64{"spamassassin": 0.4, "rspamd": -1.2}},
		// A provider we know nothing of: the topmost header's id is trusted.
		{"other", fastmailHeaders, "other", "arc=none dkim=pass dmarc=pass spf=pass", "2001:db8::10", "mx5.messagingengine.com", 4 * time.Second, nil},
		// The wrong provider's ids: nothing is trusted.
		{"mismatch", gmailHeaders, "yahoo", "", "192.0.2.10", "", 11 * time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := Analyze([]byte(tc.headers), trusted(&SeedMailbox{Provider: tc.provider}))
			if got := verdictString(a.Verdicts); got != tc.verdicts {
				t.Errorf("verdicts %q, want %q", got, tc.verdicts)
			}
			if a.AuthservID != tc.id {
				t.Errorf("authserv-id %q, want %q", a.AuthservID, tc.id)
			}
			if a.SendingIP != tc.ip {
				t.Errorf("sending IP %q, want %q", a.SendingIP, tc.ip)
			}
			if d := a.ReceivedAt.Sub(sent); d != tc.delay {
				t.Errorf("inbound hop %s after sending, want %s", d, tc.delay)
			}
			for src, want := range tc.scores {
				if got, ok := a.SpamScores[src]; !ok || got != want {
					t.Errorf("score %s = %v (%v), want %v", src, got, ok, want)
				}
			}
		})
	}
}

func TestParseAuthResults(t *testing.T) {
	for _, tc := range []struct{ in, id, want string }{
		{"example.org 1; none", "example.org", ""},
		{"mx.example.org; spf=pass (a;b=c) smtp.mailfrom=x; dkim=fail reason=\"bad (sig)\"", "mx.example.org", "dkim=fail spf=pass"},
		{"mx; dmarc=bestguesspass; foo=pass; DKIM=PASS", "mx", "dkim=pass dmarc=other"},
		{"spf=temperror smtp.mailfrom=x", "", "spf=temperror"},
	} {
		id, vs := ParseAuthResults(tc.in)
		if id != tc.id || verdictString(vs) != tc.want {
			t.Errorf("%q: id %q verdicts %q, want %q %q", tc.in, id, verdictString(vs), tc.id, tc.want)
		}
	}
}

func TestReceivedOnTheSendingHostOnly(t *testing.T) {
	// Every hop is the sender's (a seed on the sending host): the topmost
	// is the delivery, and no sending IP is claimed.
	h := "Received: from a by mail.example.com with LMTP; Wed, 04 Mar 2026 13:06:10 +0000\r\n" +
		"Received: from [127.0.0.1] by mail.example.com with ESMTPSA; Wed, 04 Mar 2026 13:06:08 +0000\r\n"
	a := Analyze([]byte(h), nil)
	if a.ReceivedAt.Second() != 10 || a.SendingIP != "" {
		t.Errorf("%+v", a)
	}
	if a := Analyze([]byte("Subject: x\r\n"), nil); !a.ReceivedAt.IsZero() || a.Verdicts != nil {
		t.Errorf("no headers: %+v", a)
	}
}
