package reports

import (
	"bytes"
	"context"
	"fmt"

	"github.com/emersion/go-imap/v2"

	"github.com/mailscope/mailscope/collectors/reports/parse"
	"github.com/mailscope/mailscope/internal/imapx"
)

// ReadMailbox reads the reports in the mailbox of cfg read-only (EXAMINE,
// BODY.PEEK: nothing is claimed, moved or marked seen), at most
// max_files_per_scan of them, and calls fn for each with its name
// (imap:MAILBOX/UID), the report or its refusal. It is `mailscope report
// --imap`: a look at the mailbox the collector reads.
func ReadMailbox(ctx context.Context, cfg *Config, fn func(name string, rep *parse.Report, err error) error) error {
	if cfg.IMAP == nil {
		return fmt.Errorf("the reports section has no imap mailbox")
	}
	src, err := buildIMAP(*cfg.IMAP, nil, nil)
	if err != nil {
		return err
	}
	conn, err := imapx.Dial(ctx, src.opts)
	if err != nil {
		return err
	}
	defer conn.Logout()
	if err := conn.Login(ctx, src.auth); err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	mailbox := src.cfg.Mailbox
	if _, err := conn.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return fmt.Errorf("imap examine %q: %w", mailbox, err)
	}
	found, err := conn.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil {
		return fmt.Errorf("imap search %q: %w", mailbox, err)
	}
	uids := found.AllUIDs()
	if n := cfg.Limits.MaxFilesPerScan; len(uids) > n {
		uids = uids[:n]
	}
	lim := cfg.Limits.ParseLimits()
	section := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: lim.MaxInputBytes + 1}}
	for _, uid := range uids {
		name := fmt.Sprintf("imap:%s/%d", mailbox, uid)
		msgs, err := conn.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil || len(msgs) != 1 {
			return fmt.Errorf("imap fetch %s: %v", name, err)
		}
		body := msgs[0].FindBodySection(section)
		var rep *parse.Report
		if int64(len(body)) > lim.MaxInputBytes {
			err = &parse.Refusal{Reason: parse.ReasonOversized, Err: fmt.Errorf("message larger than %d bytes", lim.MaxInputBytes)}
		} else {
			rep, err = parse.Parse(bytes.NewReader(body), lim)
		}
		if err := fn(name, rep, err); err != nil {
			return err
		}
	}
	return nil
}
