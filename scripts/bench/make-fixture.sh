#!/usr/bin/env bash
# make-fixture.sh DIR SCALE [BLOB_MB]
#
# Builds the benchmark input: DIR/src, a copy of examples/mysite (without its
# venv), and DIR/venv, the example venv (scripts/make-example-venv.sh,
# from Debian's packages, no __pycache__) plus SCALE copies of Django's tree as
# distinct distributions bigpkgN (each ~20.8 MB, 3,496 files, with a
# dist-info/METADATA), to model a large production venv. SCALE=8 gives
# ~192 MB in ~31.8k files, SCALE=36 four times the bytes and files.
#
# Debian's Django links some files into /usr/share/javascript with relative
# symlinks that would leave the tree; they are dereferenced (cp -L), as
# make-example-venv.sh does. mtimes are kept, so two runs give the same tree.
# BLOB_MB > 0 adds a distribution "bigblob" of BLOB_MB MB in files of 64 MB
# (tar archives of Django's tree, so they compress like the rest): more
# bytes without more files, the shape of a venv with large native wheels.
# A finished fixture is marked with DIR/.done and reused.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:?usage: make-fixture.sh DIR SCALE}
scale=${2:?usage: make-fixture.sh DIR SCALE [BLOB_MB]}
blob_mb=${3:-0}
dir=$(realpath -m "$dir")
stamp="scale=$scale blob=$blob_mb v2"
if [[ -f $dir/.done && $(cat "$dir/.done") == "$stamp" ]]; then
	exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/src"
# The project: examples/mysite's sources only. The venv is beside it, so
# that every contender packs the two trees as they are.
tar -C "$here/../examples/mysite" --exclude=./venv --exclude=./dist --exclude='*.sqlite3' \
	--exclude=__pycache__ --exclude=./rpmforge.toml -cf - . | tar -C "$dir/src" -xf -
"$here/make-example-venv.sh" "$dir/venv" >/dev/null
sp=$dir/venv/lib/python3.11/site-packages
dp=/usr/lib/python3/dist-packages
for i in $(seq 1 "$scale"); do
	cp -RL --preserve=mode,timestamps "$dp/django" "$sp/bigpkg$i"
	find "$sp/bigpkg$i" -depth -name __pycache__ -type d -exec rm -rf {} +
	mkdir -p "$sp/bigpkg$i-1.0.$i.dist-info"
	printf 'Metadata-Version: 2.1\nName: bigpkg%s\nVersion: 1.0.%s\nLicense: BSD-3-Clause\n' "$i" "$i" \
		>"$sp/bigpkg$i-1.0.$i.dist-info/METADATA"
done
if ((blob_mb > 0)); then
	mkdir -p "$sp/bigblob" "$sp/bigblob-1.0.dist-info"
	printf 'Metadata-Version: 2.1\nName: bigblob\nVersion: 1.0\nLicense: BSD-3-Clause\n' >"$sp/bigblob-1.0.dist-info/METADATA"
	left=$((blob_mb << 20)) k=0
	while ((left > 0)); do
		n=$((left < 64 << 20 ? left : 64 << 20))
		# head closes the pipe early: tar's SIGPIPE is expected, the size is checked
		{ for _ in 1 2 3; do tar -chf - -C "$dp" django 2>/dev/null; done | head -c "$n" >"$sp/bigblob/data$k.bin"; } || true
		[[ $(stat -c %s "$sp/bigblob/data$k.bin") == "$n" ]] || { echo "make-fixture: short blob $k" >&2; exit 1; }
		left=$((left - n)) k=$((k + 1))
	done
fi
echo "$stamp" >"$dir/.done"
read -r files bytes < <(find "$dir/src" "$dir/venv" -type f -printf '%s\n' | awk '{s+=$1} END {print NR, s}')
echo "make-fixture: $dir: $files files, $((bytes / 1000000)) MB (SCALE=$scale)"
