#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script).
# On a fresh Debian 12 machine with Go, as root, it installs what the tests
# need (Debian packages, staticcheck) and then runs: gofmt check, go mod
# tidy check, go vet, staticcheck, the source lints of test/lint, unit tests under the race
# detector, and the end-to-end tests against real services. Safe to run
# again: installs are skipped when present.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real. Keep in sync with
# docs/development.md.
PACKAGES=(
  prometheus            # real Prometheus scraping the agent; promtool
  prometheus-alertmanager
  postfix               # postconf facts, real Postfix logs
  logrotate rsyslog     # the file follower's rotation and syslog tests
  systemd-journal-remote  # writes real journal files for the journald source's tests (read by journalctl)
  rbldnsd               # blocklist zones
  nsd                   # domain posture: the authoritative server of the test zones
  unbound               # domain posture: validating resolver in front of NSD (DANE needs the AD bit)
  ldnsutils             # domain posture: ldns-keygen/ldns-signzone sign the DANE test zone
  dovecot-imapd dovecot-lmtpd dovecot-sieve  # seed mailboxes: IMAP, LMTP delivery, Sieve filing into Junk
  pflogsumm             # the replay report's numbers are compared with pflogsumm's
  chromium              # headless: renders the replay's html report and the status page
  iproute2              # `ip link set lo up` in the tests' own network namespace (loopback_only)
)
STATICCHECK_VERSION=v0.8.2

# CI's environment may not have Go's directory on PATH.
command -v go >/dev/null 2>&1 || export PATH="/usr/local/go/bin:$PATH"

log() { printf '\n==> %s\n' "$*"; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  log "installing ${missing[*]}"
  # Postfix asks which setup it is for; the tests run their own instances.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_go_tools() {
  GOBIN="$(go env GOPATH)/bin"
  export PATH="$GOBIN:$PATH"
  if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
    log "installing staticcheck ${STATICCHECK_VERSION}"
    go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
  fi
  # The end-to-end test of the Debian package builds it with nfpm through
  # go run (scripts/release.sh pins the version): compile it once here, not
  # inside the test's time.
  local nfpm
  nfpm=$(sed -n 's/^NFPM="\(.*\)"$/\1/p' scripts/release.sh)
  go run "$nfpm" --version >/dev/null
}

install_packages
install_go_tools

log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi

log "go mod tidy"
if ! tidy=$(go mod tidy -diff 2>&1); then
  echo "go.mod or go.sum is not tidy (run: go mod tidy):" >&2
  echo "$tidy" | head -40 >&2
  exit 1
fi

log "go vet"
go vet ./...

log "staticcheck"
staticcheck ./...

# The module's own source-text checks (test/lint), e.g. that no test can
# query a real resolver through a production default.
log "source lints (test/lint)"
go test -count=1 ./test/lint/...

# Tests reach loopback only (docs/development.md). As root, the
# tests run in a network namespace of their own whose only interface is
# lo: no test, and no service or browser a test starts, can send a packet
# to any other address, whatever it is configured with (a default
# resolver from /etc/resolv.conf included; it answers "network is
# unreachable" there). What needs the network is done before: modules
# and tools above, Exim's packages below. Where a namespace cannot be
# made (not root), the tests run in the host's, with a warning.
loopback_only() {
  if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && unshare --net --fork -- ip link set lo up 2>/dev/null; then
    # Go reads modules from its own cache as a file proxy there (a go run
    # of a pinned tool still asks for the module's @latest).
    GOPROXY="file://$(go env GOMODCACHE)/cache/download" GOSUMDB=off GOTOOLCHAIN=local \
      unshare --net --fork -- sh -c 'ip link set lo up && exec "$@"' sh "$@"
  else
    echo "WARNING: no network namespace of their own (needs root, ip and unshare --net):" \
      "the tests run in the host's; they must still reach loopback only" >&2
    "$@"
  fi
}

# Unit and package tests, under the race detector. Compiled first, outside
# the namespace, so the module cache has everything they import.
log "go test -race (packages)"
pkgs=$(go list ./... | grep -v -e /test/e2e -e /test/lint)
go test -race -count=1 -run '^$' $pkgs >/dev/null
loopback_only go test -race -count=1 $pkgs

# End-to-end tests: the built binary against real services. The race
# detector adds nothing here (the agent runs as a separate process).
# Exim's packages come from the Debian mirror (apt-get download), so the
# test that unpacks them runs first, in the host's namespace.
log "go test (end-to-end)"
go test -count=1 -run '^TestEximPackagesUnpack$' ./test/e2e/
loopback_only go test -count=1 -timeout 20m ./test/e2e/...
