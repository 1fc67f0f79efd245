package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/imapx"
)

// scanMailbox claims, reads and files the reports in the mailbox. A
// report is claimed by moving it into the processing folder. A server may
// carry out two agents' moves of one message (Dovecot does: the second
// session still sees the message and copies it), so a claim is confirmed
// (firstCopy): of the copies of one Message-ID, only the one with the
// lowest UID in the processing folder is read, and none when a copy is
// already in the done or invalid folder; the others are deleted. The
// claimed messages are fetched (at most max_input_bytes of each), counted
// and moved to the done folder, or to the invalid folder when refused. A
// message the mailbox failed on after the claim (a dropped connection) is
// tried again by the next scan of this agent: read, or only filed when it
// was counted already. A crash between the claim and the filing leaves the
// message in the processing folder; it is not read again automatically by
// another agent (that could count it twice) and is logged on the next
// scans. It runs without c.mu: only
// counting a report takes it.
func (c *Collector) scanMailbox(ctx context.Context) error {
	src := c.imap
	conn, err := imapx.Dial(ctx, src.opts)
	if err != nil {
		c.m.mailboxErrors.WithLabelValues("connect").Inc()
		return fmt.Errorf("reports: %w", err)
	}
	defer conn.Logout()
	if err := conn.Login(ctx, src.auth); err != nil {
		c.m.mailboxErrors.WithLabelValues("login").Inc()
		return fmt.Errorf("reports: imap: %w", err)
	}
	cfg := src.cfg
	for _, f := range []string{cfg.ProcessingFolder, cfg.DoneFolder, cfg.InvalidFolder} {
		// Already there is the usual answer; a real failure shows at
		// the move into it.
		_ = conn.Create(f, nil).Wait()
	}
	sel, err := conn.Select(cfg.Mailbox, nil).Wait()
	if err != nil {
		c.m.mailboxErrors.WithLabelValues("select").Inc()
		return fmt.Errorf("reports: imap select %q: %w", cfg.Mailbox, err)
	}
	if sel.NumMessages == 0 && len(c.retry) == 0 {
		return c.noteLeftInProcessing(conn)
	}
	var uids []imap.UID
	if sel.NumMessages > 0 {
		found, err := conn.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			c.m.mailboxErrors.WithLabelValues("search").Inc()
			return fmt.Errorf("reports: imap search %q: %w", cfg.Mailbox, err)
		}
		uids = found.AllUIDs()
	}
	if n := c.cfg.Limits.MaxFilesPerScan; len(uids) > n {
		uids = uids[:n]
	}
	var claimed []imap.UID
	for _, uid := range uids {
		if ctx.Err() != nil {
			break
		}
		moved, err := conn.Move(imap.UIDSetNum(uid), cfg.ProcessingFolder).Wait()
		var ierr *imap.Error
		if errors.As(err, &ierr) && ierr.Code == responseCodeExpungeIssued {
			continue // another agent claimed it first
		}
		if err != nil {
			c.m.mailboxErrors.WithLabelValues("claim").Inc()
			c.s.Logger.Warn("reports: imap claim failed", "mailbox", cfg.Mailbox, "err", err)
			continue
		}
		if moved == nil {
			continue
		}
		if dest, ok := moved.DestUIDs.(imap.UIDSet); ok {
			if got, ok := dest.Nums(); ok {
				claimed = append(claimed, got...)
			}
		}
	}
	if len(claimed) == 0 && len(c.retry) == 0 {
		return nil
	}
	proc, err := conn.Select(cfg.ProcessingFolder, nil).Wait()
	if err != nil {
		c.m.mailboxErrors.WithLabelValues("select").Inc()
		return fmt.Errorf("reports: imap select %q: %w", cfg.ProcessingFolder, err)
	}
	// The messages an earlier scan failed on: read them again, or file
	// them when they were counted already; the UIDs hold only while the
	// folder's UIDVALIDITY does.
	retry := c.retry
	c.retry = nil
	if c.retryValidity != proc.UIDValidity {
		retry = nil
	}
	c.retryValidity = proc.UIDValidity
	for uid, dest := range retry {
		if dest == "" {
			claimed = append(claimed, uid)
		} else {
			c.file(conn, uid, dest)
		}
	}
	max := c.lim.MaxInputBytes
	section := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: max + 1}}
	for _, uid := range claimed {
		first, err := c.firstCopy(conn, uid)
		if errors.Is(err, errMessageGone) {
			c.s.Logger.Debug("reports: a message to read again is no longer in the processing folder", "uid", uint32(uid))
			continue
		}
		if err != nil {
			c.m.mailboxErrors.WithLabelValues("claim").Inc()
			c.s.Logger.Warn("reports: imap claim check failed; the next scan tries the message again", "uid", uint32(uid), "err", err)
			c.retryLater(uid, "")
			continue
		}
		if !first {
			c.s.Logger.Debug("reports: another agent claimed this message too and reads it; our copy is deleted", "uid", uint32(uid))
			continue
		}
		msgs, err := conn.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil || len(msgs) != 1 {
			c.m.mailboxErrors.WithLabelValues("fetch").Inc()
			c.s.Logger.Warn("reports: imap fetch failed; the next scan tries the message again", "folder", cfg.ProcessingFolder, "uid", uint32(uid), "err", err)
			c.retryLater(uid, "")
			continue
		}
		body := msgs[0].FindBodySection(section)
		var rep *parse.Report
		if int64(len(body)) > max {
			err = &parse.Refusal{Reason: parse.ReasonOversized, Err: fmt.Errorf("message larger than %d bytes", max)}
		} else {
			rep, err = parse.Parse(bytes.NewReader(body), c.lim)
		}
		c.ingest(ctx, rep, err, "imap", "")
		dest := cfg.DoneFolder
		if err != nil {
			dest = cfg.InvalidFolder
		}
		c.file(conn, uid, dest)
	}
	return nil
}

// maxRetry bounds the messages kept for the next scan to try again.
const maxRetry = 1000

// retryLater keeps uid (in the processing folder) for the next scan: to
// read (dest "") or to move to dest.
func (c *Collector) retryLater(uid imap.UID, dest string) {
	if c.retry == nil {
		c.retry = map[imap.UID]string{}
	}
	if len(c.retry) < maxRetry {
		c.retry[uid] = dest
	}
}

// file moves a read message from the processing folder to dest; when the
// mailbox fails, the next scan tries the move again (the report is
// counted already, so it is not read again).
func (c *Collector) file(conn *imapx.Conn, uid imap.UID, dest string) {
	if _, err := conn.Move(imap.UIDSetNum(uid), dest).Wait(); err != nil {
		c.m.mailboxErrors.WithLabelValues("file").Inc()
		c.s.Logger.Warn("reports: imap move failed; the next scan tries it again", "folder", dest, "uid", uint32(uid), "err", err)
		c.retryLater(uid, dest)
	}
}

// errMessageGone: a message to read again is no longer in the processing
// folder (a person or another tool moved it).
var errMessageGone = errors.New("message no longer in the processing folder")

// noteLeftInProcessing logs messages a crash left claimed but unfiled.
func (c *Collector) noteLeftInProcessing(conn *imapx.Conn) error {
	st, err := conn.Status(c.imap.cfg.ProcessingFolder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err == nil && st.NumMessages != nil && *st.NumMessages > 0 && !c.warnedProcessing {
		c.warnedProcessing = true
		c.s.Logger.Warn("reports: messages left in the processing folder (an agent stopped between claiming and filing them); move them back to the mailbox to read them again",
			"folder", c.imap.cfg.ProcessingFolder, "messages", *st.NumMessages)
	}
	return nil
}

var messageIDSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-Id"}, Peek: true}

// firstCopy says whether the claimed message uid (in the processing
// folder, which is selected) is the copy to read, and deletes it when
// not. The order of the checks closes the race with another agent filing
// its copy: a move copies into the done folder before it removes from the
// processing folder, so a copy is always in one of the two when looked
// for first in processing, then in done. A message without a Message-ID
// cannot be told from another and is read.
func (c *Collector) firstCopy(conn *imapx.Conn, uid imap.UID) (bool, error) {
	cfg := c.imap.cfg
	msgs, err := conn.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{messageIDSection}}).Collect()
	if err == nil && len(msgs) == 0 {
		return false, errMessageGone
	}
	if err != nil || len(msgs) != 1 {
		return false, fmt.Errorf("fetch Message-ID: %v", err)
	}
	id := headerValue(msgs[0].FindBodySection(messageIDSection))
	if id == "" {
		return true, nil
	}
	crit := &imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-Id", Value: id}}}
	found, err := conn.UIDSearch(crit, nil).Wait()
	if err != nil {
		return false, fmt.Errorf("search %q: %w", cfg.ProcessingFolder, err)
	}
	first := true
	for _, u := range found.AllUIDs() {
		first = first && u >= uid
	}
	for _, folder := range []string{cfg.DoneFolder, cfg.InvalidFolder} {
		if !first {
			break
		}
		if _, err := conn.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return false, fmt.Errorf("examine %q: %w", folder, err)
		}
		found, err := conn.UIDSearch(crit, nil).Wait()
		if err != nil {
			return false, fmt.Errorf("search %q: %w", folder, err)
		}
		first = len(found.AllUIDs()) == 0
	}
	if _, err := conn.Select(cfg.ProcessingFolder, nil).Wait(); err != nil {
		return false, fmt.Errorf("select %q: %w", cfg.ProcessingFolder, err)
	}
	if first {
		return true, nil
	}
	// Another agent reads (or read) this message: drop our copy.
	if err := conn.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return false, fmt.Errorf("delete the second copy: %w", err)
	}
	if err := conn.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
		return false, fmt.Errorf("expunge the second copy: %w", err)
	}
	return false, nil
}

// headerValue returns the value of the one header field in a
// HEADER.FIELDS fetch, unfolded and trimmed.
func headerValue(b []byte) string {
	_, v, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return ""
	}
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	return string(bytes.TrimSpace(bytes.ReplaceAll(v, []byte("\n"), nil)))
}

// responseCodeExpungeIssued (RFC 9051 section 7.1) answers a move of a
// message another session expunged: another agent claimed it first.
const responseCodeExpungeIssued imap.ResponseCode = "EXPUNGEISSUED"
