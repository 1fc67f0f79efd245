//go:build !unix

package tail

import "io/fs"

// fileIdentity is not available off Unix: every file gets the zero identity
// and the follower cannot tell files apart. mailscope runs next to Unix
// MTAs; this keeps the package compiling elsewhere.
func fileIdentity(fi fs.FileInfo) (id FileID, nlink uint64, ok bool) {
	return FileID{}, 1, false
}
