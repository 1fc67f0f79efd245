package imapx

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// JunkFallbacks are the spam folder names tried, in order, when no folder
// carries the RFC 6154 \Junk attribute: Gmail (also localized as Google
// Mail), Microsoft (Junk Email), Yahoo and AOL (Bulk, Bulk Mail), then the
// common names.
var JunkFallbacks = []string{"[Gmail]/Spam", "[Google Mail]/Spam", "Junk Email", "Junk E-mail", "Bulk Mail", "Bulk", "Junk", "Spam"}

// TrashFallbacks are the trash folder names tried when no folder carries
// \Trash.
var TrashFallbacks = []string{"[Gmail]/Trash", "[Google Mail]/Trash", "[Gmail]/Bin", "[Google Mail]/Bin", "Deleted Items", "Deleted Messages", "Trash"}

// Folders are the mailbox names a seed search needs.
type Folders struct {
	// Junk is the spam folder, "" when the mailbox has none.
	Junk string
	// Trash is where cleanup moves messages, "" when there is none.
	Trash string
	// Names is every selectable folder, as listed.
	Names []string
}

// Has reports whether name is a listed folder (INBOX in any case).
func (f Folders) Has(name string) bool {
	for _, n := range f.Names {
		if n == name || strings.EqualFold(n, "INBOX") && strings.EqualFold(name, "INBOX") {
			return true
		}
	}
	return false
}

// ResolveFolders lists the mailbox and picks the spam and trash folders:
// the RFC 6154 attribute first, then extraJunk (localized names the user
// configured), then the provider fallbacks.
//
// The first LIST asks for nothing special: Gmail puts special-use
// attributes on every LIST but rejects LIST ... RETURN (SPECIAL-USE). Only
// when that LIST shows no \Junk and the server advertises SPECIAL-USE does
// a second LIST select the special-use folders, for servers that show the
// attributes only when asked.
func (c *Conn) ResolveFolders(extraJunk, extraTrash []string) (Folders, error) {
	all, err := c.List("", "*", nil).Collect()
	if err != nil {
		return Folders{}, fmt.Errorf("list folders: %w", err)
	}
	var f Folders
	attrs := map[string][]imap.MailboxAttr{}
	for _, d := range all {
		if hasAttr(d.Attrs, imap.MailboxAttrNoSelect) || hasAttr(d.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		f.Names = append(f.Names, d.Mailbox)
		attrs[d.Mailbox] = d.Attrs
	}
	junk, trash := byAttr(attrs, imap.MailboxAttrJunk), byAttr(attrs, imap.MailboxAttrTrash)
	if (junk == "" || trash == "") && c.Caps().Has(imap.CapSpecialUse) {
		special, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true}).Collect()
		if err == nil {
			su := map[string][]imap.MailboxAttr{}
			for _, d := range special {
				su[d.Mailbox] = d.Attrs
			}
			if junk == "" {
				junk = byAttr(su, imap.MailboxAttrJunk)
			}
			if trash == "" {
				trash = byAttr(su, imap.MailboxAttrTrash)
			}
		}
	}
	if junk == "" {
		junk = byName(f.Names, append(append([]string(nil), extraJunk...), JunkFallbacks...))
	}
	if trash == "" {
		trash = byName(f.Names, append(append([]string(nil), extraTrash...), TrashFallbacks...))
	}
	f.Junk, f.Trash = junk, trash
	return f, nil
}

func hasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	for _, a := range attrs {
		if strings.EqualFold(string(a), string(want)) {
			return true
		}
	}
	return false
}

// byAttr returns the first folder (in name order, for a stable answer)
// carrying want.
func byAttr(attrs map[string][]imap.MailboxAttr, want imap.MailboxAttr) string {
	best := ""
	for name, as := range attrs {
		if hasAttr(as, want) && (best == "" || name < best) {
			best = name
		}
	}
	return best
}

// byName returns the first candidate that is a listed folder, compared
// without case, also under an INBOX parent ("INBOX.Junk", "INBOX/Spam") as
// Courier-style servers name them.
func byName(names, candidates []string) string {
	for _, cand := range candidates {
		for _, n := range names {
			if strings.EqualFold(n, cand) {
				return n
			}
		}
		for _, n := range names {
			if len(n) > 6 && strings.EqualFold(n[:5], "INBOX") && (n[5] == '.' || n[5] == '/') && strings.EqualFold(n[6:], cand) {
				return n
			}
		}
	}
	return ""
}
