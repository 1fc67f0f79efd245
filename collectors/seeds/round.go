package seeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mailscope/mailscope/internal/clock"
	"github.com/mailscope/mailscope/internal/imapx"
	"github.com/mailscope/mailscope/internal/links"
	"github.com/mailscope/mailscope/internal/mailclass"
	"github.com/mailscope/mailscope/internal/oauthtoken"
)

// Stages classify round errors (the stage label).
const (
	StageSubmit      = "submit"
	StageIMAPConnect = "imap_connect"
	StageIMAPAuth    = "imap_auth"
	StageSearch      = "search"
	StageCleanup     = "cleanup"
)

// Stages lists every stage, for metrics initialisation.
var Stages = []string{StageSubmit, StageIMAPConnect, StageIMAPAuth, StageSearch, StageCleanup}

// Folder label values.
const (
	FolderInbox   = "inbox"
	FolderTab     = "tab"
	FolderSpam    = "spam"
	FolderOther   = "other"
	FolderMissing = "missing"
)

// Folders lists every folder label value.
var Folders = []string{FolderInbox, FolderTab, FolderSpam, FolderOther, FolderMissing}

// SeedResult is what one round found for one seed.
type SeedResult struct {
	Name     string `json:"mailbox"`
	Provider string `json:"provider"`
	// Placement is inbox, tab:<category>, spam, other:<folder> or missing;
	// empty when the seed could not be checked (see Stage and Err).
	Placement string `json:"placement,omitempty"`
	// Folder is the placement's label value (inbox, tab, spam, other,
	// missing), empty when the seed could not be checked.
	Folder string `json:"folder,omitempty"`
	// FoundIn is the IMAP folder the message was in.
	FoundIn string `json:"found_in,omitempty"`
	// Category is the Gmail tab (primary, promotions, ...) when known.
	Category  string    `json:"category,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	SentAt    time.Time `json:"sent_at"`
	// Delivery is the send time to the provider's inbound Received
	// timestamp, else to INTERNALDATE; DeliveryInternal is always the
	// latter. Both are zero when not found; clock skew below zero is
	// clamped.
	Delivery         time.Duration `json:"delivery_ns,omitempty"`
	DeliveryInternal time.Duration `json:"delivery_internaldate_ns,omitempty"`
	Analysis
	Cleaned bool `json:"cleaned,omitempty"`
	// MTABounced is set on a missing seed whose message the sending MTA
	// logged as bounced or expired (when the mta collector runs): the
	// receiver refused it, rather than hiding it.
	MTABounced bool `json:"mta_bounced,omitempty"`
	// Stage and Err describe why the seed could not be checked, or what
	// failed after classification (cleanup).
	Stage string `json:"stage,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Checked reports whether the seed got a placement.
func (r *SeedResult) Checked() bool { return r.Folder != "" }

// Round is one round's outcome.
type Round struct {
	Token    string        `json:"token"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	// SubmitErr is set when the submission session failed (nothing sent).
	SubmitErr string       `json:"submit_error,omitempty"`
	Seeds     []SeedResult `json:"seeds"`
}

// Count returns how many seeds landed in folder.
func (r *Round) Count(folder string) int {
	n := 0
	for _, s := range r.Seeds {
		if s.Folder == folder {
			n++
		}
	}
	return n
}

// Failed returns how many seeds could not be checked.
func (r *Round) Failed() int {
	n := 0
	for _, s := range r.Seeds {
		if !s.Checked() {
			n++
		}
	}
	return n
}

// Summary is one line for the status page.
func (r *Round) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d seeds: %d inbox, %d tab, %d spam, %d other, %d missing, %d not checked",
		len(r.Seeds), r.Count(FolderInbox), r.Count(FolderTab), r.Count(FolderSpam), r.Count(FolderOther), r.Count(FolderMissing), r.Failed())
	if r.SubmitErr != "" {
		fmt.Fprintf(&b, "; submit: %s", r.SubmitErr)
	}
	for _, s := range r.Seeds {
		if !s.Checked() {
			fmt.Fprintf(&b, "; %s %s: %s", s.Name, s.Stage, s.Err)
		}
		if s.MTABounced {
			fmt.Fprintf(&b, "; %s missing: the MTA bounced it", s.Name)
		}
	}
	return b.String()
}

// Runner runs rounds for one validated config. The scheduled collector
// and the CLI use the same Runner.
type Runner struct {
	cfg    *Config
	tpl    *templates
	clk    clock.Clock
	log    *slog.Logger
	tracer trace.Tracer
	helo   string
	submit *oauthtoken.Source
	seeds  []*oauthtoken.Source
	// bounces learns which messages the MTA bounced; nil in the CLI.
	bounces *links.Bounces
	// submitSec and seedSec are the endpoints' secrets and CA bundles,
	// read from their files when the runner was built.
	submitSec endpointSecrets
	seedSec   []endpointSecrets
	// observe and failed feed the live metrics; nil in the CLI.
	observe func(*SeedResult)
	failed  func(provider, stage string)
}

// RunnerOptions are a Runner's collaborators.
type RunnerOptions struct {
	Clock  clock.Clock
	Logger *slog.Logger
	Tracer trace.Tracer
	// HTTPClient calls the OAuth token endpoints (default: a client with
	// the endpoint's timeout).
	HTTPClient *http.Client
	// Bounces is where the round watches its messages, so a missing seed
	// says whether the MTA bounced it (nil: it cannot say).
	Bounces *links.Bounces
}

// NewRunner builds rounds from a validated config: it fills in the
// defaults on a copy (the config is only read), reads the secret and CA
// files and parses the templates.
func NewRunner(cfg *Config, o RunnerOptions) (*Runner, error) {
	cfg = cfg.withDefaults()
	submitSec, seedSec, ps := cfg.resolve()
	if err := ps.Err(); err != nil {
		return nil, err
	}
	tpl, err := parseTemplates(&cfg.Message)
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("seeds")
	}
	helo, _ := os.Hostname()
	if helo == "" {
		helo = "localhost"
	}
	r := &Runner{cfg: cfg, tpl: tpl, clk: o.Clock, log: o.Logger, tracer: o.Tracer, helo: helo, bounces: o.Bounces,
		submitSec: submitSec, seedSec: seedSec}
	if oauthtoken.IsMethod(cfg.Submit.Auth) {
		r.submit = oauthtoken.NewSource(cfg.Submit.OAuth, submitSec.oauth, o.Clock, o.HTTPClient, cfg.Submit.Timeout)
	}
	r.seeds = make([]*oauthtoken.Source, len(cfg.Seeds))
	for i := range cfg.Seeds {
		if oauthtoken.IsMethod(cfg.Seeds[i].IMAP.Auth) {
			r.seeds[i] = oauthtoken.NewSource(cfg.Seeds[i].IMAP.OAuth, seedSec[i].oauth, o.Clock, o.HTTPClient, cfg.Seeds[i].IMAP.Timeout)
		}
	}
	return r, nil
}

// Round sends one message per seed and finds each, waiting up to the round
// timeout. It never returns nil; what failed is in the result.
func (r *Runner) Round(ctx context.Context) *Round {
	start := r.clk.Now()
	token := NewToken()
	ctx, span := r.tracer.Start(ctx, "seeds.round", trace.WithAttributes(
		attribute.String("seeds.token", token), attribute.Int("seeds.count", len(r.cfg.Seeds))))
	defer span.End()
	round := &Round{Token: token, Start: start, Seeds: make([]SeedResult, len(r.cfg.Seeds))}
	msgs := make([]*outgoing, 0, len(r.cfg.Seeds))
	for i := range r.cfg.Seeds {
		s := &r.cfg.Seeds[i]
		round.Seeds[i] = SeedResult{Name: s.Name, Provider: s.Provider}
		m, err := buildMessage(r.cfg, r.tpl, s, token, start)
		if err != nil {
			r.fail(&round.Seeds[i], StageSubmit, err)
			continue
		}
		round.Seeds[i].MessageID = m.messageID
		msgs = append(msgs, m)
		// Watched before it is sent, so a bounce the MTA logs at once is
		// not missed; forgotten when the round ends.
		h := mailclass.HashMessageID([]byte(mailclass.TrimMessageID(m.messageID)))
		r.bounces.Watch(h, start.Add(r.cfg.RoundTimeout+time.Hour))
		defer r.bounces.Forget(h)
	}
	sentAt := r.submitRound(ctx, round, msgs)
	deadline := start.Add(r.cfg.RoundTimeout)
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.cfg.Concurrency)
	for i := range r.cfg.Seeds {
		at, ok := sentAt[i]
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				r.fail(&round.Seeds[i], StageSearch, ctx.Err())
				return
			}
			defer func() { <-sem }()
			r.find(ctx, i, token, at, deadline, &round.Seeds[i])
		}()
	}
	wg.Wait()
	round.Duration = r.clk.Now().Sub(start)
	markBounced(round, r.bounces)
	r.traceMessages(round, span.SpanContext())
	for i := range round.Seeds {
		if r.observe != nil {
			r.observe(&round.Seeds[i])
		}
	}
	span.SetAttributes(attribute.Int("seeds.inbox", round.Count(FolderInbox)), attribute.Int("seeds.spam", round.Count(FolderSpam)),
		attribute.Int("seeds.missing", round.Count(FolderMissing)), attribute.Int("seeds.not_checked", round.Failed()))
	if round.Failed() > 0 {
		span.SetStatus(codes.Error, "some seeds could not be checked")
	}
	return round
}

// markBounced flags the missing seeds whose message the MTA bounced or
// expired, as the MTA log pipeline reported on the Bounces link.
func markBounced(rd *Round, bounces *links.Bounces) {
	for i := range rd.Seeds {
		s := &rd.Seeds[i]
		if s.Folder != FolderMissing || s.MessageID == "" {
			continue
		}
		s.MTABounced = bounces.Bounced(mailclass.HashMessageID([]byte(mailclass.TrimMessageID(s.MessageID))))
	}
}

// submitRound sends the messages and returns the send time of each seed
// whose message was accepted, by seed index.
func (r *Runner) submitRound(ctx context.Context, round *Round, msgs []*outgoing) map[int]time.Time {
	ctx, span := r.tracer.Start(ctx, "seeds.submit", trace.WithAttributes(
		attribute.String("server.address", r.cfg.Submit.Address), attribute.Int("seeds.messages", len(msgs))))
	defer span.End()
	out := map[int]time.Time{}
	if len(msgs) == 0 {
		return out
	}
	index := map[*SeedMailbox]int{}
	for i := range r.cfg.Seeds {
		index[&r.cfg.Seeds[i]] = i
	}
	res, err := submitAll(ctx, &r.cfg.Submit, &r.submitSec, r.submit, r.helo, r.cfg.From, msgs, r.clk.Now)
	if err != nil {
		round.SubmitErr = err.Error()
		span.RecordError(err)
		span.SetStatus(codes.Error, "submission failed")
		r.log.Warn("Could not submit the seed messages", "err", err, "server", r.cfg.Submit.Address)
		for _, m := range msgs {
			r.fail(&round.Seeds[index[m.seed]], StageSubmit, err)
		}
		return out
	}
	for k, m := range msgs {
		i := index[m.seed]
		if res[k].err != nil {
			r.log.Warn("The submission server refused a seed message", "err", res[k].err, "mailbox", m.seed.Name)
			r.fail(&round.Seeds[i], StageSubmit, res[k].err)
			continue
		}
		round.Seeds[i].SentAt = res[k].at
		out[i] = res[k].at
	}
	return out
}

// fail records why a seed could not be checked, and counts it.
func (r *Runner) fail(res *SeedResult, stage string, err error) {
	res.Stage, res.Err = stage, err.Error()
	if r.failed != nil {
		r.failed(res.Provider, stage)
	}
}

// imapOptions are the dial options of a seed's server.
func imapOptions(e *Endpoint, sec *endpointSecrets) (imapx.Options, error) {
	tc, err := e.tlsConfig(sec)
	if err != nil {
		return imapx.Options{}, err
	}
	return imapx.Options{Address: e.Address, Security: imapx.Security(e.Security), TLSConfig: tc, Timeout: e.Timeout}, nil
}

func (r *Runner) imapAuth(i int) imapx.Auth {
	e := &r.cfg.Seeds[i].IMAP
	a := imapx.Auth{Method: e.Auth, Username: e.Username, Password: r.seedSec[i].password.Reveal()}
	if ts := r.seeds[i]; ts != nil {
		a.Token = ts.Token
	}
	return a
}

// trusted returns the authserv-ids to believe for a seed.
func trusted(s *SeedMailbox) []string {
	if len(s.AuthservIDs) > 0 {
		return s.AuthservIDs
	}
	return defaultAuthservIDs[s.Provider]
}

// errorStage is a failure at one stage of a seed's search.
type errorStage struct {
	stage string
	err   error
}

func (e *errorStage) Error() string { return e.stage + ": " + e.err.Error() }
func (e *errorStage) Unwrap() error { return e.err }

func stageOf(err error, def string) string {
	var es *errorStage
	if errors.As(err, &es) {
		return es.stage
	}
	return def
}
