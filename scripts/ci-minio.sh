#!/usr/bin/env bash
# ci-minio.sh: builds the MinIO server that the S3 tests (internal/miniotest)
# run, into ${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin/minio, and prints
# its path. Idempotent: when a working binary of the pinned version is already
# there it only prints the path.
#
# MinIO is AGPL-3.0. It is used only as a separate test server process started
# by the tests; it is never linked into rpmforge, nor shipped with it.
#
# Environment:
#   MINIO_VERSION   module version to build (default: the pin below)
set -euo pipefail

version="${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"
bindir="${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin"
bin="$bindir/minio"

# current: the binary runs and, when go can tell, is the pinned version.
current() {
	[ -x "$bin" ] || return 1
	"$bin" --version >/dev/null 2>&1 || return 1
	if command -v go >/dev/null 2>&1; then
		go version -m "$bin" 2>/dev/null |
			awk -v v="$version" '$1 == "mod" && $2 == "github.com/minio/minio" { found = ($3 == v) } END { exit !found }'
	fi
}

if ! current; then
	command -v go >/dev/null 2>&1 || { echo "ci-minio.sh: go is needed to build MinIO" >&2; exit 1; }
	mkdir -p "$bindir"
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	echo "ci-minio.sh: building github.com/minio/minio@$version (a few minutes)..." >&2
	# Outside any module, so that rpmforge's go.mod is neither used nor touched.
	(cd "$tmp" && GOBIN="$bindir" GOFLAGS=-mod=mod GOWORK=off \
		go install "github.com/minio/minio@$version")
	"$bin" --version >/dev/null
fi
echo "$bin"
