package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFilesMustBeSmallRegularFiles: a FIFO (which would block for
// ever), /dev/zero (which would fill memory), a directory and an oversized
// file are refused at once with what they are; the value never shows.
func TestSecretFilesMustBeSmallRegularFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat("s3cr3t", MaxSecretFileSize/6+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo:        "secret file " + fifo + " is a FIFO, not a regular file",
		"/dev/zero": "secret file /dev/zero is a character device, not a regular file",
		dir:         "secret file " + dir + " is a directory, not a regular file",
		big:         "secret file " + big + " is 65538 bytes, more than the 65536 it may have",
	} {
		done := make(chan error, 1)
		go func() { _, err := ReadSecretFile(path); done <- err }()
		select {
		case err := <-done:
			if err == nil || err.Error() != want {
				t.Errorf("%s: %v, want %q", path, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("%s: the error shows the content", path)
			}
		case <-time.After(10 * time.Second):
			// Unblock the reader so the test ends.
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatalf("reading %s did not return", path)
		}
	}
}
