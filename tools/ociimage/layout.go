package main

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// OCI media types (image-spec v1.1).
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// imageName is the reference docker load and podman load tag the image
// with.
const imageName = "docker.io/mailscope/mailscope"

// platformBinary is one platform's static binary.
type platformBinary struct {
	OS, Arch, Path string
}

// imageOptions say what goes into the image.
type imageOptions struct {
	Binaries          []platformBinary
	Version, Revision string
	CACerts           string
	License, Notices  string
	Created           time.Time
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Platform    *platform         `json:"platform,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

type index struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Manifests     []descriptor      `json:"manifests"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// imageConfig is the OCI image configuration.
type imageConfig struct {
	Created      string          `json:"created"`
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Config       runtimeConfig   `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []historyRecord `json:"history"`
}

type runtimeConfig struct {
	User         string              `json:"User"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts"`
	Env          []string            `json:"Env"`
	Entrypoint   []string            `json:"Entrypoint"`
	Cmd          []string            `json:"Cmd"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Labels       map[string]string   `json:"Labels"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type historyRecord struct {
	Created   string `json:"created"`
	CreatedBy string `json:"created_by"`
}

// layout accumulates the blobs of an OCI image layout.
type layout struct {
	blobs map[string][]byte
}

// add stores a blob and returns its descriptor.
func (l *layout) add(mediaType string, b []byte) descriptor {
	d := digest(b)
	l.blobs[d] = b
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}
}

func (l *layout) addJSON(mediaType string, v any) (descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return descriptor{}, err
	}
	return l.add(mediaType, b), nil
}

// labels are the OCI annotations on the image, also its config labels.
func labels(o imageOptions) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "mailscope",
		"org.opencontainers.image.version":  o.Version,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.source":   "https://github.com/mailscope/mailscope",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  o.Created.Format(time.RFC3339),
	}
}

// platformImage adds one platform's layer, config and manifest.
func (l *layout) platformImage(b platformBinary, o imageOptions) (descriptor, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return descriptor{}, fmt.Errorf("binary for %s/%s: %w", b.OS, b.Arch, err)
	}
	files, err := rootFiles(bin, o)
	if err != nil {
		return descriptor{}, err
	}
	lay, err := buildLayer(files, o.Created)
	if err != nil {
		return descriptor{}, err
	}
	layerDesc := l.add(mediaLayer, lay.Gzipped)
	created := o.Created.Format(time.RFC3339)
	cfg := imageConfig{
		Created: created, Architecture: b.Arch, OS: b.OS,
		Config: runtimeConfig{
			User:         strconv.Itoa(imageUID) + ":" + strconv.Itoa(imageUID),
			ExposedPorts: map[string]struct{}{"9754/tcp": {}},
			Env:          []string{"PATH=/usr/bin:/bin", "SSL_CERT_FILE=" + caBundle},
			Entrypoint:   []string{binaryPath},
			// No --config.file: the agent reads /etc/mailscope/mailscope.yml
			// when it is mounted, else starts on its zero-config default.
			Cmd:        []string{"run"},
			Volumes:    map[string]struct{}{stateDir: {}},
			WorkingDir: stateDir,
			Labels:     labels(o),
		},
		RootFS:  rootFS{Type: "layers", DiffIDs: []string{lay.DiffID}},
		History: []historyRecord{{Created: created, CreatedBy: "go run ./tools/ociimage (static binary on an empty base)"}},
	}
	cfgDesc, err := l.addJSON(mediaConfig, cfg)
	if err != nil {
		return descriptor{}, err
	}
	m := manifest{SchemaVersion: 2, MediaType: mediaManifest, Config: cfgDesc, Layers: []descriptor{layerDesc}, Annotations: labels(o)}
	d, err := l.addJSON(mediaManifest, m)
	if err != nil {
		return descriptor{}, err
	}
	d.Platform = &platform{Architecture: b.Arch, OS: b.OS}
	return d, nil
}

// writeImage builds every platform's image, an image index over them, and
// writes the layout as a tar archive: oci-layout, index.json (naming the
// index by the version), blobs/sha256/*.
func writeImage(path string, o imageOptions) error {
	if len(o.Binaries) == 0 {
		return errors.New("no -binary given")
	}
	if o.Version == "" {
		return errors.New("no -version given")
	}
	l := &layout{blobs: map[string][]byte{}}
	var platforms []descriptor
	for _, b := range o.Binaries {
		d, err := l.platformImage(b, o)
		if err != nil {
			return err
		}
		platforms = append(platforms, d)
	}
	multi, err := l.addJSON(mediaIndex, index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: platforms, Annotations: labels(o)})
	if err != nil {
		return err
	}
	multi.Annotations = map[string]string{
		"org.opencontainers.image.ref.name": o.Version,
		"io.containerd.image.name":          imageName + ":" + o.Version,
	}
	top, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaIndex, Manifests: []descriptor{multi}})
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": top,
	}
	for d, b := range l.blobs {
		files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = b
	}
	return writeTar(path, files, o.Created)
}

// writeTar writes files (and their directories) in name order.
func writeTar(path string, files map[string][]byte, mtime time.Time) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	werr := func() error {
		for _, dir := range []string{"blobs/", "blobs/sha256/"} {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime}); err != nil {
				return err
			}
		}
		for _, n := range names {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(files[n])), ModTime: mtime}); err != nil {
				return err
			}
			if _, err := tw.Write(files[n]); err != nil {
				return err
			}
		}
		return tw.Close()
	}()
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
