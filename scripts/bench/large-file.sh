#!/usr/bin/env bash
# large-file.sh RPMFORGE FIXTURE WORKDIR RPMHOME
#
# Packages a sparse file of 4 GiB + 12345 bytes (data at both ends) with
# `rpmforge build` beside a small Django project (FIXTURE from
# make-fixture.sh), checks the package with rpm -K and its 64-bit size tags,
# installs it with rpm -i into a scratch root (rpm2cpio refuses files over
# 4 GiB by design) and compares the installed file's size and SHA-256 with
# the original. RPMHOME is a private HOME whose .rpmmacros sets %_dbpath.
# Prints one line with the result; exits non-zero on any mismatch.
# Needs about 4.5 GB of free disk in WORKDIR.
set -euo pipefail
rpmforge=${1:?usage: large-file.sh RPMFORGE FIXTURE WORKDIR RPMHOME}
fixture=${2:?}
work=${3:?}
export HOME=${4:?}
size=$((4 * 1024 * 1024 * 1024 + 12345))
mkdir -p "$work"
big=$work/big.img
rm -f "$big"
truncate -s "$size" "$big"
printf start | dd of="$big" conv=notrunc status=none
printf end | dd of="$big" bs=1 seek=$((size - 3)) conv=notrunc status=none
sha() { python3 -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    while b := f.read(1 << 20):
        h.update(b)
print(h.hexdigest())' "$1"; }
want=$(sha "$big")

cat >"$work/rpmforge.toml" <<EOF
[package]
name = "bigfile"
version = "1.0.0"
license = "BSD-3-Clause"
changelog = 0
buildhost = "bench"
[project]
dir = "$fixture/src"
[venv]
path = "$fixture/venv"
[django]
settings = "mysite.settings"
wsgi = "mysite.wsgi:application"
collectstatic = false
compile = false
[build]
compression = "zstd:3"
[[files]]
source = "$big"
dest = "/opt/bigfile/data/big.img"
EOF
/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$rpmforge" build --config "$work/rpmforge.toml" --output "$work/out" >&2
read -r wall user sys rss <"$work/time"
pkg=$work/out/bigfile-1.0.0-1.x86_64.rpm
rm -f "$big" # before installing: room for the installed copy

root=$work/root
mkdir -p "$root"
rpm --root "$root" -K "$pkg" >&2
q=$(rpm --root "$root" -qp --qf '%{LONGSIZE} [%{REQUIRENAME} ]' "$pkg" 2>/dev/null)
[[ $q == *rpmlib\(LargeFiles\)* ]] || { echo "no rpmlib(LargeFiles) in: $q" >&2; exit 1; }
rpm --root "$root" -i --nodeps --noscripts --force-debian "$pkg" >&2
inst=$root/opt/bigfile/data/big.img
got_size=$(stat -c %s "$inst")
got=$(sha "$inst")
rm -rf "$root"
if [[ $got_size != "$size" || $got != "$want" ]]; then
	echo "installed big.img: $got_size bytes, sha256 $got; want $size bytes, sha256 $want" >&2
	exit 1
fi
printf 'ok: %d bytes (4 GiB + 12345) installed by rpm -i with the same sha256 (%s…); build %.1f s wall, %.1f s CPU, %d MB peak RSS, package %d bytes (zstd:3)\n' \
	"$size" "${want:0:12}" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" $((rss / 1024)) "$(stat -c %s "$pkg")"
