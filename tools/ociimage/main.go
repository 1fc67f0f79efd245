// Command ociimage builds mailscope's container image without a Docker
// daemon or a registry, as ko does: a layer holding the static binary, an
// /etc/passwd and /etc/group naming the non-root user it runs as, Debian's
// CA bundle (for OTLP, IMAP, SMTP and MTA-STS over TLS), the licences and
// the mount points, on an empty base (FROM scratch). It writes a
// multi-platform OCI image layout as a tar archive, which podman load,
// docker load (Docker 25+) and skopeo copy oci-archive: read.
//
//	go run ./tools/ociimage -binary linux/amd64=dist/build/linux-amd64/mailscope \
//	    -binary linux/arm64=dist/build/linux-arm64/mailscope -version 0.1.0 -o mailscope.oci.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// binaries collects repeated -binary os/arch=path flags.
type binaries []platformBinary

func (b *binaries) String() string { return fmt.Sprint(*b) }

func (b *binaries) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	osName, arch, ok2 := strings.Cut(platform, "/")
	if !ok || !ok2 || path == "" {
		return fmt.Errorf("want os/arch=path, got %q", v)
	}
	*b = append(*b, platformBinary{OS: osName, Arch: arch, Path: path})
	return nil
}

func main() {
	var o imageOptions
	var bins binaries
	flag.Var(&bins, "binary", "os/arch=path of a static mailscope binary (repeat per platform)")
	flag.StringVar(&o.Version, "version", "", "the release version (the image's tag and version label)")
	flag.StringVar(&o.Revision, "revision", "", "the source revision (label)")
	flag.StringVar(&o.CACerts, "ca-certificates", "/etc/ssl/certs/ca-certificates.crt", "the CA bundle to include (Debian package ca-certificates)")
	flag.StringVar(&o.License, "license", "LICENSE", "mailscope's licence file")
	flag.StringVar(&o.Notices, "notices", "", "the third-party licences file (go run ./tools/licenses -notices)")
	out := flag.String("o", "mailscope.oci.tar", "the OCI layout archive to write")
	flag.Parse()
	o.Binaries = bins
	o.Created = time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ociimage: SOURCE_DATE_EPOCH %q: %v\n", s, err)
			os.Exit(2)
		}
		o.Created = time.Unix(sec, 0).UTC()
	}
	if err := writeImage(*out, o); err != nil {
		fmt.Fprintln(os.Stderr, "ociimage:", err)
		os.Exit(1)
	}
}
