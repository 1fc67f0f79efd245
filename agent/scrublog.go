package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync/atomic"

	"github.com/mailscope/mailscope/internal/config"
)

// scrubHandler removes the configured secret values from every log record
// (message, string attributes, errors and Stringers), so a peer that
// echoes a credential (an IMAP NO, an OAuth error body, an OTLP
// collector's answer) cannot put it in the log. The scrubber follows
// reloads.
type scrubHandler struct {
	inner slog.Handler
	sc    *atomic.Pointer[config.Scrubber]
}

func (h *scrubHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *scrubHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := h.sc.Load()
	out := slog.NewRecord(r.Time, r.Level, sc.Scrub(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(scrubAttr(sc, a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h *scrubHandler) WithAttrs(as []slog.Attr) slog.Handler {
	sc := h.sc.Load()
	scrubbed := make([]slog.Attr, len(as))
	for i, a := range as {
		scrubbed[i] = scrubAttr(sc, a)
	}
	return &scrubHandler{inner: h.inner.WithAttrs(scrubbed), sc: h.sc}
}

func (h *scrubHandler) WithGroup(name string) slog.Handler {
	return &scrubHandler{inner: h.inner.WithGroup(name), sc: h.sc}
}

func scrubAttr(sc *config.Scrubber, a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, sc.Scrub(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = scrubAttr(sc, ga)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			return slog.Attr{Key: a.Key, Value: v}
		}
		if s := sc.Scrub(text); s != text {
			if _, isErr := v.Any().(error); isErr {
				return slog.Any(a.Key, errors.New(s))
			}
			return slog.String(a.Key, s)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// secretsOf lists every secret value of a config: tracing headers and
// each collector section's secrets, inline (or from ${ENV}) and in the
// files their *_file twins name.
func secretsOf(cfg *Config) []string {
	vals := config.SecretValues(cfg.Tracing)
	for _, s := range cfg.Sections {
		vals = append(vals, config.SecretValues(s.Config)...)
		walkFileKeys(reflect.ValueOf(s.Config), func(path string, secret bool) {
			if !secret {
				return
			}
			if v, err := config.ReadSecretFile(path); err == nil {
				vals = append(vals, v.Reveal())
			}
		})
	}
	return vals
}
