#!/usr/bin/env bash
# bench.sh: `make bench`. Compares `rpmforge build` with rpmbuild and nfpm
# packing the same Django project + virtualenv, checks that memory stays flat
# on a venv four times larger and that a file over 4 GiB round-trips through
# rpm, then runs the repository benchmark (scripts/bench-repo.sh, rpmforge repo
# publish vs createrepo_c) when it exists. Prints a table of medians and
# writes it into docs/benchmarks.md (between the bench:begin/end markers).
#
# Not part of `make test`. Exits non-zero only when a contender or a tool the
# measurements need is missing (or when generating the inputs fails); a target
# that is not met is reported, not fatal.
#
# Environment:
#   RUNS=3         runs of each contender, alternated A B C A B C (medians)
#   SCALE=8        Django copies in the venv (8: ~191 MB, ~31.8k files)
#   BIG_SCALE=36   the venv four times larger, for the peak-RSS check (0 skips);
#                  also a venv of SCALE with four times the bytes in large files
#   XZ=1           include the xz rows (the slow ones; 0 skips)
#   LARGE=1        package and install a sparse file over 4 GiB (0 skips)
#   FULL=1         time collectstatic and byte-compilation (0 skips)
#   REPO=1         run scripts/bench-repo.sh if present (0 skips)
#   DOC=docs/benchmarks.md   where the results go ("" to leave it alone)
#   BENCH_CACHE=.cache/bench generated inputs and the nfpm binary, reused
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
runs=${RUNS:-3}
scale=${SCALE:-8}
big_scale=${BIG_SCALE:-36}
cache=$(realpath -m "${BENCH_CACHE:-$root/.cache/bench}")
doc=${DOC-docs/benchmarks.md}
nfpm_version=v2.45.0 # v2.45.2 is the fallback known to build
bench_start=$SECONDS

say() { printf 'bench: %s\n' "$*" >&2; }
missing() {
	say "MISSING: $*"
	exit 1
}

# --- contenders and tools ----------------------------------------------------
for tool in rpmbuild rpm createrepo_c go python3 cpio; do
	command -v "$tool" >/dev/null || missing "$tool (apt-get install rpm createrepo-c cpio python3; Go 1.26)"
done
[[ -x /usr/bin/time ]] && /usr/bin/time -f %e true 2>/dev/null || missing "GNU time at /usr/bin/time (apt-get install time)"
python=/usr/bin/python3.11
[[ -x $python ]] || missing "$python (apt-get install python3.11 python3-venv python3-django)"

mkdir -p "$cache/bin"
say "building rpmforge"
go build -trimpath -o "$cache/bin/rpmforge" ./cmd/rpmforge
rpmforge=$cache/bin/rpmforge
nfpm=$cache/bin/nfpm
if [[ ! -x $nfpm ]]; then
	for v in "$nfpm_version" v2.45.2; do
		say "building nfpm $v (once, into $cache/bin)"
		if (cd "$cache" && GOBIN=$cache/bin GOFLAGS=-buildvcs=false go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$v") >&2; then
			break
		fi
	done
	[[ -x $nfpm ]] || missing "nfpm (go install github.com/goreleaser/nfpm/v2/cmd/nfpm@$nfpm_version failed)"
fi
nfpm_mod=$(go version -m "$nfpm" | awk '$2 == "github.com/goreleaser/nfpm/v2" {print $3}')
rpmpack_mod=$(go version -m "$nfpm" | awk '$2 == "github.com/google/rpmpack" {print $3}')

# --- inputs ---------------------------------------------------------------------
fixture=$cache/fixture-$scale
say "generating the venv fixture (SCALE=$scale) in $fixture"
scripts/bench/make-fixture.sh "$fixture" "$scale" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/rpmforge-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
results=$work/results.tsv
: >"$results"

# rpmforge.toml and nfpm.yaml for each compression, beside src/ and venv/.
write_configs() { # DIR
	local d=$1 c
	for c in gzip:6 zstd:3 xz:6; do
		scripts/bench/configs.sh rpmforge "$c" false >"$d/rpmforge-${c%%:*}.toml"
		scripts/bench/configs.sh nfpm "$c" >"$d/nfpm-${c%%:*}.yaml"
	done
	scripts/bench/configs.sh rpmforge gzip:6 true >"$d/rpmforge-full.toml"
}
write_configs "$fixture"

# Reads every input file once, so that no contender pays for a cold cache.
warm() { find "$1/src" "$1/venv" -type f -print0 | xargs -0 cat >/dev/null; }

# --- measurement --------------------------------------------------------------
# measure GROUP NAME OUTFILE CMD...: runs CMD under GNU time and appends
# group, name, wall s, user s, sys s, peak RSS KB, output bytes, rpmforge's
# step_ms JSON to $results. OUTFILE is the package the command writes.
measure() {
	local group=$1 name=$2 out=$3
	shift 3
	local t=$work/time.txt log=$work/log.txt
	rm -f "$out"
	if ! /usr/bin/time -f '%e %U %S %M' -o "$t" "$@" >"$work/stdout" 2>"$log"; then
		say "$group/$name failed:"
		tail -20 "$work/stdout" "$log" >&2
		exit 1
	fi
	local size steps
	size=$(stat -c %s "$out")
	# rpmforge --json: keep its step_ms and step_cpu_ms
	steps=$(python3 -c 'import json, sys
try:
    r = json.load(sys.stdin)
except ValueError:
    r = {}
print(json.dumps({k: r[k] for k in ("step_ms", "step_cpu_ms") if k in r}))' <"$work/stdout")
	read -r wall user sys rss <"$t"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$name" "$wall" "$user" "$sys" "$rss" "$size" "$steps" >>"$results"
	say "$(printf '%-8s %-9s wall %6.2fs  cpu %6.2fs  rss %5d MB  %s bytes' "$group" "$name" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" $((rss / 1024)) "$size")"
	rm -f "$out"
}

# Private HOME and dbpath for every rpm/rpmbuild call (Debian's rpm keeps its
# database under ~).
rpmhome=$work/home
mkdir -p "$rpmhome" "$work/rpmdb"
printf '%%_dbpath %s/rpmdb\n' "$work" >"$rpmhome/.rpmmacros"

run_rpmforge() { # GROUP DIR CONFIG
	measure "$1" rpmforge "$work/out/benchapp-1.0.0-1.x86_64.rpm" \
		env SOURCE_DATE_EPOCH=1700000000 "$rpmforge" build --config "$2/$3" --output "$work/out" --json
}
run_nfpm() { # GROUP DIR CONFIG
	mkdir -p "$work/out"
	measure "$1" nfpm "$work/out/nfpm.rpm" \
		env -C "$2" SOURCE_DATE_EPOCH=1700000000 "$nfpm" package --config "$3" --packager rpm --target "$work/out/nfpm.rpm"
}
run_rpmbuild() { # GROUP DIR PAYLOAD [NAME]
	local top=$work/rpmbuild
	rm -rf "$top"
	measure "$1" "${4:-rpmbuild}" "$top/RPMS/x86_64/benchapp-1.0.0-1.x86_64.rpm" \
		env HOME="$rpmhome" SOURCE_DATE_EPOCH=1700000000 rpmbuild -bb --quiet \
		--define "_topdir $top" --define "benchdir $2" --define "_binary_payload $3" \
		--define "__os_install_post %{nil}" --define "_build_id_links none" --define "debug_package %{nil}" \
		--define "__pythondist_provides %{nil}" --define "__pythondist_requires %{nil}" \
		specs/bench-rpmbuild.spec
	rm -rf "$top"
}

machine() {
	local cpu
	cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
	echo "$(nproc) cores (${cpu:-unknown CPU}), $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr), $(go version | awk '{print $3}'), rpm $(rpm --version | awk '{print $3}'), createrepo_c $(createrepo_c --version | awk '{print $2}'), nfpm $nfpm_mod (rpmpack $rpmpack_mod)"
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- packing the same trees -----------------------------------------------------
warm "$fixture"
groups=(gzip zstd)
[[ ${XZ:-1} == 0 ]] || groups+=(xz)
for g in "${groups[@]}"; do
	case $g in
	gzip) payload=w6.gzdio ;;
	zstd) payload=w3T0.zstdio ;;
	xz) payload=w6T0.xzdio ;;
	esac
	for r in $(seq 1 "$runs"); do
		say "$g: round $r of $runs"
		run_rpmforge "$g" "$fixture" "rpmforge-$g.toml"
		run_nfpm "$g" "$fixture" "nfpm-$g.yaml"
		run_rpmbuild "$g" "$fixture" "$payload"
	done
done
# rpmbuild as Debian configures it (gzip -9), for reference: once.
run_rpmbuild gzip-9 "$fixture" w9.gzdio rpmbuild

# --- build steps the contenders do not do --------------------------------------
if [[ ${FULL:-1} != 0 ]]; then
	for r in $(seq 1 "$runs"); do
		say "collectstatic + bytecode: round $r of $runs"
		run_rpmforge full "$fixture" rpmforge-full.toml
	done
fi

# --- peak RSS on a venv four times larger --------------------------------------------
if [[ $big_scale != 0 ]]; then
	big=$cache/fixture-$big_scale
	say "generating the large venv fixture (SCALE=$big_scale) in $big"
	scripts/bench/make-fixture.sh "$big" "$big_scale" >&2
	write_configs "$big"
	# The same number of files with four times the bytes (large files, as
	# native wheels have): memory must not depend on the bytes at all.
	blob=$cache/fixture-$scale-blob$((3 * 191 * scale / 8))
	scripts/bench/make-fixture.sh "$blob" "$scale" $((3 * 191 * scale / 8)) >&2
	write_configs "$blob"
	warm "$big"
	warm "$blob"
	for r in $(seq 1 "$runs"); do
		say "4x venv: round $r of $runs"
		run_rpmforge gzip-4x "$big" rpmforge-gzip.toml
		run_rpmforge gzip-4xb "$blob" rpmforge-gzip.toml
		run_rpmforge gzip-1x "$fixture" rpmforge-gzip.toml # the 1x run, interleaved
	done
	run_nfpm gzip-4x "$big" nfpm-gzip.yaml
	run_nfpm gzip-4xb "$blob" nfpm-gzip.yaml
fi

# --- a file over 4 GiB ------------------------------------------------------------
large_status="skipped (LARGE=0)"
if [[ ${LARGE:-1} != 0 ]]; then
	say "packaging a sparse file of 4 GiB + 12345 bytes"
	scripts/bench/make-fixture.sh "$cache/fixture-0" 0 >&2
	if large_status=$(scripts/bench/large-file.sh "$rpmforge" "$cache/fixture-0" "$work/large" "$rpmhome" 2>"$work/large.log"); then
		say "large file: $large_status"
	else
		cat "$work/large.log" >&2
		large_status="FAILED: ${large_status:-see the log}"
		say "large file: $large_status"
	fi
	rm -rf "$work/large"
fi

# --- repository publishing --------------------------------------------------------
repo_md="" repo_rc=0
if [[ ${REPO:-1} != 0 ]]; then
	if [[ -x scripts/bench-repo.sh ]]; then
		say "running scripts/bench-repo.sh"
		if scripts/bench-repo.sh >"$work/repo.md"; then
			cat "$work/repo.md"
		else
			repo_rc=$?
			say "scripts/bench-repo.sh failed (exit $repo_rc)"
			printf 'scripts/bench-repo.sh failed (exit %s) in this run; see its output above.\n' "$repo_rc" >"$work/repo.md"
		fi
		repo_md=$work/repo.md
	else
		# HOOK: scripts/bench-repo.sh (rpmforge repo publish vs createrepo_c on
		# 5000 RPMs) is being written separately; once it exists and is
		# executable, this runs it and puts its output (markdown) in the docs.
		say "scripts/bench-repo.sh not there yet: repository benchmark skipped"
	fi
fi

python3 scripts/bench/report.py --results "$results" --machine "$(machine)" --load "$load_start" \
	--runs "$runs" --fixture "$fixture" --scale "$scale" --big-scale "$big_scale" \
	--large "$large_status" --repo "$repo_md" --doc "$doc" --elapsed $((SECONDS - bench_start))
# bench-repo.sh exits non-zero when its contender is missing: pass that on.
exit "$repo_rc"
