#!/usr/bin/env bash
# demo.sh: on a fresh Debian 12 / Ubuntu machine, install what the demo needs,
# build the bundled example Django app's venv, package it with rpmforge and
# show what was made. No arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need=()
for p in rpm dnf python3-django python3-venv python3-psycopg2 python3-gunicorn git cpio gnupg; do
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
printf '%%_dbpath /var/lib/rpm\n' > "$HOME/.rpmmacros"
trap 'rm -rf "$HOME"' EXIT
echo
echo "demo: $rpmfile"
rpm -qpi "$rpmfile" 2>/dev/null | sed -n '1,14p'
echo "  requires:"; rpm -qpR "$rpmfile" 2>/dev/null | grep -v "^rpmlib" | sort -u | sed 's/^/    /'
echo "  checksig: $(rpm --root "$HOME" -K "$rpmfile" 2>&1 | sed 's/^.*: //')"
echo "  files: $(rpm -qpl "$rpmfile" 2>/dev/null | wc -l)"

# ---- The release flow: sign, channels, serve, a host installs and upgrades ----
forge="$root/bin/rpmforge"
demo="$root/dist/demo"
rm -rf "$demo"; mkdir -p "$demo"
step() { printf '\n\033[1mdemo: %s\033[0m\n' "$*"; }

step "signing key (demo only: unprotected) -> dist/demo/keys/"
"$forge" key generate --name "mysite demo" --email demo@example.com --algo rsa4096 --out "$demo/keys/demo" >/dev/null
key="$demo/keys/demo.sec.asc"

step "build and sign v1 (release 1)"
(cd examples/mysite && "$forge" --quiet build --output "$demo/dist" --release 1 --sign-key "$key")
step "add v1 to dev, promote dev -> staging -> prod"
"$forge" repo add --root "$demo/repo" --channel dev --sign-key "$key" --keyring "$demo/keys/demo.pub.asc" -q "$demo"/dist/mysite-1.0.0-1.*.rpm
"$forge" repo promote --root "$demo/repo" --from dev --to staging --sign-key "$key" -q mysite
"$forge" repo promote --root "$demo/repo" --from staging --to prod --sign-key "$key" -q mysite
"$forge" repo list --root "$demo/repo" --channel prod

step "serve the repository root on loopback"
"$forge" serve --root "$demo/repo" --listen 127.0.0.1:0 --quiet > "$demo/serve.addr" 2>"$demo/serve.log" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null; rm -rf "$HOME"' EXIT
for _ in $(seq 50); do grep -q . "$demo/serve.addr" 2>/dev/null && break; sleep 0.1; done
url="http://$(grep -oE '127\.0\.0\.1:[0-9]+' "$demo/serve.addr" | head -1)"
echo "  $url"

step "a scratch host: /etc/yum.repos.d/mysite-prod.repo from client-config"
host="$demo/host"
mkdir -p "$host/etc/yum.repos.d"
"$forge" repo client-config --root "$demo/repo" --channel prod --baseurl "$url" --name mysite -o "$host/etc/yum.repos.d/mysite-prod.repo"
sed 's/^/    /' "$host/etc/yum.repos.d/mysite-prod.repo"
# What an EL9 host offers the package (/bin/sh, python3.11, useradd, libpq...),
# as a provides-only package; scriptlets are skipped (tsflags=noscripts) since
# this scratch root has no shell. The test suite runs them for real.
mkdir -p "$demo/base"
provides=$(rpm -qpR "$rpmfile" 2>/dev/null | grep -v '^rpmlib\|^config(' | sort -u | sed 's/^/Provides: /')
cat > "$demo/base/host-base.spec" <<SPEC
Name: demo-host-base
Version: 1
Release: 1
Summary: what a host offers the demo package
License: MIT
BuildArch: noarch
$provides
%description
Provides-only stand-in for an EL9 base system.
%files
SPEC
rpmbuild --quiet -bb --define "_topdir $demo/base/top" "$demo/base/host-base.spec" >/dev/null
rpm --root "$host" -i --nodeps --force-debian "$demo"/base/top/RPMS/noarch/demo-host-base-1-1.noarch.rpm
printf '[main]\ngpgcheck=1\nskip_if_unavailable=False\nplugins=0\n' > "$demo/dnf.conf"
dnf_host() {
  dnf -y -q --installroot="$host" --config="$demo/dnf.conf" --releasever=9 --noplugins \
      --setopt=reposdir="$host/etc/yum.repos.d" --setopt=tsflags=noscripts --refresh "$@"
}
step "host: dnf install mysite (gpgcheck=1, repo_gpgcheck=1)"
dnf_host install mysite
rpm --root "$host" -q mysite

step "build v2 (release 2), add to dev, promote to staging and prod"
(cd examples/mysite && "$forge" --quiet build --output "$demo/dist" --release 2 --sign-key "$key")
"$forge" repo add --root "$demo/repo" --channel dev --sign-key "$key" --keyring "$demo/keys/demo.pub.asc" -q "$demo"/dist/mysite-1.0.0-2.*.rpm
"$forge" repo promote --root "$demo/repo" --from dev --to staging --sign-key "$key" -q mysite
"$forge" repo promote --root "$demo/repo" --from staging --to prod --sign-key "$key" -q mysite
"$forge" repo history --root "$demo/repo" --channel prod

step "host: dnf upgrade"
dnf_host upgrade mysite
rpm --root "$host" -q mysite
for d in "$host"/var/cache/dnf/*/pubring; do [ -d "$d" ] && gpgconf --homedir "$d" --kill gpg-agent 2>/dev/null; done

step "inventory: the host's packages against prod, and what the channels publish"
collect=$("$forge" inventory collect-command --script)
(cd "$host" && eval "${collect//rpm -qa/rpm --root $host -qa}") | sed "s/^# host=.*/# host=demo-host.example.com/" > "$demo/demo-host.tsv"
cat > "$demo/hosts.toml" <<TOML
[hosts."demo-host.example.com"]
address = "127.0.0.1"
virtual = true
public = false
baseline = "demo"
os = "Enterprise Linux 9 (scratch root)"
asset_type = "Web server (demo)"
hardware = "scratch installroot"
in_latest_scan = true
diagram_label = "DEMO-1"
owner = "ops@example.com"
function = "mysite demo"
channel = "prod"
TOML
"$forge" inventory hosts --root "$demo/repo" --hosts "$demo/hosts.toml" --format fedramp-csv -o "$demo/inventory-fedramp.csv" "$demo/demo-host.tsv" 2>/dev/null
"$forge" inventory hosts --root "$demo/repo" --hosts "$demo/hosts.toml" --format html -o "$demo/inventory-hosts.html" "$demo/demo-host.tsv" 2>/dev/null
"$forge" inventory repo --root "$demo/repo" --format html -o "$demo/inventory-repo.html"
"$forge" inventory repo --root "$demo/repo" --format csv -o "$demo/inventory-repo.csv"

step "done"
cat <<SUMMARY
  packages:         $demo/dist/
  repository root:  $demo/repo/   (channels dev, staging, prod; served at $url while the demo ran)
  host root:        $host/   ($(rpm --root "$host" -q mysite))
  FedRAMP CSV:      $demo/inventory-fedramp.csv
  HTML reports:     $demo/inventory-hosts.html, $demo/inventory-repo.html
  SBOMs:            $demo/dist/*.cdx.json, *.spdx.json
SUMMARY
