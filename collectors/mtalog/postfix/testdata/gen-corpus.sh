#!/usr/bin/env bash
# Regenerates testdata/real-postfix.log with the project's corpus generator,
# bench/postfix-corpus.sh (a private loopback Postfix, smtp-source and
# smtp-sink, a real Dovecot auth service; see its header), which also
# cross-checks the counts against pflogsumm, an awk count and
# `mailscope replay`. Run as root:  testdata/gen-corpus.sh [OUT.log]
# (default: testdata/real-postfix.log). Goldens that read the corpus must be
# regenerated after it changes (go test -update in the packages that have
# the flag).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/../../../../bench/postfix-corpus.sh" "${1:-$here/real-postfix.log}"
