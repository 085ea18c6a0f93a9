#!/usr/bin/env bash
# demo.sh: on a fresh Debian 12 / Ubuntu machine, install what the demo needs,
# build the bundled example Django app's venv, package it with rpmforge and
# show what was made. No arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
for p in rpm dnf python3-django python3-venv python3-psycopg2 python3-gunicorn git cpio; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  echo "demo: installing ${need[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "demo: Go 1.26 is required (https://go.dev/dl/)" >&2; exit 1; }

echo "demo: building rpmforge"
go build -o bin/rpmforge ./cmd/rpmforge

echo "demo: creating the example venv (examples/mysite/venv)"
./scripts/make-example-venv.sh examples/mysite/venv

echo "demo: packaging examples/mysite"
cd examples/mysite
"$root/bin/rpmforge" build --output "$root/dist"
cd "$root"

rpmfile=$(ls -t dist/*.rpm | head -1)
export HOME=$(mktemp -d)   # Debian's rpm keeps its db under ~; keep the host's untouched
printf '%%_dbpath %s/rpmdb\n' "$HOME" > "$HOME/.rpmmacros"
echo
echo "demo: $rpmfile"
rpm -qpi "$rpmfile" 2>/dev/null | sed -n '1,14p'
echo "  requires:"; rpm -qpR "$rpmfile" 2>/dev/null | grep -v "^rpmlib" | sort -u | sed 's/^/    /'
echo "  checksig: $(rpm -K "$rpmfile" 2>&1 | sed 's/^.*: //')"
echo "  files: $(rpm -qpl "$rpmfile" 2>/dev/null | wc -l)"
rm -rf "$HOME"
