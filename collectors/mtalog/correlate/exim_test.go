package correlate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/collectors/mtalog/exim"
)

// TestEximMessages joins Exim lines by message ID: a message deferred,
// then expired; its bounce, linked to it by R=, frozen when it cannot be
// delivered either.
func TestEximMessages(t *testing.T) {
	lines := []string{
		"2026-12-06 07:59:31 1xa79f-00079q-0g <= alice@example.test H=(client.example.org) [127.0.0.1]:40000 P=esmtp S=320 id=a@b",
		"2026-12-06 07:59:31 1xa79f-00079q-0g == tmp0@gmail.com R=remote T=remote_smtp defer (-44) H=gmail-smtp-in.l.google.com [127.0.0.2]: SMTP error from remote mail server after RCPT TO:<tmp0@gmail.com>: 451-4.7.28 rate limited",
		"2026-12-06 08:00:40 1xa79f-00079q-0g ** tmp0@gmail.com R=remote T=remote_smtp: retry timeout exceeded",
		"2026-12-06 08:00:40 1xa7ak-0008qG-2x <= <> R=1xa79f-00079q-0g U=Debian-exim P=local S=1500",
		"2026-12-06 08:00:40 1xa79f-00079q-0g Completed",
		"2026-12-06 08:00:41 1xa7ak-0008qG-2x ** alice@example.test R=remote T=remote_smtp H=mx [127.0.0.5]: SMTP error from remote mail server after RCPT TO:<alice@example.test>: 550 5.1.1 no",
		"2026-12-06 08:00:41 1xa7ak-0008qG-2x Frozen (delivery error message)",
		"2026-12-06 08:01:51 1xa7ak-0008qG-2x cancelled by timeout_frozen_after",
		"2026-12-06 08:01:51 1xa7ak-0008qG-2x Completed",
	}
	var done []Message
	c := New(DefaultConfig(), func(m *Message) { done = append(done, *m) })
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	for i, l := range lines {
		var e event.Event
		if !exim.ParseLine([]byte(l), &e) {
			t.Fatalf("unparsed: %s", l)
		}
		e.Time = at.Add(time.Duration(i) * time.Second)
		c.Observe(&e, "", 0)
	}
	if len(done) != 2 {
		t.Fatalf("%d messages done, want 2", len(done))
	}
	parent, bounce := done[0], done[1]
	if parent.QueueID() != "1xa79f-00079q-0g" || parent.Outcome() != "expired" || parent.AttemptCount != 2 || parent.Origin != event.OriginSMTP || parent.Size != 320 {
		t.Errorf("parent %+v, outcome %s", parent, parent.Outcome())
	}
	if bounce.Parent != "1xa79f-00079q-0g" || !bounce.Held || bounce.Origin != event.OriginLocal || bounce.Outcome() != "bounced" {
		t.Errorf("bounce %+v, outcome %s", bounce, bounce.Outcome())
	}
	if parent.Parent != "" || parent.Held {
		t.Errorf("parent has a parent or is held: %+v", parent)
	}
}

// TestEximHeldParentSurviveARestart: a frozen bounce's held mark and its
// parent are saved at a stop and restored at start; a hostile parent is
// refused.
func TestEximHeldParentSurviveARestart(t *testing.T) {
	before := New(DefaultConfig(), func(*Message) { t.Error("a message ended before the stop") })
	at := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	for i, l := range []string{
		"2026-12-06 08:00:40 1xa7ak-0008qG-2x <= <> R=1xa79f-00079q-0g U=Debian-exim P=local S=1500",
		"2026-12-06 08:00:41 1xa7ak-0008qG-2x Frozen (delivery error message)",
	} {
		var e event.Event
		if !exim.ParseLine([]byte(l), &e) {
			t.Fatalf("unparsed: %s", l)
		}
		e.Time = at.Add(time.Duration(i) * time.Second)
		before.Observe(&e, "", 0)
	}
	var state bytes.Buffer
	if err := before.Save(&state); err != nil {
		t.Fatal(err)
	}
	var got []Message
	after := New(DefaultConfig(), func(m *Message) { got = append(got, *m) })
	if st, err := after.Load(bytes.NewReader(state.Bytes()), func(string) bool { return true }); err != nil || st.Restored != 1 {
		t.Fatalf("load: %+v, %v", st, err)
	}
	after.Flush()
	if len(got) != 1 || !got[0].Held || got[0].Parent != "1xa79f-00079q-0g" {
		t.Fatalf("after restore: %+v", got)
	}
	hostile := strings.Replace(state.String(), "1xa79f-00079q-0g", strings.Repeat("x", 65), 1)
	if st, _ := New(DefaultConfig(), func(*Message) {}).Load(strings.NewReader(hostile), func(string) bool { return true }); st.Restored != 0 {
		t.Errorf("a 65-character parent was restored: %+v", st)
	}
}
