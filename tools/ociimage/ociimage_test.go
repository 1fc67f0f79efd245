package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"

	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestImage builds the image from a real static mailscope binary, reads
// it back as a container runtime would (index, platform manifest, config,
// layer, every digest checked), and runs the binary from the extracted
// file tree: under chroot as the image's user when the test runs as root.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "mailscope")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/mailscope")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.oci.tar")
	o := imageOptions{
		Binaries: []platformBinary{{OS: "linux", Arch: runtime.GOARCH, Path: bin}},
		Version:  "9.8.7", Revision: "abc", CACerts: ca, License: filepath.Join("..", "..", "LICENSE"),
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if err := writeImage(archive, o); err != nil {
		t.Fatal(err)
	}
	img := readLayout(t, archive)

	var top index
	img.json(t, "index.json", &top)
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != mediaIndex || top.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "9.8.7" {
		t.Fatalf("index.json: want one image index named 9.8.7, got %+v", top.Manifests)
	}
	var multi index
	img.blob(t, top.Manifests[0], &multi)
	var m manifest
	found := false
	for _, d := range multi.Manifests {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			img.blob(t, d, &m)
			found = true
		}
	}
	if !found {
		t.Fatalf("no linux/%s manifest in %+v", runtime.GOARCH, multi.Manifests)
	}
	var cfg imageConfig
	img.blob(t, m.Config, &cfg)
	if cfg.Config.User != "10001:10001" {
		t.Errorf("User = %q, want the numeric non-root 10001:10001", cfg.Config.User)
	}
	if _, ok := cfg.Config.ExposedPorts["9754/tcp"]; !ok {
		t.Errorf("ExposedPorts = %v, want 9754/tcp", cfg.Config.ExposedPorts)
	}
	if strings.Join(cfg.Config.Entrypoint, " ") != "/usr/bin/mailscope" || cfg.Architecture != runtime.GOARCH || cfg.OS != "linux" {
		t.Errorf("config: entrypoint %v, platform %s/%s", cfg.Config.Entrypoint, cfg.OS, cfg.Architecture)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != mediaLayer || len(cfg.RootFS.DiffIDs) != 1 {
		t.Fatalf("want one gzip layer and one diff_id: %+v %+v", m.Layers, cfg.RootFS)
	}
	gz := img.raw(t, m.Layers[0])
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	layerTar, err := io.ReadAll(io.LimitReader(zr, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if d := digest(layerTar); d != cfg.RootFS.DiffIDs[0] {
		t.Errorf("diff_id %s, uncompressed layer is %s", cfg.RootFS.DiffIDs[0], d)
	}

	root := filepath.Join(dir, "rootfs")
	headers := extract(t, layerTar, root)
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(passwd), "\nmailscope:x:10001:10001:") {
		t.Errorf("/etc/passwd has no mailscope user with uid 10001:\n%s", passwd)
	}
	for path, want := range map[string]struct {
		mode int64
		uid  int
	}{
		"usr/bin/mailscope":                 {0o755, 0},
		"var/lib/mailscope/":                {0o750, 10001},
		"etc/mailscope/":                    {0o755, 0},
		"var/log/mail/":                     {0o755, 0},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0},
		"tmp/":                              {0o1777, 0},
	} {
		h, ok := headers[path]
		if !ok || h.Mode != want.mode || h.Uid != want.uid {
			t.Errorf("%s: %+v (present %v), want mode %o uid %d", path, h, ok, want.mode, want.uid)
		}
	}

	// The binary runs from the image's tree alone: static, no host files.
	var run *exec.Cmd
	if os.Geteuid() == 0 {
		chroot, err := exec.LookPath("chroot")
		if err != nil {
			t.Fatal(err)
		}
		run = exec.Command(chroot, "--userspec=10001:10001", root, "/usr/bin/mailscope", "--version")
	} else {
		run = exec.Command(filepath.Join(root, "usr", "bin", "mailscope"), "--version")
	}
	out, err := run.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "mailscope, version ") {
		t.Errorf("%v: %v\n%s", run.Args, err, out)
	}
}

// ociArchive is an OCI layout archive read into memory.
type ociArchive map[string][]byte

func readLayout(t *testing.T, path string) ociArchive {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := ociArchive{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(io.LimitReader(tr, 1<<30))
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Fatalf("oci-layout: %q", files["oci-layout"])
	}
	return files
}

func (a ociArchive) json(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(a[name], v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// raw returns a blob after checking its size and digest.
func (a ociArchive) raw(t *testing.T, d descriptor) []byte {
	t.Helper()
	b, ok := a["blobs/sha256/"+strings.TrimPrefix(d.Digest, "sha256:")]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	if int64(len(b)) != d.Size || digest(b) != d.Digest {
		t.Fatalf("blob %s: size %d digest %s, descriptor says %d", d.Digest, len(b), digest(b), d.Size)
	}
	return b
}

func (a ociArchive) blob(t *testing.T, d descriptor, v any) {
	t.Helper()
	if err := json.Unmarshal(a.raw(t, d), v); err != nil {
		t.Fatalf("blob %s: %v", d.Digest, err)
	}
}

// extract writes a layer's entries under root and returns their headers.
func extract(t *testing.T, layerTar []byte, root string) map[string]*tar.Header {
	t.Helper()
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(bytes.NewReader(layerTar))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return headers
		} else if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(h.Name, "..") || strings.HasPrefix(h.Name, "/") {
			t.Fatalf("unsafe path in layer: %q", h.Name)
		}
		headers[h.Name] = h
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, os.FileMode(h.Mode&0o777)); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, os.FileMode(h.Mode&0o777)); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("%s: unexpected entry type %c", h.Name, h.Typeflag)
		}
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, h.Uid, h.Gid); err != nil {
				t.Fatal(err)
			}
		}
	}
}
