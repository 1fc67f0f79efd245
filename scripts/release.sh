#!/usr/bin/env bash
# Builds the release artifacts of the version in ./VERSION into dist/
# (make release). Needs Go and the Go module proxy (for nfpm); no Docker.
#   dist/mailscope-V.linux-{amd64,arm64}.tar.gz   binary, docs, config, unit, dashboards, rules, man page, completions
#   dist/mailscope_V_{amd64,arm64}.deb            Debian package (nfpm)
#   dist/mailscope-V.oci.tar                      OCI image layout, linux/amd64 and linux/arm64
#   dist/sha256sums.txt                           SHA-256 of each of them
# ARCHES="amd64" limits the architectures; DIST=DIR writes elsewhere;
# DEB_ONLY=1 builds only the .deb (the end-to-end test's install).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"

NFPM="github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0"
VERSION="${VERSION:-$(cat VERSION)}"
ARCHES="${ARCHES:-amd64 arm64}"
DIST="${DIST:-dist}"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
# A build of uncommitted changes says so, as go build's vcs.modified does.
if [ "$REVISION" != unknown ] && ! git diff --quiet HEAD 2>/dev/null; then REVISION="$REVISION-modified"; fi
BRANCH="$(git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)"
# Timestamps in the archives are the commit's, so a rebuild of one commit
# gives the same tarballs.
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH
BUILD_DATE="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d-%H:%M:%S)"
PKG=github.com/prometheus/common/version
LDFLAGS="-s -w -X $PKG.Version=$VERSION -X $PKG.Revision=$REVISION -X $PKG.Branch=$BRANCH -X $PKG.BuildUser=$(id -un)@$(hostname) -X $PKG.BuildDate=$BUILD_DATE"

log() { printf '==> %s\n' "$*"; }

rm -rf "$DIST"
mkdir -p "$DIST/build/completions"

for arch in $ARCHES; do
  log "build linux/$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags "$LDFLAGS" -o "$DIST/build/linux-$arch/mailscope" ./cmd/mailscope
done

# Man page and completions come from the program itself (kingpin), run on
# this machine.
go build -trimpath -ldflags "$LDFLAGS" -o "$DIST/build/host/mailscope" ./cmd/mailscope
# kingpin leaves the .TH line's date and source empty.
"$DIST/build/host/mailscope" --help-man |
  sed "1s/^\.TH .*/.TH MAILSCOPE 1 \"$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)\" \"mailscope $VERSION\" \"User Commands\"/" > "$DIST/build/mailscope.1"
gzip -9n < "$DIST/build/mailscope.1" > "$DIST/build/mailscope.1.gz"
"$DIST/build/host/mailscope" --completion-script-bash > "$DIST/build/completions/mailscope.bash"
"$DIST/build/host/mailscope" --completion-script-zsh > "$DIST/build/completions/_mailscope"
go run ./tools/licenses -notices > "$DIST/build/THIRD_PARTY_LICENSES"

# The package's unit runs the package's binary.
sed 's#/usr/local/bin/mailscope#/usr/bin/mailscope#g' deploy/mailscope.service > "$DIST/build/mailscope.service"
{
  printf 'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: mailscope\nSource: https://github.com/mailscope/mailscope\n\n'
  printf 'Files: *\nCopyright: the mailscope authors\nLicense: Apache-2.0\n On Debian systems, the full text of the Apache License 2.0 is in\n /usr/share/common-licenses/Apache-2.0.\n\n'
  sed 's/^/# /' "$DIST/build/THIRD_PARTY_LICENSES"
} > "$DIST/build/copyright"
gzip -9n < CHANGELOG.md > "$DIST/build/changelog.gz"

for arch in $ARCHES; do
  log "deb $arch"
  mkdir -p "$DIST/build/deb"
  cp "$DIST/build/linux-$arch/mailscope" "$DIST/build/deb/mailscope"
  # deploy/nfpm.yaml names its built files under dist/build.
  sed "s#dist/build/#$DIST/build/#g" deploy/nfpm.yaml > "$DIST/build/nfpm.yaml"
  VERSION="$VERSION" ARCH="$arch" go run "$NFPM" package --config "$DIST/build/nfpm.yaml" --packager deb --target "$DIST/" >/dev/null
done
[ "${DEB_ONLY:-}" = 1 ] && exit 0

for arch in $ARCHES; do
  name="mailscope-$VERSION.linux-$arch"
  log "tarball $name"
  root="$DIST/build/tar/$name"
  mkdir -p "$root/completions" "$root/man" "$root/alerts" "$root/dashboards"
  cp "$DIST/build/linux-$arch/mailscope" "$root/"
  cp LICENSE README.md CHANGELOG.md "$DIST/build/THIRD_PARTY_LICENSES" deploy/mailscope.yml deploy/mailscope.example.yml deploy/mailscope.service "$root/"
  cp -r docs "$root/docs"
  cp dashboards/*.json "$root/dashboards/"
  cp alerts/mailscope.rules.yml alerts/alertmanager.example.yml "$root/alerts/"
  cp "$DIST/build/mailscope.1" "$root/man/"
  cp "$DIST/build/completions/"* "$root/completions/"
  tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
    -C "$DIST/build/tar" -cf - "$name" | gzip -9n > "$DIST/$name.tar.gz"
done

log "OCI image"
images=()
for arch in $ARCHES; do images+=(-binary "linux/$arch=$DIST/build/linux-$arch/mailscope"); done
go run ./tools/ociimage "${images[@]}" -version "$VERSION" -revision "$REVISION" \
  -license LICENSE -notices "$DIST/build/THIRD_PARTY_LICENSES" -o "$DIST/mailscope-$VERSION.oci.tar"

(cd "$DIST" && sha256sum -- *.tar.gz *.deb *.oci.tar > sha256sums.txt)
log "done: $DIST/"
ls -l "$DIST"
