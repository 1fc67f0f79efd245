package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"
)

// maskAddresses returns text with the local part of every mail address
// replaced by "*" ("<*@example.com>"), cut to at most limit bytes (on a
// rune boundary, "…" marking the cut): reply texts quote recipients,
// which are personal data, and the domain is what a postmaster needs.
func maskAddresses(text []byte, limit int) string {
	var b strings.Builder
	b.Grow(min(len(text), limit) + 8)
	last := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			continue
		}
		j := i
		for j > last && localPartByte(text[j-1]) {
			j--
		}
		if j == i {
			continue
		}
		b.Write(text[last:j])
		b.WriteByte('*')
		last = i
	}
	b.Write(text[last:])
	s := b.String()
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// localPartByte reports whether c can be in an address's local part as
// logs show it (RFC 5322 atext and '.').
func localPartByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// rejectSample is an smtpd reject's reply text without the envelope
// Postfix appends ("; from=<...> to=<...> proto=... helo=<...>"), which
// repeats per message.
func rejectSample(text []byte) []byte {
	if i := bytes.Index(text, []byte("; from=<")); i >= 0 {
		return text[:i]
	}
	return text
}

// restrictionOf names the smtpd restriction that wrote a reject reply, as
// Postfix words it: "Recipient address rejected", "Relay access denied",
// "blocked using zen.spamhaus.org", ... Free text, so only in reports,
// never a label.
func restrictionOf(text []byte) string {
	t := rejectSample(text)
	if i := bytes.Index(t, []byte("blocked using ")); i >= 0 {
		z := t[i+len("blocked using "):]
		if j := bytes.IndexAny(z, ";, "); j >= 0 {
			z = z[:j]
		}
		return "blocked using " + string(z)
	}
	// "<addr>: Recipient address rejected: why" and "[addr]: Client host
	// rejected: why": the restriction follows the quoted object.
	if len(t) > 0 && (t[0] == '<' || t[0] == '[') {
		if i := bytes.Index(t, []byte(">: ")); i >= 0 && t[0] == '<' {
			t = t[i+3:]
		} else if i := bytes.Index(t, []byte("]: ")); i >= 0 && t[0] == '[' {
			t = t[i+3:]
		}
	}
	if i := bytes.IndexAny(t, ":;"); i >= 0 {
		t = t[:i]
	}
	t = bytes.TrimSpace(t)
	if len(t) == 0 {
		return "(none)"
	}
	return maskAddresses(t, 80)
}

// contentCheckOf names the content check of a cleanup reject line:
// header_checks, body_checks or a milter.
func contentCheckOf(line []byte) string {
	switch {
	case bytes.Contains(line, []byte(": milter-")):
		return "milter"
	case bytes.Contains(line, []byte(": header ")):
		return "header_checks"
	case bytes.Contains(line, []byte(": body ")):
		return "body_checks"
	}
	return "content check"
}

// addressMasker replaces an address's local part with a pseudonym, the
// same for the same address within one report and unrelated across
// reports (a random key per run), so a shared report shows "the same
// sender sent 300" without saying who.
type addressMasker struct{ key [32]byte }

func newAddressMasker() *addressMasker {
	m := &addressMasker{}
	_, _ = rand.Read(m.key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return m
}

func (m *addressMasker) mask(addr string) string {
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i:]
	}
	mac := hmac.New(sha256.New, m.key[:])
	mac.Write([]byte(strings.ToLower(local)))
	return "u-" + hex.EncodeToString(mac.Sum(nil)[:4]) + domain
}
