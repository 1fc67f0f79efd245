package queue

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mailscope/mailscope/internal/mailclass"
)

// Recorded fixtures: postqueue-deferred.jsonl and postqueue-hold.jsonl are
// `postqueue -j` of a real Postfix 3.7.11 (the e2e test's instance: three
// messages deferred by a 450 4.7.28 reply, two by a refused connection;
// then the same held by postsuper -h). postqueue-mixed.jsonl is written by
// hand in the same format for the queues and replies that run cannot make.

func parseFile(t *testing.T, name string) *Snapshot {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg := NewConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(f, mailclass.Default().Classifier, mailclass.Default().Providers)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseRecorded(t *testing.T) {
	for _, c := range []struct {
		file, queue string
	}{{"postqueue-deferred.jsonl", "deferred"}, {"postqueue-hold.jsonl", "hold"}} {
		s := parseFile(t, c.file)
		for _, q := range Queues {
			st := s.Queues[q]
			if q != c.queue {
				if st.Messages != 0 || st.Bytes != 0 || !st.Oldest.IsZero() {
					t.Errorf("%s: queue %s = %+v, want empty", c.file, q, st)
				}
				continue
			}
			if st.Messages != 5 || st.Bytes != 3*355+2*361 {
				t.Errorf("%s: %s holds %d messages, %d bytes; want 5, %d", c.file, q, st.Messages, st.Bytes, 3*355+2*361)
			}
		}
		want := map[DeferKey]int{
			{mailclass.ReasonRateLimited, "gmail"}:                3,
			{mailclass.ReasonConnection, mailclass.ProviderOther}: 2,
		}
		if len(s.Deferred) != len(want) {
			t.Errorf("%s: deferred groups %v, want %v", c.file, s.Deferred, want)
		}
		for k, n := range want {
			if s.Deferred[k] != n {
				t.Errorf("%s: deferred %s/%s = %d, want %d", c.file, k.Reason, k.Provider, s.Deferred[k], n)
			}
		}
	}
	if got := parseFile(t, "postqueue-deferred.jsonl").Queues["deferred"].Oldest; !got.Equal(time.Unix(1795677347, 0)) {
		t.Errorf("oldest deferred arrival %s, want %s", got, time.Unix(1795677347, 0))
	}
}

func TestParseMixed(t *testing.T) {
	s := parseFile(t, "postqueue-mixed.jsonl")
	for q, want := range map[string]Stats{
		"active":   {Messages: 2, Bytes: 3048, Oldest: time.Unix(1795670000, 0)},
		"incoming": {Messages: 1, Bytes: 500, Oldest: time.Unix(1795677000, 0)},
		"maildrop": {Messages: 1, Bytes: 300, Oldest: time.Unix(1795677300, 0)},
		"deferred": {Messages: 1, Bytes: 4000, Oldest: time.Unix(1795600000, 0)},
		"hold":     {},
		"corrupt":  {},
		"other":    {Messages: 1, Bytes: 100, Oldest: time.Unix(1795677347, 0)},
	} {
		got := s.Queues[q]
		if got.Messages != want.Messages || got.Bytes != want.Bytes || !got.Oldest.Equal(want.Oldest) {
			t.Errorf("%s = %+v, want %+v", q, *got, want)
		}
	}
	// Recipients without a delay reason are not deferred; each reply is
	// classified by its provider code first, its DSN and text second, and
	// grouped by recipient domain or, failing that, the host it names.
	want := map[DeferKey]int{
		{mailclass.ReasonBlocklisted, "microsoft"}:     1,
		{mailclass.ReasonReputation, "yahoo"}:          1,
		{mailclass.ReasonDNS, mailclass.ProviderOther}: 1,
		{mailclass.ReasonConnection, "gmail"}:          1,
	}
	if len(s.Deferred) != len(want) {
		t.Errorf("deferred groups %v, want %v", s.Deferred, want)
	}
	for k, n := range want {
		if s.Deferred[k] != n {
			t.Errorf("deferred %s/%s = %d, want %d (all: %v)", k.Reason, k.Provider, s.Deferred[k], n, s.Deferred)
		}
	}
}

func TestParseBadRecord(t *testing.T) {
	cfg := NewConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	in := `{"queue_name": "active", "queue_id": "A", "arrival_time": 1, "message_size": 1, "recipients": []}
{"queue_name": "active", "queue_id": "B", "arrival_time": "soon"}
`
	_, err := Parse(strings.NewReader(in), mailclass.Default().Classifier, mailclass.Default().Providers)
	if err == nil || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("err = %v, want one naming record 2", err)
	}
	s, err := Parse(strings.NewReader(""), mailclass.Default().Classifier, mailclass.Default().Providers)
	if err != nil || len(s.Queues) != len(Queues) || s.Queues["active"].Messages != 0 {
		t.Errorf("empty queue: %+v, %v", s, err)
	}
}
