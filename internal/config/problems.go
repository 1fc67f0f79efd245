package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Problem is one thing wrong with a config: where (a dotted key path such as
// "dnsbl.zones[2]", and the file line when known) and why.
type Problem struct {
	File string
	Line int
	Path string
	Msg  string
}

// Error formats the problem as "file:line: path: msg", leaving out the parts
// that are unknown.
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems collects every problem found, so a user fixes a config in one
// pass instead of one error per start. The zero value is ready to use.
type Problems []*Problem

// Add records a problem at a key path relative to the section being
// validated.
func (ps *Problems) Add(path, msg string) {
	*ps = append(*ps, &Problem{Path: path, Msg: msg})
}

// Addf is Add with formatting.
func (ps *Problems) Addf(path, format string, args ...any) {
	ps.Add(path, fmt.Sprintf(format, args...))
}

// Merge adds the problems of err under prefix: a Problems list keeps each
// entry's own path (prefixed), any other error becomes one problem at prefix.
func (ps *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var list Problems
	if errors.As(err, &list) {
		for _, p := range list {
			q := *p
			q.Path = JoinPath(prefix, p.Path)
			*ps = append(*ps, &q)
		}
		return
	}
	var one *Problem
	if errors.As(err, &one) {
		q := *one
		q.Path = JoinPath(prefix, one.Path)
		*ps = append(*ps, &q)
		return
	}
	ps.Add(prefix, err.Error())
}

// Err returns nil when there are no problems, else the list as an error.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Error joins the problems one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// JoinPath joins a parent key path and a child: "a" + "b" = "a.b",
// "a" + "[2]" = "a[2]".
func JoinPath(parent, child string) string {
	switch {
	case parent == "":
		return child
	case child == "":
		return parent
	case strings.HasPrefix(child, "["):
		return parent + child
	}
	return parent + "." + child
}

// CheckSchedule reports the problems of a scheduled collector's interval
// (at least min, and positive) and jitter (from 0 to less than the
// interval), under the keys "interval" and "jitter".
func (ps *Problems) CheckSchedule(interval, jitter, min time.Duration) {
	switch {
	case interval <= 0:
		ps.Addf("interval", "must be positive, got %s", interval)
	case interval < min:
		ps.Addf("interval", "must be at least %s, got %s", min, interval)
	}
	if jitter < 0 || (interval > 0 && jitter >= interval) {
		ps.Addf("jitter", "must be at least 0 and less than interval (%s), got %s", interval, jitter)
	}
}
