package traceid

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestRuleIsTheDocumentedOne pins the rule with a value computed by hand
// (printf 'mailscope/message-id/v1\0abc@example.com' | sha256sum | cut -c1-32),
// so a change that would split traces between agent versions fails here.
func TestRuleIsTheDocumentedOne(t *testing.T) {
	const want = "bff75aa2341b4f3ba26053ce08f7963c"
	for _, in := range []string{"abc@example.com", "<abc@example.com>", " <abc@example.com> "} {
		got, ok := FromMessageID([]byte(in))
		if !ok || got.String() != want {
			t.Errorf("FromMessageID(%q) = %s, %v; want %s", in, got, ok, want)
		}
	}
	if _, ok := FromMessageID([]byte("<>")); ok {
		t.Error("an empty Message-ID named a trace")
	}
	a, b := FromQueueID([]byte("4A1B2C3D4E"), 1795671081), FromQueueID([]byte("4A1B2C3D4E"), 1795671082)
	if a == b || !a.IsValid() {
		t.Errorf("queue-ID ids %s %s", a, b)
	}
	qsum := sha256.Sum256([]byte("mailscope/queue-id/v1\x004A1B2C3D4E\x001795671081"))
	if a.String() != hex.EncodeToString(qsum[:16]) {
		t.Errorf("queue-ID rule: %s", a)
	}
	ctx := With(context.Background(), a)
	if got, ok := From(ctx); !ok || got != a {
		t.Error("With/From")
	}
	if _, ok := From(context.Background()); ok {
		t.Error("From an empty context")
	}
}

func BenchmarkFromMessageID(b *testing.B) {
	id := []byte("<20261126070241.601FE984B37@mx.example.com>")
	b.ReportAllocs()
	for b.Loop() {
		FromMessageID(id)
	}
}
