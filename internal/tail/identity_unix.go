//go:build unix

package tail

import (
	"io/fs"
	"syscall"
)

// fileIdentity returns fi's device and inode numbers and its link count; a
// link count of zero means the file was deleted while open.
func fileIdentity(fi fs.FileInfo) (id FileID, nlink uint64, ok bool) {
	// The conversions look redundant on linux/amd64; the field types
	// differ on other Unixes.
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, 1, false
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, uint64(st.Nlink), true
}
