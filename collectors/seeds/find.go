package seeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailscope/mailscope/internal/imapx"
)

// find polls seed i's mailbox until the message with token turns up or
// the deadline passes, then classifies it, reads its headers and cleans
// it up. One IMAP connection serves the whole search; a broken one is
// reopened at the next poll. Each failing stage is counted once per round
// so an unreachable server does not count once per poll.
func (r *Runner) find(ctx context.Context, i int, token string, sentAt, deadline time.Time, res *SeedResult) {
	seed := &r.cfg.Seeds[i]
	ctx, span := r.tracer.Start(ctx, "seeds.search", trace.WithAttributes(
		attribute.String("seeds.mailbox", seed.Name), attribute.String("seeds.provider", seed.Provider),
		attribute.String("server.address", seed.IMAP.Address)))
	defer span.End()
	log := r.log.With("mailbox", seed.Name, "provider", seed.Provider)
	var (
		conn     *imapx.Conn
		folders  imapx.Folders
		searched bool
		lastErr  error
		counted  = map[string]bool{}
		polls    int
	)
	defer func() {
		if conn != nil {
			_ = conn.Logout()
		}
	}()
	failOnce := func(err error, def string) {
		stage := stageOf(err, def)
		lastErr = &errorStage{stage: stage, err: unwrapStage(err)}
		if !counted[stage] {
			counted[stage] = true
			if r.failed != nil {
				r.failed(seed.Provider, stage)
			}
			log.Warn("Seed search failed; retrying at the next poll", "stage", stage, "err", unwrapStage(err))
		}
	}
	for {
		polls++
		if conn == nil {
			var err error
			conn, folders, err = r.open(ctx, i)
			if err != nil {
				failOnce(err, StageIMAPConnect)
			}
		}
		if conn != nil {
			f, err := r.search(conn, folders, seed, token, sentAt)
			switch {
			case err != nil:
				failOnce(err, StageSearch)
				_ = conn.Close()
				conn = nil
			case f != nil:
				r.classify(ctx, i, conn, folders, f, token, sentAt, res, log)
				span.SetAttributes(attribute.String("seeds.placement", res.Placement), attribute.Float64("seeds.delivery_seconds", res.Delivery.Seconds()),
					attribute.Int("seeds.polls", polls))
				return
			default:
				searched = true
			}
		}
		now := r.clk.Now()
		if !now.Before(deadline) || ctx.Err() != nil {
			break
		}
		wait := min(r.cfg.PollInterval, deadline.Sub(now))
		select {
		case <-ctx.Done():
		case <-r.clk.After(wait):
		}
	}
	span.SetAttributes(attribute.Int("seeds.polls", polls))
	if !searched && lastErr != nil {
		// Never looked: not missing, but not checked.
		res.Stage, res.Err = stageOf(lastErr, StageSearch), unwrapStage(lastErr).Error()
		span.RecordError(lastErr)
		span.SetStatus(codes.Error, "seed not checked")
		return
	}
	if ctx.Err() != nil && r.clk.Now().Before(deadline) {
		// Cancelled (agent stopping, interval over): not a verdict.
		res.Stage, res.Err = StageSearch, ctx.Err().Error()
		return
	}
	res.Placement, res.Folder = FolderMissing, FolderMissing
	span.SetAttributes(attribute.String("seeds.placement", FolderMissing))
	log.Info("Seed message missing at the end of the round", "token", token)
}

func unwrapStage(err error) error {
	var es *errorStage
	if errors.As(err, &es) {
		return es.err
	}
	return err
}

// open connects, logs in and resolves the folders.
func (r *Runner) open(ctx context.Context, i int) (*imapx.Conn, imapx.Folders, error) {
	seed := &r.cfg.Seeds[i]
	opts, err := imapOptions(&seed.IMAP, &r.seedSec[i])
	if err != nil {
		return nil, imapx.Folders{}, &errorStage{StageIMAPConnect, err}
	}
	conn, err := imapx.Dial(ctx, opts)
	if err != nil {
		return nil, imapx.Folders{}, &errorStage{StageIMAPConnect, err}
	}
	if err := conn.Login(ctx, r.imapAuth(i)); err != nil {
		_ = conn.Close()
		return nil, imapx.Folders{}, &errorStage{StageIMAPAuth, err}
	}
	folders, err := conn.ResolveFolders(seed.SpamFolders, nil)
	if err != nil {
		_ = conn.Close()
		return nil, imapx.Folders{}, &errorStage{StageSearch, err}
	}
	if seed.TrashFolder != "" {
		folders.Trash = seed.TrashFolder
	}
	return conn, folders, nil
}

// search looks in INBOX, then the spam folder, then the extra folders,
// and returns the first confirmed message.
func (r *Runner) search(conn *imapx.Conn, folders imapx.Folders, seed *SeedMailbox, token string, sentAt time.Time) (*imapx.Found, error) {
	confirm := func(h []byte) bool {
		hh := readHeader(h)
		return hh.Get(ProbeHeader) == token
	}
	order := []string{"INBOX"}
	if folders.Junk != "" {
		order = append(order, folders.Junk)
	}
	for _, f := range seed.Folders {
		if folders.Has(f) {
			order = append(order, f)
		}
	}
	for _, mbox := range order {
		found, err := conn.FindBySubject(mbox, sentAt, token, confirm)
		if err != nil {
			return nil, &errorStage{StageSearch, err}
		}
		if len(found) > 0 {
			return &found[0], nil
		}
	}
	return nil, nil
}

// classify fills in the placement, the Gmail tab, the header analysis and
// the delivery times, then deletes the message unless asked to keep it.
func (r *Runner) classify(ctx context.Context, i int, conn *imapx.Conn, folders imapx.Folders, f *imapx.Found, token string, sentAt time.Time, res *SeedResult, log *slog.Logger) {
	seed := &r.cfg.Seeds[i]
	res.FoundIn = f.Mailbox
	switch {
	case f.Mailbox == "INBOX":
		res.Placement, res.Folder = FolderInbox, FolderInbox
		if conn.HasGmailExtension() {
			r.gmailTab(ctx, i, f, res, log)
		}
	case f.Mailbox == folders.Junk:
		res.Placement, res.Folder = FolderSpam, FolderSpam
	default:
		res.Placement, res.Folder = "other:"+f.Mailbox, FolderOther
	}
	res.Analysis = Analyze(f.Header, trusted(seed))
	if !f.InternalDate.IsZero() {
		res.DeliveryInternal = max(f.InternalDate.Sub(sentAt), 0)
	}
	if !res.ReceivedAt.IsZero() {
		res.Delivery = max(res.ReceivedAt.Sub(sentAt), 0)
	} else {
		res.Delivery = res.DeliveryInternal
	}
	log.Info("Seed message found", "placement", res.Placement, "delivery_seconds", res.Delivery.Seconds(), "sending_ip", res.SendingIP)
	if r.cfg.KeepMessages {
		return
	}
	if err := conn.Delete(*f, folders.Trash, token); err != nil {
		res.Stage, res.Err = StageCleanup, err.Error()
		if r.failed != nil {
			r.failed(seed.Provider, StageCleanup)
		}
		log.Warn("Could not delete the seed message", "err", err, "folder", f.Mailbox)
		return
	}
	res.Cleaned = true
}

// gmailTab asks Gmail which inbox tab the message is in, over the
// X-GM-RAW side channel; Primary stays "inbox", another tab becomes
// tab:<category>. A failure leaves the placement at inbox and is counted
// as a search error.
func (r *Runner) gmailTab(ctx context.Context, i int, f *imapx.Found, res *SeedResult, log *slog.Logger) {
	seed := &r.cfg.Seeds[i]
	opts, err := imapOptions(&seed.IMAP, &r.seedSec[i])
	if err == nil {
		var cat string
		cat, err = imapx.GmailCategory(ctx, opts, r.imapAuth(i), f.UID)
		if err == nil {
			res.Category = cat
			if cat != "" && cat != "primary" {
				res.Placement, res.Folder = "tab:"+cat, FolderTab
			}
			return
		}
	}
	if r.failed != nil {
		r.failed(seed.Provider, StageSearch)
	}
	log.Warn("Could not read the Gmail category tab", "err", fmt.Errorf("x-gm-raw: %w", err))
}
