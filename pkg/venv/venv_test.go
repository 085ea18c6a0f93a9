package venv

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenFixture(t *testing.T) {
	v := newFixture(t)
	if v.Python != "/usr/bin/python3.11" || v.PyVersion != "3.11" {
		t.Errorf("Python, PyVersion = %q, %q; want /usr/bin/python3.11, 3.11", v.Python, v.PyVersion)
	}
	if v.Cfg["home"] != "/usr/bin" || v.Cfg["include-system-site-packages"] != "false" {
		t.Errorf("Cfg = %q", v.Cfg)
	}
	if want := filepath.Join(v.Dir, "lib/python3.11/site-packages"); v.SitePackages() != want {
		t.Errorf("SitePackages() = %q, want %q", v.SitePackages(), want)
	}
}

func TestOpenRelativeDir(t *testing.T) {
	dir := t.TempDir()
	copyFixture(t, filepath.Join(dir, "venv"))
	t.Chdir(dir)
	v, err := Open("venv/")
	if err != nil {
		t.Fatal(err)
	}
	if v.Dir != filepath.Join(dir, "venv") {
		t.Errorf("Dir = %q, want the absolute, cleaned path", v.Dir)
	}
}

func TestOpenVirtualenvStyle(t *testing.T) {
	// virtualenv (not python -m venv) writes version_info and base-executable.
	dir := filepath.Join(t.TempDir(), "venv")
	copyFixture(t, dir)
	writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin\nimplementation = CPython\nversion_info = 3.11.2.final.0\nvirtualenv = 20.17.1\ninclude-system-site-packages = false\nbase-prefix = /usr\nbase-exec-prefix = /usr\nbase-executable = /usr/bin/python3.11\n")
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Python != "/usr/bin/python3.11" || v.PyVersion != "3.11" {
		t.Errorf("Python, PyVersion = %q, %q", v.Python, v.PyVersion)
	}
}

func TestOpenHomeOnly(t *testing.T) {
	// Before 3.11, python -m venv wrote no "executable": use home/pythonX.Y.
	dir := filepath.Join(t.TempDir(), "venv")
	copyFixture(t, dir)
	writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin/\nversion = 3.11.2\n")
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v.Python != "/usr/bin/python3.11" {
		t.Errorf("Python = %q", v.Python)
	}
}

func TestOpenCopies(t *testing.T) {
	// --copies: bin/python3.11 is a regular file, accepted as is.
	dir := filepath.Join(t.TempDir(), "venv")
	copyFixture(t, dir)
	os.Remove(filepath.Join(dir, "bin/python3.11"))
	writeFile(t, filepath.Join(dir, "bin/python3.11"), "\x7fELF...")
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) // dir is a fixture copy
		want  []string                       // "$DIR" is replaced by dir
	}{
		{"missing dir", func(t *testing.T, dir string) { os.RemoveAll(dir) },
			[]string{"venv: no virtualenv at $DIR (create one with python3 -m venv, or set [venv] path in rpmforge.toml)"}},
		{"not a dir", func(t *testing.T, dir string) { os.RemoveAll(dir); writeFile(t, dir, "x") },
			[]string{"no virtualenv at $DIR: not a directory"}},
		{"no pyvenv.cfg", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, cfgName)) },
			[]string{"venv: $DIR/pyvenv.cfg: missing", "not a virtualenv", "python3 -m venv"}},
		{"missing home", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "version = 3.11.2\nexecutable = /usr/bin/python3.11\n")
		}, []string{`venv: $DIR/pyvenv.cfg: missing "home"`}},
		{"relative home", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "home = usr/bin\nversion = 3.11.2\n")
		}, []string{`$DIR/pyvenv.cfg: "home" = "usr/bin" is not an absolute path`}},
		{"missing version", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin\n")
		}, []string{`$DIR/pyvenv.cfg: missing "version"`}},
		{"bad version", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin\nversion = three\n")
		}, []string{`$DIR/pyvenv.cfg: "version" = "three" is not a Python version`}},
		{"relative executable", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin\nversion = 3.11.2\nexecutable = python3.11\n")
		}, []string{`$DIR/pyvenv.cfg: "executable" = "python3.11" is not an absolute path`}},
		{"executable of another version", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, cfgName), "home = /usr/bin\nversion = 3.11.2\nexecutable = /usr/bin/python3.12\n")
		}, []string{`$DIR/pyvenv.cfg: "executable" names /usr/bin/python3.12 but "version" says Python 3.11.2`}},
		{"symlink to another interpreter", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "bin/python3.11"))
			symlink(t, "/opt/other/bin/python3.11", filepath.Join(dir, "bin/python3.11"))
		}, []string{"venv: $DIR/bin/python3.11 points to /opt/other/bin/python3.11, but $DIR/pyvenv.cfg \"executable\" is /usr/bin/python3.11"}},
		{"no bin/python", func(t *testing.T, dir string) {
			for _, n := range []string{"python", "python3", "python3.11"} {
				os.Remove(filepath.Join(dir, "bin", n))
			}
		}, []string{"venv: $DIR/bin has no python3.11, python3 or python"}},
		{"symlink loop", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "bin/python3.11"))
			symlink(t, "python3", filepath.Join(dir, "bin/python3.11"))
		}, []string{"$DIR/bin/python3.11: too many levels of symbolic links"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "venv")
			copyFixture(t, dir)
			tc.setup(t, dir)
			_, err := Open(dir)
			var subs []string
			for _, w := range tc.want {
				subs = append(subs, strings.ReplaceAll(w, "$DIR", dir))
			}
			wantErr(t, err, subs...)
			if tc.name == "missing dir" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v does not match fs.ErrNotExist", err)
			}
		})
	}
}
