package postfix

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// referenceQueueID is queueID as it was before its table-driven scan; the
// new one must give the same answer on every input.
func referenceQueueID(msg []byte) (id, rest []byte, ok bool) {
	i := 0
	upperOrDigit := false
	for i < len(msg) && i <= 20 {
		c := msg[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z':
			upperOrDigit = true
		case c >= 'a' && c <= 'z':
		default:
			goto done
		}
		i++
	}
done:
	if i < 5 || i > 20 || !upperOrDigit || i+1 >= len(msg) || msg[i] != ':' || msg[i+1] != ' ' {
		return nil, msg, false
	}
	return msg[:i], msg[i+2:], true
}

// scanInputs are every suffix of the corpus lines plus random strings over
// the bytes that matter to the scanners (queue-ID characters, ':', ' ',
// ',', '=' and a few others), lengths 0 to 30.
func scanInputs(t *testing.T) [][]byte {
	var in [][]byte
	for _, l := range corpusLines(t) {
		for i := range l {
			in = append(in, l[i:])
		}
	}
	const alphabet = "0aZ9Fz: ,=<>@.-[]"
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, r.IntN(31))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		in = append(in, b)
	}
	return in
}

func TestQueueIDMatchesReference(t *testing.T) {
	for _, s := range scanInputs(t) {
		id, rest, ok := queueID(s)
		wid, wrest, wok := referenceQueueID(s)
		if ok != wok || !bytes.Equal(id, wid) || !bytes.Equal(rest, wrest) {
			t.Fatalf("queueID(%q) = %q, %q, %v; want %q, %q, %v", s, id, rest, ok, wid, wrest, wok)
		}
	}
}

func TestIndexMatchesBytesIndex(t *testing.T) {
	seps := []string{": ", ", ", "=", ">, ", " said: ", " with ", " notification: ", "nrcpt=", " ", "  ", ":"}
	for _, s := range scanInputs(t) {
		for _, sep := range seps {
			if got, want := index(s, sep), bytes.Index(s, []byte(sep)); got != want {
				t.Fatalf("index(%q, %q) = %d, want %d", s, sep, got, want)
			}
		}
	}
}
