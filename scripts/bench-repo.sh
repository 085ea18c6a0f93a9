#!/usr/bin/env bash
# bench-repo.sh: rpmforge repo publish against createrepo_c --no-database on
# a generated corpus (default 5000 packages, about 600 MB; cached in
# .cache/repo-corpus), run alternately, printing the median wall time, CPU
# time (user+sys) and peak RSS of each and their ratios:
#   full     publish from scratch (createrepo_c: new repodata)
#   add1     one package added to the published repo (createrepo_c --update)
#   remove1  that package removed again (createrepo_c --update)
#   noop     nothing changed (createrepo_c --update)
# The table goes to stdout as markdown, progress to stderr.
# Usage: scripts/bench-repo.sh [-n PACKAGES] [-r RUNS] [-d CORPUS_DIR]
# Needs createrepo_c and GNU time (/usr/bin/time); exits 1 without them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=5000 RUNS=5 CORPUS=.cache/repo-corpus
while getopts "n:r:d:" o; do
	case $o in
	n) N=$OPTARG ;; r) RUNS=$OPTARG ;; d) CORPUS=$OPTARG ;;
	*) echo "usage: $0 [-n PACKAGES] [-r RUNS] [-d CORPUS_DIR]" >&2; exit 2 ;;
	esac
done
for t in createrepo_c /usr/bin/time; do
	command -v "$t" >/dev/null || { echo "bench-repo: needs $t (apt-get install createrepo-c time)" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/extra"

# rpmforge runs as an installed copy (cp, as a download, rpm -i or
# install(1) leave it). The file the linker just wrote sits in the page
# cache in 2 MB folios, and every page of it the process touches maps the
# whole folio: the same binary then shows about 7 MB more peak RSS
# (measured: add one package 40 vs 31 MB). The linked file is measured
# too, once per run ("as linked" below the table).
go build -o "$work/rpmforge.linked" ./cmd/rpmforge
cp "$work/rpmforge.linked" "$work/rpmforge"
go build -o "$work/gen-corpus" ./scripts/gen-corpus
"$work/gen-corpus" -dir "$CORPUS" -n "$N" >&2
# The package added and removed: one more of the same corpus.
"$work/gen-corpus" -dir "$work/extra" -first "$N" -n 1 >/dev/null

export HOME=$work/home # createrepo_c and rpm must not touch the host's rpmdb
mkdir -p "$HOME"
echo "%_dbpath $work/rpmdb" >"$HOME/.rpmmacros"
extra=$(ls "$work"/extra/*.rpm)
rm -f "$CORPUS"/$(basename "$extra")
rm -rf "$CORPUS/repodata" "$CORPUS/.rpmforge"
cat "$CORPUS"/*.rpm >/dev/null # warm the page cache for both

results=$work/results
: >"$results"
# measure TOOL SCENARIO CMD...: appends "tool scenario wall cpu rss_kb".
measure() {
	local tool=$1 scen=$2
	shift 2
	/usr/bin/time -f "%e %U %S %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	awk -v t="$tool" -v s="$scen" '{ printf "%s %s %s %.3f %s\n", t, s, $1, $2 + $3, $4 }' "$work/t" >>"$results"
}
cr_out=$work/cr
crfull() { rm -rf "$cr_out"; mkdir -p "$cr_out"; measure createrepo_c "$1" createrepo_c --no-database --quiet -o "$cr_out" "$CORPUS"; }
crupd() { measure createrepo_c "$1" createrepo_c --no-database --quiet --update -o "$cr_out" "$CORPUS"; }
rffull() { rm -rf "$CORPUS/repodata" "$CORPUS/.rpmforge"; measure rpmforge "$1" "$work/rpmforge" repo publish --quiet "$CORPUS"; }
rfpub() { measure rpmforge "$1" "$work/rpmforge" repo publish --quiet "$CORPUS"; }

for ((i = 1; i <= RUNS; i++)); do
	echo "bench-repo: run $i of $RUNS" >&2
	# Alternate which tool goes first.
	if ((i % 2)); then crfull full; rffull full; else rffull full; crfull full; fi
	sleep 2 # let the files age out of rpmforge's racy window (see docs/repo.md)
	cp -p "$extra" "$CORPUS/"
	if ((i % 2)); then crupd add1; rfpub add1; else rfpub add1; crupd add1; fi
	rm -f "$CORPUS/$(basename "$extra")"
	if ((i % 2)); then crupd remove1; rfpub remove1; else rfpub remove1; crupd remove1; fi
	if ((i % 2)); then crupd noop; rfpub noop; else rfpub noop; crupd noop; fi
	# The binary as the linker left it, adding the same package.
	sleep 2
	cp -p "$extra" "$CORPUS/"
	measure rpmforge-linked add1 "$work/rpmforge.linked" repo publish --quiet "$CORPUS"
	rm -f "$CORPUS/$(basename "$extra")"
	"$work/rpmforge" repo publish --quiet "$CORPUS" >/dev/null
done
"$work/rpmforge" repo check "$CORPUS" >&2

size=$(du -sh "$CORPUS" | cut -f1)
# The table, in markdown, on stdout (scripts/bench.sh puts it in
# docs/benchmarks.md); everything else went to stderr.
echo "rpmforge repo publish vs createrepo_c 0.17.3 --no-database: $N packages ($size), medians of $RUNS alternated runs," \
	"$(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), load average $(cut -d' ' -f1 /proc/loadavg) at the end."
echo
echo "| scenario | createrepo_c wall / CPU / peak RSS | rpmforge wall / CPU / peak RSS | rpmforge ÷ createrepo_c: wall, CPU, RSS |"
echo "|---|---|---|---|"
awk '
function median(arr, n,   i, j, t) {
	for (i = 2; i <= n; i++) { t = arr[i]; for (j = i - 1; j >= 1 && arr[j] > t; j--) arr[j+1] = arr[j]; arr[j+1] = t }
	return (n % 2) ? arr[(n+1)/2] : (arr[n/2] + arr[n/2+1]) / 2
}
{ k = $1 SUBSEP $2; n[k]++; w[k, n[k]] = $3; c[k, n[k]] = $4; r[k, n[k]] = $5; if (!($2 in seen)) { seen[$2] = 1; order[++ns] = $2 } }
END {
	label["full"] = "full publish"; label["add1"] = "add 1 package"; label["remove1"] = "remove 1 package"; label["noop"] = "nothing changed"
	for (s = 1; s <= ns; s++) {
		sc = order[s]
		for (t = 1; t <= 2; t++) {
			tool = (t == 1) ? "createrepo_c" : "rpmforge"; k = tool SUBSEP sc
			delete a; for (i = 1; i <= n[k]; i++) a[i] = w[k, i]; mw[t] = median(a, n[k])
			delete a; for (i = 1; i <= n[k]; i++) a[i] = c[k, i]; mc[t] = median(a, n[k])
			delete a; for (i = 1; i <= n[k]; i++) a[i] = r[k, i]; mr[t] = median(a, n[k])
		}
		printf "| %s | %.2f s / %.2f s / %.0f MB | %.2f s / %.2f s / %.0f MB | %.2f, %.2f, %.2f |\n", label[sc],
			mw[1], mc[1], mr[1] / 1024, mw[2], mc[2], mr[2] / 1024,
			mw[2] / mw[1], (mc[1] > 0 ? mc[2] / mc[1] : 0), mr[2] / mr[1]
		if (sc == "add1") crAdd = mr[1]
	}
	k = "rpmforge-linked" SUBSEP "add1"
	if (n[k] > 0) {
		delete a; for (i = 1; i <= n[k]; i++) a[i] = r[k, i]
		m = median(a, n[k])
		printf "\nrpmforge runs as an installed copy of the binary. The same binary as the linker left it (2 MB page-cache folios), adding one package: peak RSS %.0f MB (%.2f of createrepo_c), median of %d.\n", m / 1024, m / crAdd, n[k]
	}
}' "$results"
