package seeds

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailscope/mailscope/internal/config"
	"github.com/mailscope/mailscope/internal/imapx"
)

const fastmailAR = "Authentication-Results: mx6.messagingengine.com;\r\n" +
	"    dkim=pass (2048-bit rsa key sha256) header.d=example.test header.i=@example.test header.b=abc;\r\n" +
	"    dmarc=pass policy.published-domain-policy=reject header.from=example.test;\r\n" +
	"    spf=pass smtp.mailfrom=probe@example.test smtp.helo=submit.test\r\n"

// TestRoundEveryOutcome sends one round to seven seeds on the in-process
// servers and checks each outcome: inbox (with the provider's verdicts,
// the sending IP and the delivery time from its inbound Received hop),
// spam by the \Junk attribute, spam by Yahoo's "Bulk Mail" name without
// the attribute, another configured folder, missing after the round
// timeout, a recipient the submission server refuses, and a seed whose
// IMAP login fails. Found messages are deleted through Trash.
func TestRoundEveryOutcome(t *testing.T) {
	w := newWorld(t)
	w.addUser("inbox@seed.test", "pw-inbox", folder{"Junk", imap.MailboxAttrJunk}, folder{"Trash", imap.MailboxAttrTrash})
	w.addUser("spam@seed.test", "pw-spam", folder{"Junk", imap.MailboxAttrJunk}, folder{"Trash", imap.MailboxAttrTrash})
	w.addUser("bulk@seed.test", "pw-bulk", folder{"Bulk Mail", ""}, folder{"Trash", ""})
	w.addUser("other@seed.test", "pw-other", folder{"Spam", ""}, folder{"Newsletters", ""})
	w.addUser("missing@seed.test", "pw-missing", folder{"Junk", imap.MailboxAttrJunk})
	w.addUser("badpass@seed.test", "pw-right")
	w.route = func(rcpt string) delivery {
		switch rcpt {
		case "inbox@seed.test":
			return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders(fastmailAR)}
		case "spam@seed.test":
			return delivery{user: rcpt, folder: "Junk", headers: inboundHeaders("X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_99\r\n")}
		case "bulk@seed.test":
			return delivery{user: rcpt, folder: "Bulk Mail", headers: inboundHeaders("")}
		case "other@seed.test":
			return delivery{user: rcpt, folder: "Newsletters", headers: inboundHeaders("X-Rspamd-Score: 2.5\r\n")}
		case "badpass@seed.test":
			return delivery{user: rcpt, folder: "INBOX"}
		}
		return delivery{}
	}
	seed := func(name, provider, user, pass string) SeedMailbox {
		return SeedMailbox{Name: name, Provider: provider, IMAP: Endpoint{Username: user, Password: config.Secret(pass)}}
	}
	seeds := []SeedMailbox{
		seed("inbox-1", "fastmail", "inbox@seed.test", "pw-inbox"),
		seed("spam-1", "other", "spam@seed.test", "pw-spam"),
		seed("bulk-1", "yahoo", "bulk@seed.test", "pw-bulk"),
		seed("other-1", "other", "other@seed.test", "pw-other"),
		seed("missing-1", "other", "missing@seed.test", "pw-missing"),
		seed("refused-1", "other", "reject@seed.test", "pw-x"),
		seed("badpass-1", "other", "badpass@seed.test", "pw-wrong"),
	}
	seeds[3].Folders = []string{"Newsletters"}
	var logs bytes.Buffer
	c := w.config(t, seeds...)
	rd := w.round(w.runner(t, c, &logs))

	in := findSeed(t, rd, "inbox-1")
	if in.Placement != "inbox" || in.Folder != FolderInbox || in.FoundIn != "INBOX" {
		t.Errorf("inbox-1: %+v", in)
	}
	if in.Delivery != 7*time.Second || in.DeliveryInternal != 9*time.Second {
		t.Errorf("inbox-1 delivery %s (internaldate %s), want 7s (9s)", in.Delivery, in.DeliveryInternal)
	}
	if in.SendingIP != "192.0.2.10" || in.AuthservID != "mx6.messagingengine.com" {
		t.Errorf("inbox-1 sending IP %q authserv-id %q", in.SendingIP, in.AuthservID)
	}
	if got := verdictString(in.Verdicts); got != "dkim=pass dmarc=pass spf=pass" {
		t.Errorf("inbox-1 verdicts %s", got)
	}
	if !in.Cleaned || w.count("inbox@seed.test", "INBOX") != 0 || w.count("inbox@seed.test", "Trash") != 0 {
		t.Errorf("inbox-1 not cleaned up: cleaned=%v inbox=%d trash=%d", in.Cleaned, w.count("inbox@seed.test", "INBOX"), w.count("inbox@seed.test", "Trash"))
	}
	if s := findSeed(t, rd, "spam-1"); s.Placement != "spam" || s.SpamScores["spamassassin"] != 7.3 || !s.Cleaned {
		t.Errorf("spam-1: %+v", s)
	}
	if s := findSeed(t, rd, "bulk-1"); s.Placement != "spam" || s.FoundIn != "Bulk Mail" || w.count("bulk@seed.test", "Bulk Mail") != 0 {
		t.Errorf("bulk-1: %+v", s)
	}
	if s := findSeed(t, rd, "other-1"); s.Placement != "other:Newsletters" || s.Folder != FolderOther || s.SpamScores["rspamd"] != 2.5 {
		t.Errorf("other-1: %+v", s)
	}
	if s := findSeed(t, rd, "missing-1"); s.Placement != "missing" || s.Folder != FolderMissing {
		t.Errorf("missing-1: %+v", s)
	}
	if s := findSeed(t, rd, "refused-1"); s.Checked() || s.Stage != StageSubmit || !strings.Contains(s.Err, "550") {
		t.Errorf("refused-1: %+v", s)
	}
	if s := findSeed(t, rd, "badpass-1"); s.Checked() || s.Stage != StageIMAPAuth {
		t.Errorf("badpass-1: %+v", s)
	}
	if w.clk.Now().Sub(epoch) < c.RoundTimeout {
		t.Errorf("the round ended %s after it started, before the round timeout", w.clk.Now().Sub(epoch))
	}
	if got := rd.Summary(); !strings.HasPrefix(got, "7 seeds: 1 inbox, 0 tab, 2 spam, 1 other, 1 missing, 2 not checked") {
		t.Errorf("summary: %s", got)
	}
	// The CLI's placement report and exit code.
	var table bytes.Buffer
	WriteTable(&table, rd)
	for _, want := range []string{
		"fastmail  inbox-1    inbox                    7s        pass  pass  pass   -                 192.0.2.10",
		"other     spam-1     spam                     7s        -     -     -      spamassassin=7.3  192.0.2.10",
		"other     missing-1  missing                  -         -",
		"other     badpass-1  not checked (imap_auth)",
		"refused-1: submit: RCPT TO <reject@seed.test>: SMTP error 550",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if code := ExitCode(rd); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if code := ExitCode(&Round{Seeds: []SeedResult{{Folder: FolderInbox}, {Folder: FolderTab}}}); code != 0 {
		t.Errorf("all delivered: exit code %d, want 0", code)
	}
	if code := ExitCode(&Round{SubmitErr: "x", Seeds: []SeedResult{{Stage: StageSubmit}}}); code != 2 {
		t.Errorf("submit failed: exit code %d, want 2", code)
	}
	// No secret anywhere the user can see.
	js, _ := json.Marshal(rd)
	for _, secret := range []string{"submit-secret-pw", "pw-inbox", "pw-spam", "pw-wrong", "pw-right"} {
		if strings.Contains(logs.String(), secret) || strings.Contains(string(js), secret) || strings.Contains(rd.Summary(), secret) {
			t.Errorf("secret %q leaked into the logs or the result", secret)
		}
	}
}

// TestRoundMessageAndNoSeenFlag checks what is submitted (token in the
// subject, probe header, unique Message-ID, unsubscribe headers, both
// formats) and that finding a message with keep_messages leaves it in
// place and unread.
func TestRoundMessageAndNoSeenFlag(t *testing.T) {
	w := newWorld(t)
	w.addUser("keep@seed.test", "pw", folder{"Junk", imap.MailboxAttrJunk})
	w.route = func(rcpt string) delivery { return delivery{user: rcpt, folder: "INBOX", headers: inboundHeaders("")} }
	c := NewConfig()
	c.Message = MessageConfig{FromName: "Example News", ReplyTo: "reply@example.test", Subject: "Your {{.Seed}} digest",
		Text: "Hello {{.Token}}", HTML: "<p>Hello <b>{{.Seed}}</b></p>", ListUnsubscribe: "<https://example.test/u/1>",
		ListUnsubscribePost: true, Headers: map[string]string{"Feedback-ID": "seed:news:example"}}
	w2 := w.config(t, SeedMailbox{Name: "keep-1", Provider: "other", IMAP: Endpoint{Username: "keep@seed.test", Password: "pw"}})
	w2.Message, w2.KeepMessages = c.Message, true
	must(t, w2.Validate())
	rd := w.round(w.runner(t, w2, nil))
	s := findSeed(t, rd, "keep-1")
	if s.Placement != "inbox" || s.Cleaned || w.count("keep@seed.test", "INBOX") != 1 {
		t.Fatalf("keep-1: %+v", s)
	}
	msg := w.submitted[0]
	for _, want := range []string{"Subject: Your keep-1 digest " + rd.Token, "X-Mailscope-Probe: " + rd.Token,
		"Message-Id: <" + rd.Token + ".keep-1@example.test>", "List-Unsubscribe: <https://example.test/u/1>",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Feedback-Id: seed:news:example", `"Example News" <probe@example.test>`,
		"Reply-To: <reply@example.test>", "multipart/alternative", "text/html", "<b>keep-1</b>"} {
		if !strings.Contains(msg, want) {
			t.Errorf("submitted message lacks %q:\n%s", want, msg)
		}
	}
	// Read the flags on a fresh connection: BODY.PEEK kept \Seen off.
	conn, err := imapx.Dial(context.Background(), imapx.Options{Address: w.imapAddr, Security: imapx.StartTLS, TLSConfig: tlsFor(t, w)})
	must(t, err)
	defer conn.Close()
	must(t, conn.Login(context.Background(), imapx.Auth{Username: "keep@seed.test", Password: "pw"}))
	_, err = conn.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	must(t, err)
	msgs, err := conn.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	must(t, err)
	for _, f := range msgs[0].Flags {
		if f == imap.FlagSeen {
			t.Error("the seed message was marked \\Seen")
		}
	}
}

// TestCancelledRoundIsNotMissing checks that a round cancelled while it
// waits (the agent stopping) leaves the seed unchecked, not missing.
func TestCancelledRoundIsNotMissing(t *testing.T) {
	w := newWorld(t)
	w.addUser("late@seed.test", "pw")
	w.route = func(string) delivery { return delivery{} }
	c := w.config(t, SeedMailbox{Name: "late-1", Provider: "other", IMAP: Endpoint{Username: "late@seed.test", Password: "pw"}})
	r := w.runner(t, c, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		w.clk.BlockUntil(1) // the search is waiting for the next poll
		cancel()
	}()
	rd := r.Round(ctx)
	if s := findSeed(t, rd, "late-1"); s.Checked() || s.Stage != StageSearch {
		t.Errorf("cancelled: %+v", s)
	}
}

func verdictString(vs []Verdict) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, v.Method+"="+v.Result)
	}
	sortStrings(parts)
	return strings.Join(parts, " ")
}
