package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Size caps of the files a config names.
const (
	// MaxConfigFileSize caps the config file itself.
	MaxConfigFileSize = 4 << 20
	// MaxSecretFileSize caps a *_file secret: a password, key or token.
	MaxSecretFileSize = 64 << 10
	// MaxCAFileSize caps a ca_file bundle.
	MaxCAFileSize = 4 << 20
)

// ReadRegularFile reads a whole file the config names, refusing anything
// but a regular file of at most limit bytes: a FIFO would block for ever,
// and /dev/zero or a growing file would fill memory. It opens without
// blocking, so a FIFO with no writer is refused at once. Errors begin with
// what ("secret file", or "" for none) and the path, and never show the
// content.
func ReadRegularFile(what, path string, limit int64) ([]byte, error) {
	if what != "" {
		what += " "
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s%s: %v", what, path, FileError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot read %s%s: %v", what, path, FileError(err))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s%s is %s, not a regular file", what, path, fileKind(st.Mode()))
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s%s is %d bytes, more than the %d it may have", what, path, st.Size(), limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s%s: %v", what, path, FileError(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s%s grew past %d bytes while being read", what, path, limit)
	}
	return b, nil
}

// fileKind names a file type for an error.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a plain file (" + m.Type().String() + ")"
}
