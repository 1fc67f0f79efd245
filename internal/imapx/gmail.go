package imapx

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// GmailExtension is the capability Gmail advertises for X-GM-RAW and its
// other IMAP extensions.
const GmailExtension = "X-GM-EXT-1"

// GmailCategories are Gmail's inbox tabs, in the order they are asked
// about. "primary" is Gmail's name for the default tab.
var GmailCategories = []string{"primary", "promotions", "social", "updates", "forums"}

// HasGmailExtension reports whether the server speaks Gmail's extensions.
func (c *Conn) HasGmailExtension() bool {
	return c.Caps().Has(imap.Cap(GmailExtension))
}

// GmailCategory finds the inbox tab of the INBOX message with the given
// UID by asking `UID SEARCH UID n X-GM-RAW "category:c"` for each tab.
// X-GM-LABELS omits the tabs and go-imap can neither express X-GM-RAW nor
// send a raw command, so this opens a second, minimal IMAP connection for
// exactly these commands: same encryption and credentials, EXAMINE INBOX
// (read-only), the searches, LOGOUT. It returns "" when no tab matches.
func GmailCategory(ctx context.Context, o Options, a Auth, uid imap.UID) (string, error) {
	raw, err := dialRaw(ctx, o)
	if err != nil {
		return "", err
	}
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	defer raw.Close()
	s := &rawSession{r: bufio.NewReader(raw), w: raw}
	if _, err := s.readLine(); err != nil { // greeting
		return "", fmt.Errorf("gmail side channel: greeting: %w", ctxErr(ctx, err))
	}
	if o.Security == StartTLS {
		if _, err := s.command("STARTTLS"); err != nil {
			return "", fmt.Errorf("gmail side channel: %w", ctxErr(ctx, err))
		}
		tc := tls.Client(raw, tlsConfig(o))
		if err := tc.HandshakeContext(ctx); err != nil {
			return "", fmt.Errorf("gmail side channel: tls: %w", ctxErr(ctx, err))
		}
		// Closing raw on cancellation also ends the TLS layer above it.
		s = &rawSession{r: bufio.NewReader(tc), w: tc}
	}
	caps, err := s.command("CAPABILITY")
	if err != nil {
		return "", fmt.Errorf("gmail side channel: %w", ctxErr(ctx, err))
	}
	if err := s.authenticate(ctx, a, hasCap(caps, "SASL-IR")); err != nil {
		return "", fmt.Errorf("gmail side channel: %w", ctxErr(ctx, err))
	}
	if _, err := s.command("EXAMINE INBOX"); err != nil {
		return "", fmt.Errorf("gmail side channel: %w", ctxErr(ctx, err))
	}
	found := ""
	for _, cat := range GmailCategories {
		lines, err := s.command(fmt.Sprintf(`UID SEARCH UID %d X-GM-RAW "category:%s"`, uid, cat))
		if err != nil {
			return "", fmt.Errorf("gmail side channel: %w", ctxErr(ctx, err))
		}
		if searchHas(lines, uint32(uid)) {
			found = cat
			break
		}
	}
	_, _ = s.command("LOGOUT")
	return found, nil
}

// rawSession speaks just enough IMAP for GmailCategory: tagged commands,
// untagged lines (literals skipped), continuation requests for SASL.
type rawSession struct {
	r   *bufio.Reader
	w   io.Writer
	tag int
}

// readLine reads one response line, consuming any literal it announces
// ({n} at the end) so the next read starts at a line boundary.
func (s *rawSession) readLine() (string, error) {
	var b strings.Builder
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		b.WriteString(line)
		n, ok := literalSize(line)
		if !ok {
			return b.String(), nil
		}
		if _, err := io.CopyN(io.Discard, s.r, n); err != nil {
			return "", err
		}
	}
}

func literalSize(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	return n, err == nil
}

// command sends one command and returns its untagged lines; a NO or BAD
// is an error carrying the server's text.
func (s *rawSession) command(cmd string) ([]string, error) {
	tag := s.next()
	if _, err := fmt.Fprintf(s.w, "%s %s\r\n", tag, cmd); err != nil {
		return nil, err
	}
	return s.finish(tag, strings.Fields(cmd)[0], nil)
}

func (s *rawSession) next() string {
	s.tag++
	return "g" + strconv.Itoa(s.tag)
}

// finish reads until the tagged response; cont answers continuation
// requests (nil: none expected).
func (s *rawSession) finish(tag, name string, cont func(challenge []byte) ([]byte, error)) ([]string, error) {
	var untagged []string
	for {
		line, err := s.readLine()
		if err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(line, "* "):
			untagged = append(untagged, line[2:])
		case strings.HasPrefix(line, "+"):
			if cont == nil {
				return nil, fmt.Errorf("%s: unexpected continuation request", name)
			}
			ch, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(line, "+")))
			resp, cerr := cont(ch)
			if cerr != nil {
				// Abort the exchange; the server answers the tag with BAD.
				fmt.Fprint(s.w, "*\r\n")
				if _, err := s.finish(tag, name, nil); err != nil {
					return nil, fmt.Errorf("%w (%v)", cerr, err)
				}
				return nil, cerr
			}
			if _, err := fmt.Fprintf(s.w, "%s\r\n", base64.StdEncoding.EncodeToString(resp)); err != nil {
				return nil, err
			}
		case strings.HasPrefix(line, tag+" "):
			rest := line[len(tag)+1:]
			if strings.HasPrefix(strings.ToUpper(rest), "OK") {
				return untagged, nil
			}
			return nil, fmt.Errorf("%s: %s", name, rest)
		}
	}
}

// authenticate logs in with AUTHENTICATE for every method (PLAIN for
// passwords), so no password is ever quoted into a command line; the
// initial response goes inline (SASL-IR, which Gmail supports), else after
// the first continuation.
func (s *rawSession) authenticate(ctx context.Context, a Auth, saslIR bool) error {
	if a.Method == "login" || a.Method == "" {
		a.Method = "plain"
	}
	sc, err := SASLClient(ctx, a)
	if err != nil {
		return err
	}
	mech, ir, err := sc.Start()
	if err != nil {
		return err
	}
	tag := s.next()
	next := sc.Next
	if saslIR {
		_, err = fmt.Fprintf(s.w, "%s AUTHENTICATE %s %s\r\n", tag, mech, encodeIR(ir))
	} else {
		_, err = fmt.Fprintf(s.w, "%s AUTHENTICATE %s\r\n", tag, mech)
		// The first continuation asks for the initial response.
		first := true
		next = func(ch []byte) ([]byte, error) {
			if first {
				first = false
				return ir, nil
			}
			return sc.Next(ch)
		}
	}
	if err != nil {
		return err
	}
	_, err = s.finish(tag, "AUTHENTICATE", next)
	if err != nil {
		return fmt.Errorf("login as %s (%s): %w", a.Username, a.Method, err)
	}
	return nil
}

func encodeIR(ir []byte) string {
	if len(ir) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(ir)
}

// hasCap reports whether a CAPABILITY response lists name.
func hasCap(untagged []string, name string) bool {
	for _, l := range untagged {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.EqualFold(f[0], "CAPABILITY") {
			continue
		}
		for _, x := range f[1:] {
			if strings.EqualFold(x, name) {
				return true
			}
		}
	}
	return false
}

// searchHas reports whether a SEARCH response lists n.
func searchHas(untagged []string, n uint32) bool {
	want := strconv.FormatUint(uint64(n), 10)
	for _, l := range untagged {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.EqualFold(f[0], "SEARCH") {
			continue
		}
		for _, x := range f[1:] {
			if x == want {
				return true
			}
		}
	}
	return false
}
