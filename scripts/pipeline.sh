#!/usr/bin/env bash
# pipeline.sh: the CI pipeline of examples/ci/ (Jenkinsfile, GitHub Actions) as
# one script, end to end, on this machine: build the app's RPM with
# BUILD_NUMBER as its release, signed -> add to dev -> check-install against
# prod -> promote to staging -> (CI: manual approval) -> promote to prod ->
# serve the root on loopback and fetch every channel's repomd.xml -> check the
# root -> export the inventory report.
#
# Environment:
#   RPMFORGE_SIGNING_KEY  the armored private key (from a CI credential/secret;
#                         never written to disk by this script). Required.
#   RPMFORGE_KEY_PASSPHRASE   its passphrase, if it has one.
#   RPMFORGE_PUBLIC_KEY   file with the public key: packages are checked against
#                         it (--keyring, --require-key with RPMFORGE_KEY_FPR).
#   BUILD_NUMBER          the RPM release (default 1).
#   APP_DIR               the app to package (default examples/mysite).
#   REPO_ROOT             the repository root (default $WORK_DIR/repo).
#   WORK_DIR              where dist/ and artifacts/ go (default: a new temp dir).
#   RPMFORGE              the rpmforge binary (default: built into $WORK_DIR/bin).
#   CHECK_INSTALL         "skip" skips the check-install stage.
# Prints "pipeline: <stage>: ok ..." per stage; exits non-zero at the first
# failure.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)

: "${RPMFORGE_SIGNING_KEY:?set RPMFORGE_SIGNING_KEY to the armored private key (a CI secret)}"
export RPMFORGE_SIGNING_KEY
BUILD_NUMBER=${BUILD_NUMBER:-1}
export BUILD_NUMBER
app=$(realpath "${APP_DIR:-examples/mysite}")
work=${WORK_DIR:-$(mktemp -d)}
mkdir -p "$work"
work=$(realpath "$work")
root=${REPO_ROOT:-$work/repo}
dist=$work/dist/$BUILD_NUMBER
artifacts=$work/artifacts
mkdir -p "$dist" "$artifacts"

stage() { printf 'pipeline: %s\n' "$*"; }

forge=${RPMFORGE:-}
if [ -z "$forge" ]; then
	forge=$work/bin/rpmforge
	go build -o "$forge" ./cmd/rpmforge
fi
stage "build-tool: ok $("$forge" --version 2>/dev/null | head -1)"

keyring=()
if [ -n "${RPMFORGE_PUBLIC_KEY:-}" ]; then
	keyring=(--keyring "$RPMFORGE_PUBLIC_KEY")
	[ -n "${RPMFORGE_KEY_FPR:-}" ] && keyring+=(--require-key "$RPMFORGE_KEY_FPR")
fi

# 1. Build and sign (the key comes from $RPMFORGE_SIGNING_KEY).
(cd "$app" && "$forge" --quiet build --output "$dist" --release "$BUILD_NUMBER")
rpms=("$dist"/*-"$BUILD_NUMBER".*.rpm)
[ -e "${rpms[0]}" ] || { echo "pipeline: build: no RPM with release $BUILD_NUMBER in $dist" >&2; exit 1; }
nvr=$(basename "${rpms[0]}" | sed -E 's/\.[^.]+\.rpm$//') # NAME-VERSION-RELEASE
name=$(sed -E 's/-[^-]+-[^-]+$//' <<<"$nvr")
stage "build: ok ${rpms[*]##*/}"

# 2. Add to dev.
"$forge" repo add --root "$root" --channel dev -q "${keyring[@]}" "${rpms[@]}"
stage "add-dev: ok $nvr"

# 3. Check-install the dev candidate against what prod hosts run.
if [ "${CHECK_INSTALL:-}" = skip ]; then
	stage "check-install: skipped (CHECK_INSTALL=skip)"
elif ! "$forge" check-install --help >/dev/null 2>&1; then
	stage "check-install: skipped (this rpmforge has no check-install command yet)"
else
	"$forge" check-install --root "$root" --channel dev --from-channel prod --junit "$artifacts/check-install.xml" "$name"
	stage "check-install: ok (JUnit report $artifacts/check-install.xml)"
fi

# 4. Promote to staging.
"$forge" repo promote --root "$root" --from dev --to staging -q "${keyring[@]}" "$nvr"
stage "promote-staging: ok $nvr"

# 5. Manual approval: in CI only (examples/ci/).

# 6. Promote to prod.
"$forge" repo promote --root "$root" --from staging --to prod -q "${keyring[@]}" "$nvr"
stage "promote-prod: ok $nvr"

# 7. Serve on loopback; every channel's repomd.xml and its signature answer.
"$forge" serve --root "$root" --listen 127.0.0.1:0 --quiet >"$work/serve.addr" 2>"$work/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q 127.0.0.1 "$work/serve.addr" 2>/dev/null && break; sleep 0.1; done
url="http://$(grep -oE '127\.0\.0\.1:[0-9]+' "$work/serve.addr" | head -1)"
for ch in dev staging prod; do
	curl -fsS "$url/$ch/repodata/repomd.xml" -o "$work/repomd-$ch.xml"
	curl -fsS "$url/$ch/repodata/repomd.xml.asc" -o /dev/null
done
kill $serve_pid 2>/dev/null || true
wait $serve_pid 2>/dev/null || true
trap - EXIT
stage "serve: ok $url served dev, staging and prod"

# 8. Check the root and export the inventory report.
"$forge" repo check-root --root "$root" >"$artifacts/check-root.txt"
stage "check-root: ok $(tr '\n' ';' <"$artifacts/check-root.txt")"
"$forge" repo list --root "$root" --channel prod --json >"$artifacts/prod.json"
"$forge" inventory repo --root "$root" --format html -o "$artifacts/inventory-repo.html"
stage "inventory: ok $artifacts/inventory-repo.html"
stage "done: $name release $BUILD_NUMBER is in prod; artifacts in $artifacts"
