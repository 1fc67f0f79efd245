package seeds

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/emersion/go-message/mail"
)

// ProbeHeader carries the round token in every test message; a found
// message is confirmed by it, never by the subject alone.
const ProbeHeader = "X-Mailscope-Probe"

// templates are the parsed message templates.
type templates struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

// templateData is what the templates see.
type templateData struct {
	Token string
	Seed  string
	Date  string
}

func parseTemplates(m *MessageConfig) (*templates, error) {
	t := &templates{}
	var err error
	if t.subject, err = texttemplate.New("subject").Option("missingkey=error").Parse(m.Subject); err != nil {
		return nil, fmt.Errorf("subject is not a template: %w", err)
	}
	if m.Text != "" {
		if t.text, err = texttemplate.New("text").Option("missingkey=error").Parse(m.Text); err != nil {
			return nil, fmt.Errorf("text is not a template: %w", err)
		}
	}
	if m.HTML != "" {
		if t.html, err = htmltemplate.New("html").Option("missingkey=error").Parse(m.HTML); err != nil {
			return nil, fmt.Errorf("html is not a template: %w", err)
		}
	}
	return t, nil
}

// NewToken returns a fresh round token: one word of letters and digits,
// because Gmail's IMAP SEARCH matches whole words, and long enough never
// to occur in other mail.
func NewToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ms" + hex.EncodeToString(b[:])
}

// outgoing is one test message ready for submission.
type outgoing struct {
	seed      *SeedMailbox
	messageID string
	subject   string
	data      []byte
}

// buildMessage renders the test message for one seed: From (with the
// configured display name), To, Reply-To, the subject with the token, a
// unique Message-ID in the sender's domain, the probe header, the
// unsubscribe headers when configured, and a text, HTML or
// multipart/alternative body. The MTA adds DKIM as it does for all mail.
func buildMessage(cfg *Config, t *templates, seed *SeedMailbox, token string, now time.Time) (*outgoing, error) {
	data := templateData{Token: token, Seed: seed.Name, Date: now.Format(time.RFC1123Z)}
	var subj bytes.Buffer
	if err := t.subject.Execute(&subj, data); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	subject := strings.TrimSpace(subj.String())
	if !strings.Contains(subject, token) {
		subject += " " + token
	}
	var h mail.Header
	h.SetDate(now)
	h.SetAddressList("From", []*mail.Address{{Name: cfg.Message.FromName, Address: cfg.From}})
	h.SetAddressList("To", []*mail.Address{{Address: seed.Address}})
	if cfg.Message.ReplyTo != "" {
		a, err := mail.ParseAddress(cfg.Message.ReplyTo)
		if err != nil {
			return nil, fmt.Errorf("reply_to: %w", err)
		}
		h.SetAddressList("Reply-To", []*mail.Address{a})
	}
	h.SetSubject(subject)
	domain := cfg.From[strings.LastIndexByte(cfg.From, '@')+1:]
	id := fmt.Sprintf("%s.%s@%s", token, seed.Name, domain)
	h.SetMessageID(id)
	h.Set(ProbeHeader, token)
	if cfg.Message.ListUnsubscribe != "" {
		h.Set("List-Unsubscribe", cfg.Message.ListUnsubscribe)
		if cfg.Message.ListUnsubscribePost {
			h.Set("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
		}
	}
	for k, v := range cfg.Message.Headers {
		h.Set(k, v)
	}
	var text, html bytes.Buffer
	if t.text != nil {
		if err := t.text.Execute(&text, data); err != nil {
			return nil, fmt.Errorf("text: %w", err)
		}
	}
	if t.html != nil {
		if err := t.html.Execute(&html, data); err != nil {
			return nil, fmt.Errorf("html: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := writeBody(&buf, h, text.Bytes(), html.Bytes(), t.text != nil, t.html != nil); err != nil {
		return nil, err
	}
	return &outgoing{seed: seed, messageID: id, subject: subject, data: buf.Bytes()}, nil
}

// writeBody writes a single part when there is one format, else
// multipart/alternative with text first (clients show the last they can).
func writeBody(w io.Writer, h mail.Header, text, html []byte, hasText, hasHTML bool) error {
	if !hasText || !hasHTML {
		ct, body := "text/plain", text
		if hasHTML {
			ct, body = "text/html", html
		}
		h.SetContentType(ct, map[string]string{"charset": "utf-8"})
		pw, err := mail.CreateSingleInlineWriter(w, h)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		if _, err := pw.Write(body); err != nil {
			return fmt.Errorf("message: %w", err)
		}
		return pw.Close()
	}
	iw, err := mail.CreateInlineWriter(w, h)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	for _, p := range []struct {
		ct   string
		body []byte
	}{{"text/plain", text}, {"text/html", html}} {
		var ph mail.InlineHeader
		ph.SetContentType(p.ct, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return fmt.Errorf("message: %w", err)
		}
		if _, err := pw.Write(p.body); err != nil {
			return fmt.Errorf("message: %w", err)
		}
		if err := pw.Close(); err != nil {
			return fmt.Errorf("message: %w", err)
		}
	}
	return iw.Close()
}
