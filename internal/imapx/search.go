package imapx

import (
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Found is a message a search found and confirmed.
type Found struct {
	Mailbox      string
	UID          imap.UID
	InternalDate time.Time
	// Header is the raw header block (BODY.PEEK[HEADER]).
	Header []byte
}

// headerSection is fetched with PEEK, so \Seen stays unset and the seed
// mailbox stays "in a vacuum" (an opened message teaches the provider's
// filter that the seed reads this sender).
var headerSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}

// FindBySubject examines mailbox read-only and returns the messages whose
// subject holds token and that arrived since the given day, confirmed by
// confirm on their headers (a subject can be forged or quoted; the probe
// header cannot collide by chance). SEARCH HEADER is not used: Gmail and
// Yahoo answer it with nothing, and some servers match it exactly.
func (c *Conn) FindBySubject(mailbox string, since time.Time, token string, confirm func(header []byte) bool) ([]Found, error) {
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, fmt.Errorf("examine %q: %w", mailbox, err)
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: token}}}
	if !since.IsZero() {
		// SINCE compares dates without time in the server's zone: a day
		// early covers any zone.
		crit.Since = since.UTC().AddDate(0, 0, -1)
	}
	data, err := c.UIDSearch(crit, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search %q: %w", mailbox, err)
	}
	uids := data.AllUIDs()
	if len(uids) == 0 {
		return nil, nil
	}
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{headerSection}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch headers in %q: %w", mailbox, err)
	}
	var out []Found
	for _, m := range msgs {
		h := m.FindBodySection(headerSection)
		if confirm != nil && !confirm(h) {
			continue
		}
		out = append(out, Found{Mailbox: mailbox, UID: m.UID, InternalDate: m.InternalDate, Header: h})
	}
	return out, nil
}

// Delete removes a message for good: moved to trash when there is one,
// then flagged \Deleted and expunged there by UID. On Gmail, expunging
// from INBOX only drops the label (the message stays in All Mail), so the
// expunge must happen in [Gmail]/Trash; the same steps fit every server.
// Without UIDPLUS the moved message is found again in trash by token.
func (c *Conn) Delete(f Found, trash, token string) error {
	if _, err := c.Select(f.Mailbox, nil).Wait(); err != nil {
		return fmt.Errorf("select %q: %w", f.Mailbox, err)
	}
	set := imap.UIDSetNum(f.UID)
	if trash == "" || trash == f.Mailbox {
		return c.expungeHere(f.Mailbox, set)
	}
	md, err := c.Move(set, trash).Wait()
	if err != nil {
		return fmt.Errorf("move to %q: %w", trash, err)
	}
	if _, err := c.Select(trash, nil).Wait(); err != nil {
		return fmt.Errorf("select %q: %w", trash, err)
	}
	if md != nil && md.DestUIDs != nil {
		if dest, ok := md.DestUIDs.(imap.UIDSet); ok && len(dest) > 0 {
			return c.expungeHere(trash, dest)
		}
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: token}}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search %q: %w", trash, err)
	}
	if uids := data.AllUIDs(); len(uids) > 0 {
		return c.expungeHere(trash, imap.UIDSetNum(uids...))
	}
	return nil
}

// expungeHere flags the selected mailbox's messages \Deleted and expunges
// exactly them (UID EXPUNGE), or, without UIDPLUS, every \Deleted message
// of the folder, which in a dedicated seed mailbox's trash is ours.
func (c *Conn) expungeHere(mailbox string, set imap.UIDSet) error {
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return fmt.Errorf("flag deleted in %q: %w", mailbox, err)
	}
	var err error
	if c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2) {
		err = c.UIDExpunge(set).Close()
	} else {
		err = c.Expunge().Close()
	}
	if err != nil {
		return fmt.Errorf("expunge in %q: %w", mailbox, err)
	}
	return nil
}
