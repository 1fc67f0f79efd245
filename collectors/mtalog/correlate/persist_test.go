package correlate

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/collectors/mtalog/event"
	"github.com/mailscope/mailscope/internal/mailclass"
)

// TestSaveLoadKeepsADeferredMessageWhole: a message deferred before a
// stop and delivered after it is one message with both attempts, and is
// received once.
func TestSaveLoadKeepsADeferredMessageWhole(t *testing.T) {
	before := New(DefaultConfig(), func(*Message) { t.Error("a message ended before the stop") })
	cl := ev(event.KindClient, "ABC123", 0)
	cl.Origin = event.OriginSASL
	before.Observe(cl, "", 0)
	q := ev(event.KindQueued, "ABC123", time.Second)
	q.Size, q.Nrcpt = 1000, 1
	before.Observe(q, "", 0)
	d1 := ev(event.KindDelivery, "ABC123", 2*time.Second)
	d1.Daemon, d1.Status, d1.Relay, d1.Delays, d1.DSN = event.DaemonSmtp, event.StatusDeferred, []byte("mx.gmail.com"), [4]float64{1, 0, 0.5, 0.5}, mailclass.DSN{Class: 4, Subject: 7, Detail: 28}
	before.Observe(d1, "gmail", mailclass.ReasonRateLimited)
	var state bytes.Buffer
	if err := before.Save(&state); err != nil {
		t.Fatal(err)
	}

	var got []*Message
	after := New(DefaultConfig(), func(m *Message) { got = append(got, m.clone()) })
	st, err := after.Load(bytes.NewReader(state.Bytes()), func(p string) bool { return p == "gmail" })
	if err != nil || st.Restored != 1 || st.Invalid+st.Dropped != 0 {
		t.Fatalf("load: %+v, %v", st, err)
	}
	// Postfix logs the size again at each retry: not a new message.
	if after.Observe(ev(event.KindQueued, "ABC123", time.Hour-time.Second), "", 0).FirstQueued {
		t.Error("a restored message was received again")
	}
	d2 := ev(event.KindDelivery, "ABC123", time.Hour)
	d2.Daemon, d2.Status = event.DaemonSmtp, event.StatusSent
	after.Observe(d2, "gmail", 0)
	after.Observe(ev(event.KindRemoved, "ABC123", time.Hour+time.Second), "", 0)
	if len(got) != 1 {
		t.Fatalf("%d messages done", len(got))
	}
	m := got[0]
	if m.AttemptCount != 2 || len(m.Attempts) != 2 || m.Outcome() != "delivered" || !m.FirstSeen.Equal(t0) || m.Origin != event.OriginSASL || m.Size != 1000 {
		t.Errorf("message after restore: %+v", m)
	}
	if a := m.Attempts[0]; a.Relay != "mx.gmail.com" || a.Reason != mailclass.ReasonRateLimited || a.DSN != d1.DSN || a.Delays != d1.Delays || a.Status != event.StatusDeferred {
		t.Errorf("first attempt after restore: %+v", a)
	}
}

// TestSaveLoadMidCorpusIsTheStraightRun stops the real corpus half way,
// saves, restores into a new correlator and reads on: every message that
// ends is the same as in a run without the stop.
func TestSaveLoadMidCorpusIsTheStraightRun(t *testing.T) {
	f, err := os.Open("../postfix/testdata/real-postfix.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []*event.Event
	clk := newLineClock()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if e := parseDated(clk, sc.Text()); e != nil {
			evs = append(evs, e)
		}
	}
	record := func(out *[]string) func(*Message) {
		return func(m *Message) {
			b, _ := json.Marshal(toState(m, nil))
			*out = append(*out, m.End.String()+" "+string(b))
		}
	}
	var straight, split []string
	c := New(DefaultConfig(), record(&straight))
	for _, e := range evs {
		c.Observe(e, "other", mailclass.ReasonOther)
	}
	c.Flush()

	half := len(evs) / 2
	c = New(DefaultConfig(), record(&split))
	for _, e := range evs[:half] {
		c.Observe(e, "other", mailclass.ReasonOther)
	}
	held := c.Len()
	var state bytes.Buffer
	if err := c.Save(&state); err != nil {
		t.Fatal(err)
	}
	c = New(DefaultConfig(), record(&split))
	st, err := c.Load(&state, nil)
	if err != nil || st.Restored != held || held == 0 {
		t.Fatalf("restored %+v of %d held: %v", st, held, err)
	}
	for _, e := range evs[half:] {
		c.Observe(e, "other", mailclass.ReasonOther)
	}
	c.Flush()
	if strings.Join(straight, "\n") != strings.Join(split, "\n") {
		t.Errorf("a stop half way changed the messages: %d straight, %d split", len(straight), len(split))
		for i := range min(len(straight), len(split)) {
			if straight[i] != split[i] {
				t.Errorf("first difference:\n%s\n%s", straight[i], split[i])
				break
			}
		}
	}
}

// TestLoadRefusesHostileState: a state file is outside input.
func TestLoadRefusesHostileState(t *testing.T) {
	header := `{"format":"mailscope-correlator","version":1,"messages":1}` + "\n"
	good := `{"queue_id":"ABC","first_seen":"2026-11-26T05:00:00Z","last_seen":"2026-11-26T05:00:01Z","origin":"smtp","size":1,"nrcpt":1,"attempt_count":1,"attempts":[{"time":"2026-11-26T05:00:01Z","transport":"smtp","status":"deferred","dsn":"4.7.28","reason":"rate_limited","relay":"mx.example","provider":"gmail","delay":1,"delays":[0,0,0.5,0.5]}],"queued":true}` + "\n"
	cfg := DefaultConfig()
	cfg.MaxMessages, cfg.MaxAttempts = 3, 2
	for _, tc := range []struct {
		name, text                 string
		errs                       bool
		restored, invalid, dropped int
	}{
		{"empty", "", true, 0, 0, 0},
		{"not json", "\x00\xff garbage\n", true, 0, 0, 0},
		{"other format", `{"format":"x","version":1}` + "\n" + good, true, 0, 0, 0},
		{"newer version", `{"format":"mailscope-correlator","version":2}` + "\n" + good, true, 0, 0, 0},
		{"good", header + good, false, 1, 0, 0},
		{"duplicate", header + good + good, false, 1, 0, 1},
		{"over the cap", header + good + strings.ReplaceAll(good, "ABC", "ABD") + strings.ReplaceAll(good, "ABC", "ABE") + strings.ReplaceAll(good, "ABC", "ABF"), false, 3, 0, 1},
		{"unknown field", header + strings.Replace(good, `"size"`, `"evil":1,"size"`, 1), false, 0, 1, 0},
		{"unknown status", header + strings.Replace(good, `"deferred"`, `"exploded"`, 1), false, 0, 1, 0},
		{"unknown reason", header + strings.Replace(good, `"rate_limited"`, `"x"`, 1), false, 0, 1, 0},
		{"bad dsn", header + strings.Replace(good, `"4.7.28"`, `"9.99999.1"`, 1), false, 0, 1, 0},
		{"unconfigured provider", header + strings.Replace(good, `"gmail"`, `"user@example.com"`, 1), false, 0, 1, 0},
		{"relay with spaces", header + strings.Replace(good, `"mx.example"`, `"a b"`, 1), false, 0, 1, 0},
		{"negative size", header + strings.Replace(good, `"size":1`, `"size":-1`, 1), false, 0, 1, 0},
		{"negative delay", header + strings.Replace(good, `"delay":1`, `"delay":-1`, 1), false, 0, 1, 0},
		{"last before first", header + strings.Replace(good, `05:00:01Z","origin`, `04:00:00Z","origin`, 1), false, 0, 1, 0},
		{"too many attempts", header + strings.Replace(good, `"attempts":[{`, `"attempts":[{"time":"2026-11-26T05:00:01Z","transport":"smtp","status":"sent","provider":"gmail","delay":0,"delays":[0,0,0,0]},{"time":"2026-11-26T05:00:01Z","transport":"smtp","status":"sent","provider":"gmail","delay":0,"delays":[0,0,0,0]},{`, 1), false, 0, 1, 0},
		{"long line", header + `{"queue_id":"` + strings.Repeat("A", 2<<20) + "\"}\n" + good, false, 0, 1, 0},
		{"deep nesting", header + strings.Repeat("[", 100000) + "\n" + good, false, 1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := New(cfg, nil)
			st, err := c.Load(strings.NewReader(tc.text), func(p string) bool { return p == "gmail" })
			if (err != nil) != tc.errs || st.Restored != tc.restored || st.Invalid != tc.invalid || st.Dropped != tc.dropped {
				t.Errorf("got %+v, err %v; want error %v, restored %d, invalid %d, dropped %d", st, err, tc.errs, tc.restored, tc.invalid, tc.dropped)
			}
			if c.Len() != st.Restored {
				t.Errorf("table holds %d, restored %d", c.Len(), st.Restored)
			}
		})
	}
}

// FuzzLoad: no state file makes Load panic or hold more than the cap.
// CI runs the seeds.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`{"format":"mailscope-correlator","version":1,"messages":1}` + "\n" + `{"queue_id":"ABC","first_seen":"2026-11-26T05:00:00Z","last_seen":"2026-11-26T05:00:01Z","origin":"smtp","size":1,"nrcpt":1,"attempt_count":1,"attempts":[{"time":"2026-11-26T05:00:01Z","transport":"smtp","status":"deferred","dsn":"4.7.28","relay":"x","provider":"gmail","delay":1,"delays":[0,0,0,0]}]}` + "\n"))
	f.Add([]byte(`{"format":"mailscope-correlator","version":1}` + "\n{}\n[]\nnull\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig()
		cfg.MaxMessages = 4
		c := New(cfg, nil)
		st, _ := c.Load(bytes.NewReader(data), nil)
		if c.Len() > 4 || c.Len() != st.Restored {
			t.Fatalf("held %d, restored %d", c.Len(), st.Restored)
		}
		c.Flush()
	})
}
