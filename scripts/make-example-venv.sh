#!/usr/bin/env bash
# make-example-venv.sh [VENV_DIR]
#
# Builds the virtualenv of examples/mysite from Debian 12 packages only (no PyPI):
# a Python 3.11 venv made --without-pip holding django, asgiref, sqlparse, pytz,
# gunicorn, psycopg2 (compiled, links libpq.so.5), setuptools, pkg_resources and
# _distutils_hack. Most distributions keep Debian's *.egg-info; gunicorn and
# sqlparse get a pip-style *.dist-info with a RECORD (sha256, urlsafe base64) that
# lists their console scripts bin/gunicorn and bin/sqlformat, written as pip writes
# them with the venv's absolute shebang. No __pycache__ is copied or created.
#
# VENV_DIR defaults to examples/mysite/venv. Running again rebuilds it from
# scratch, so the result is the same every time. Missing Debian packages are
# installed with apt-get (as root) only when something is missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=$(realpath -m "${1:-$here/../examples/mysite/venv}")

pkgs=(python3.11 python3-venv python3-django python3-asgiref python3-sqlparse python3-tz
	python3-gunicorn python3-psycopg2 libpq5 python3-setuptools python3-pkg-resources
	libjs-jquery) # django's admin jquery.js is a link into libjs-jquery (only Recommended)
need=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
if ((${#need[@]})); then
	if ((EUID != 0)); then
		echo "make-example-venv: missing Debian packages (run as root or install): ${need[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

py=/usr/bin/python3.11 # not whatever python3.11 is first on PATH (pyenv shims)
dp=/usr/lib/python3/dist-packages
export PYTHONDONTWRITEBYTECODE=1

# Refuse to wipe a directory that is not a venv.
if [[ -e $venv && ! -f $venv/pyvenv.cfg ]] && [[ -n $(ls -A "$venv" 2>/dev/null) ]]; then
	echo "make-example-venv: $venv exists and is not a virtualenv; not touching it" >&2
	exit 1
fi
rm -rf "$venv"
"$py" -m venv --without-pip "$venv"
sp=$venv/lib/python3.11/site-packages

for name in django Django-*.egg-info asgiref asgiref-*.egg-info sqlparse sqlparse-*.egg-info \
	pytz pytz-*.egg-info gunicorn gunicorn-*.egg-info psycopg2 psycopg2-*.egg-info \
	setuptools setuptools-*.egg-info pkg_resources _distutils_hack distutils-precedence.pth; do
	found=
	for m in "$dp"/$name; do
		[[ -e $m ]] || continue
		# -L: Debian links some files to other packages by relative symlinks
		# (django's admin jquery.js -> /usr/share/javascript); pip installs
		# real files, and a copied relative link would dangle.
		cp -RL --preserve=mode,timestamps "$m" "$sp/"
		found=1
	done
	[[ -n $found ]] || { echo "make-example-venv: $dp/$name not found" >&2; exit 1; }
done
find "$sp" -depth -name __pycache__ -type d -exec rm -rf {} +

# Console scripts in the form pip (distlib) writes them.
script() { # script NAME MODULE FUNC
	cat >"$venv/bin/$1" <<EOF
#!$venv/bin/python3.11
# -*- coding: utf-8 -*-
import re
import sys
from $2 import $3
if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\.pyw|\.exe)?\$', '', sys.argv[0])
    sys.exit($3())
EOF
	chmod 755 "$venv/bin/$1"
}
script gunicorn gunicorn.app.wsgiapp run
script sqlformat sqlparse.__main__ main

# Turn the egg-info of gunicorn and sqlparse into the dist-info pip would write.
"$py" -I -B - "$sp" gunicorn:gunicorn sqlparse:sqlformat <<'PY'
import base64, csv, glob, hashlib, os, shutil, sys

sp = sys.argv[1]
for arg in sys.argv[2:]:
    name, script = arg.split(":")
    egg = glob.glob(os.path.join(sp, name + "-*.egg-info"))[0]
    version = os.path.basename(egg)[len(name) + 1:-len(".egg-info")]
    dist = os.path.join(sp, "%s-%s.dist-info" % (name, version))
    os.mkdir(dist)
    shutil.copy(os.path.join(egg, "PKG-INFO"), os.path.join(dist, "METADATA"))
    for f in ("entry_points.txt", "top_level.txt"):
        shutil.copy(os.path.join(egg, f), os.path.join(dist, f))
    with open(os.path.join(dist, "INSTALLER"), "w") as f:
        f.write("pip\n")
    with open(os.path.join(dist, "REQUESTED"), "w"):
        pass
    with open(os.path.join(dist, "WHEEL"), "w") as f:
        f.write("Wheel-Version: 1.0\nGenerator: bdist_wheel (0.40.0)\n"
                "Root-Is-Purelib: true\nTag: py3-none-any\n")
    shutil.rmtree(egg)

    paths = [os.path.join("..", "..", "..", "bin", script)]
    with open(os.path.join(dist, "top_level.txt")) as f:
        tops = [t.strip() for t in f if t.strip()] + [os.path.basename(dist)]
    for top in tops:
        for root, dirs, files in os.walk(os.path.join(sp, top)):
            dirs.sort()
            for fn in sorted(files):
                paths.append(os.path.relpath(os.path.join(root, fn), sp))
    record = os.path.join(os.path.basename(dist), "RECORD")
    rows = []
    for p in sorted(paths):
        with open(os.path.join(sp, p), "rb") as f:
            data = f.read()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
        rows.append((p, "sha256=" + digest.decode(), str(len(data))))
    rows.append((record, "", ""))
    with open(os.path.join(sp, record), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
PY

# Smoke test without writing bytecode.
"$venv/bin/python" -I -B -c 'import django, asgiref, sqlparse, pytz, gunicorn, psycopg2, setuptools, pkg_resources' \
	|| { echo "make-example-venv: imports fail in $venv" >&2; exit 1; }
[[ -z $(find "$venv" -name __pycache__) ]] || { echo "make-example-venv: __pycache__ left in $venv" >&2; exit 1; }
links=$(find "$venv/lib" -type l ! -path "$venv/lib64")
[[ -z $links ]] || { echo "make-example-venv: unexpected symlinks in $venv/lib: $links" >&2; exit 1; }

echo "make-example-venv: $venv: $(find "$venv" -type f | wc -l) files, $(du -sh "$venv" | cut -f1), django $("$venv/bin/python" -I -B -c 'import django; print(django.get_version())')"
