package tail

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCheckpointLoad loads arbitrary checkpoint files against a real log
// file: whatever the file says, loading never panics, every position kept
// is sane, and the file opens at an offset within it. The seeds (run by
// go test like any test) include the file's own identity with a negative
// offset, a huge one and a bad fingerprint.
func FuzzCheckpointLoad(f *testing.F) {
	dir := f.TempDir()
	log := filepath.Join(dir, "mail.log")
	content := "Nov 26 05:31:01 mx postfix/smtpd[1]: one\nNov 26 05:31:02 mx postfix/smtpd[1]: two\n"
	if err := os.WriteFile(log, []byte(content), 0o600); err != nil {
		f.Fatal(err)
	}
	fi, err := os.Stat(log)
	if err != nil {
		f.Fatal(err)
	}
	id, _, _ := fileIdentity(fi)
	fp := base64.StdEncoding.EncodeToString([]byte(content[:20]))
	entry := func(off string, fp string) []byte {
		return fmt.Appendf(nil, `{"version":1,"patterns":[%q],"files":[{"path":%q,"dev":%d,"ino":%d,"fingerprint":%q,"offset":%s}]}`,
			log, log, id.Dev, id.Ino, fp, off)
	}
	f.Add(entry("41", fp))
	f.Add(entry("-5", fp))
	f.Add(entry("9223372036854775807", fp))
	f.Add(entry("3", base64.StdEncoding.EncodeToString([]byte("something else"))))
	f.Add(entry("1e3", fp))
	f.Add([]byte(`{"version":1,"patterns":["["],"files":[{"path":"","ino":0,"offset":0}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"version":1,"files":null,"patterns":null}`))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := Config{Paths: []string{log}, StateDir: t.TempDir(), Name: "fz", DisableFSNotify: true,
			Logger: slog.New(slog.DiscardHandler), Clock: newFakeClock()}
		if err := os.WriteFile(CheckpointPath(cfg), data, 0o600); err != nil {
			t.Fatal(err)
		}
		fl, err := New(cfg, func([]Line) {})
		if err != nil {
			t.Fatal(err)
		}
		fl.loadCheckpoint()
		for _, e := range fl.ckpt.resume {
			if e.Offset < 0 || e.Path == "" || e.Ino == 0 {
				t.Fatalf("kept an impossible position %+v", e)
			}
		}
		tf, err := fl.openFile(log, fl.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		defer tf.f.Close()
		if off := tf.sp.readOff(); off < 0 || off > int64(len(content)) {
			t.Fatalf("opened at offset %d of a %d-byte file", off, len(content))
		}
	})
}
