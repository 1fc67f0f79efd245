package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"time"
)

// The image's user: numeric, so Kubernetes' runAsNonRoot can verify it
// without reading /etc/passwd, and outside the ranges Debian gives system
// and login users on a host.
const (
	imageUID  = 10001
	imageUser = "mailscope"
)

// The paths the image is built around; README's docker run and Kubernetes
// examples mount onto them.
const (
	binaryPath = "/usr/bin/mailscope"
	configDir  = "/etc/mailscope"     // mount mailscope.yml here (read-only)
	stateDir   = "/var/lib/mailscope" // checkpoints: a volume
	logDir     = "/var/log/mail"      // mount the MTA's log directory here
	caBundle   = "/etc/ssl/certs/ca-certificates.crt"
)

// layerFile is one entry of the image's single layer.
type layerFile struct {
	Path    string // absolute, in the image
	Mode    int64
	UID     int
	Dir     bool
	Content []byte
}

// rootFiles is the image's file tree for one binary.
func rootFiles(binary []byte, o imageOptions) ([]layerFile, error) {
	ca, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA bundle (apt-get install ca-certificates): %w", err)
	}
	license, err := os.ReadFile(o.License)
	if err != nil {
		return nil, fmt.Errorf("licence: %w", err)
	}
	files := []layerFile{
		{Path: "/etc", Dir: true, Mode: 0o755},
		{Path: "/etc/passwd", Mode: 0o644, Content: fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", imageUser, imageUID, imageUID, imageUser, stateDir)},
		{Path: "/etc/group", Mode: 0o644, Content: fmt.Appendf(nil, "root:x:0:\n%s:x:%d:\n", imageUser, imageUID)},
		{Path: configDir, Dir: true, Mode: 0o755},
		{Path: "/etc/ssl", Dir: true, Mode: 0o755},
		{Path: "/etc/ssl/certs", Dir: true, Mode: 0o755},
		{Path: caBundle, Mode: 0o644, Content: ca},
		{Path: "/tmp", Dir: true, Mode: 0o1777},
		{Path: "/usr", Dir: true, Mode: 0o755},
		{Path: "/usr/bin", Dir: true, Mode: 0o755},
		{Path: binaryPath, Mode: 0o755, Content: binary},
		{Path: "/usr/share", Dir: true, Mode: 0o755},
		{Path: "/usr/share/doc", Dir: true, Mode: 0o755},
		{Path: "/usr/share/doc/mailscope", Dir: true, Mode: 0o755},
		{Path: "/usr/share/doc/mailscope/LICENSE", Mode: 0o644, Content: license},
		{Path: "/var", Dir: true, Mode: 0o755},
		{Path: "/var/lib", Dir: true, Mode: 0o755},
		{Path: stateDir, Dir: true, Mode: 0o750, UID: imageUID},
		{Path: "/var/log", Dir: true, Mode: 0o755},
		{Path: logDir, Dir: true, Mode: 0o755},
	}
	if o.Notices != "" {
		notices, err := os.ReadFile(o.Notices)
		if err != nil {
			return nil, fmt.Errorf("third-party licences: %w", err)
		}
		files = append(files, layerFile{Path: "/usr/share/doc/mailscope/THIRD_PARTY_LICENSES", Mode: 0o644, Content: notices})
	}
	return files, nil
}

// layer is a gzipped layer blob and the digest of its uncompressed tar
// (the config's diff_id).
type layer struct {
	Gzipped []byte
	DiffID  string
}

// buildLayer writes files as a tar (paths relative, as in docker's and
// ko's layers) with fixed times and owners, and gzips it.
func buildLayer(files []layerFile, mtime time.Time) (layer, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range files {
		h := &tar.Header{Name: f.Path[1:], Mode: f.Mode, Uid: f.UID, Gid: f.UID, ModTime: mtime, Format: tar.FormatPAX}
		if f.Dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Content))
		}
		if err := tw.WriteHeader(h); err != nil {
			return layer{}, fmt.Errorf("layer %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Content); err != nil {
			return layer{}, fmt.Errorf("layer %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return layer{}, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return layer{}, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return layer{}, err
	}
	if err := zw.Close(); err != nil {
		return layer{}, err
	}
	return layer{Gzipped: gz.Bytes(), DiffID: digest(raw.Bytes())}, nil
}

func digest(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
