#!/usr/bin/env bash
# ci-seaweedfs.sh: builds the SeaweedFS server ("weed") that the second set of
# S3 tests (internal/seaweedtest) runs, into
# ${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin/weed, and prints its path.
# Idempotent: when a working binary of the pinned version is already there it
# only prints the path.
#
# SeaweedFS is Apache-2.0. It is used only as a separate test server process
# started by the tests; it is never linked into rpmforge, nor shipped with it.
#
# `go install module@version` refuses SeaweedFS (its go.mod has replace
# directives), so the module is downloaded from the module proxy, copied to a
# writable temporary directory and built there with `go build`. This takes
# several minutes on a cold cache.
#
# Environment:
#   SEAWEEDFS_VERSION   module version to build (default: the pin below)
set -euo pipefail

module="github.com/seaweedfs/seaweedfs"
version="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
bindir="${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin"
bin="$bindir/weed"
# A binary built inside its own module reports "(devel)" to `go version -m`,
# so the version built is recorded next to it.
stamp="$bin.version"

# current: the binary runs and was built from the pinned version.
current() {
	[ -x "$bin" ] || return 1
	"$bin" version >/dev/null 2>&1 || return 1
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$module@$version" ]
}

if ! current; then
	command -v go >/dev/null 2>&1 || { echo "ci-seaweedfs.sh: go is needed to build SeaweedFS" >&2; exit 1; }
	mkdir -p "$bindir"
	tmp="$(mktemp -d)"
	trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
	echo "ci-seaweedfs.sh: building $module@$version (several minutes)..." >&2
	# Outside any module, so that rpmforge's go.mod is neither used nor touched.
	dir="$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$module@$version" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	[ -n "$dir" ] && [ -d "$dir" ] || { echo "ci-seaweedfs.sh: go mod download gave no directory for $module@$version" >&2; exit 1; }
	cp -R "$dir" "$tmp/src"
	chmod -R u+w "$tmp/src"
	(cd "$tmp/src" && GOWORK=off GOFLAGS="-mod=mod -buildvcs=false" \
		go build -o "$tmp/weed" ./weed)
	"$tmp/weed" version >/dev/null
	# Replace atomically: a concurrent test may be starting the old binary.
	mv -f "$tmp/weed" "$bin.new.$$"
	mv -f "$bin.new.$$" "$bin"
	echo "$module@$version" >"$stamp"
fi
echo "$bin"
