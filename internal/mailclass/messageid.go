package mailclass

import (
	"encoding/binary"
	"strings"
)

// HashMessageID is a 64-bit hash of a Message-ID without its angle
// brackets, computed without allocating, so the MTA pipeline can remember
// it per message on its hot path: FNV-1a's xor and multiply, eight bytes
// at a time (each step is a bijection of the state, so IDs that differ in
// one word always differ), then byte by byte for the tail. Both sides of a
// match (the pipeline, the seeds collector) call it in one process; it is
// not a stored or exchanged format.
func HashMessageID(id []byte) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) ^ uint64(len(id))
	for ; len(id) >= 8; id = id[8:] {
		h = (h ^ binary.LittleEndian.Uint64(id)) * prime
		h ^= h >> 29
	}
	for _, c := range id {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// TrimMessageID returns a Message-ID header value without surrounding
// space and angle brackets, the form HashMessageID takes.
func TrimMessageID(id string) string {
	id = strings.TrimSpace(id)
	return strings.TrimSuffix(strings.TrimPrefix(id, "<"), ">")
}
