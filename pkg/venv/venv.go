// Package venv inspects a Python virtualenv built on the build machine and
// computes the changes that let it run from its install location (for
// example /opt/mysite/venv) once packaged.
//
// A virtualenv hard-codes its own absolute path in console-script shebangs,
// the activate scripts, pyvenv.cfg and sometimes .pth files. Relocate finds
// those references without modifying anything on disk and returns the new
// contents, with the dist-info RECORD hashes updated to match, so the payload
// layer can stream every other file unchanged.
package venv

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Venv is an opened virtualenv.
type Venv struct {
	Dir string // absolute build path of the venv (cleaned, as given; not symlink-resolved)

	// Python is the absolute path of the base interpreter, e.g.
	// "/usr/bin/python3.11": pyvenv.cfg "executable" (or virtualenv's
	// "base-executable"), else "home" joined with "python"+PyVersion. Open
	// checks that the venv's bin/python* symlinks lead to it.
	Python    string
	PyVersion string            // major.minor, e.g. "3.11"
	Cfg       map[string]string // pyvenv.cfg keys (lowercased, as Python's site module reads them) → values
}

// cfgName is the virtualenv marker file, read by Python at startup.
const cfgName = "pyvenv.cfg"

const createHint = "create one with python3 -m venv, or set [venv] path in rpmforge.toml"

// Open reads the virtualenv at dir. Errors name the file and field at fault,
// for example `venv: /x/venv/pyvenv.cfg: missing "home"`; a missing
// directory wraps fs.ErrNotExist.
func Open(dir string) (*Venv, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("venv: %w", err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("venv: no virtualenv at %s (%s): %w", abs, createHint, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("venv: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("venv: no virtualenv at %s: not a directory (%s)", abs, createHint)
	}
	cfgPath := filepath.Join(abs, cfgName)
	cfg, err := readCfg(cfgPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("venv: %s: missing, so %s is not a virtualenv (%s): %w", cfgPath, abs, createHint, err)
	}
	if err != nil {
		return nil, fmt.Errorf("venv: %s: %w", cfgPath, err)
	}
	v := &Venv{Dir: abs, Cfg: cfg}
	if err := v.resolvePython(cfgPath); err != nil {
		return nil, err
	}
	return v, nil
}

// readCfg parses pyvenv.cfg like CPython's site.venv(): "key = value" lines,
// keys stripped and lowercased, values stripped, other lines ignored.
func readCfg(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cfg := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, val, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		cfg[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (v *Venv) resolvePython(cfgPath string) error {
	fieldErr := func(field, format string, args ...any) error {
		return fmt.Errorf("venv: %s: %q %s (recreate the virtualenv with python3 -m venv)", cfgPath, field, fmt.Sprintf(format, args...))
	}
	home, ok := v.Cfg["home"]
	if !ok {
		return fmt.Errorf("venv: %s: missing \"home\" (recreate the virtualenv with python3 -m venv)", cfgPath)
	}
	if !filepath.IsAbs(home) {
		return fieldErr("home", "= %q is not an absolute path", home)
	}
	verKey := "version"
	ver, ok := v.Cfg[verKey]
	if !ok {
		verKey = "version_info" // virtualenv
		ver, ok = v.Cfg[verKey]
	}
	if !ok {
		return fmt.Errorf("venv: %s: missing \"version\" (recreate the virtualenv with python3 -m venv)", cfgPath)
	}
	mm, ok := majorMinor(ver)
	if !ok {
		return fieldErr(verKey, "= %q is not a Python version like 3.11.2", ver)
	}
	v.PyVersion = mm

	exeKey := "executable"
	exe := v.Cfg[exeKey]
	if exe == "" {
		exeKey = "base-executable"
		exe = v.Cfg[exeKey]
	}
	if exe == "" {
		exeKey = "home"
		exe = filepath.Join(home, "python"+mm)
	}
	if !filepath.IsAbs(exe) {
		return fieldErr(exeKey, "= %q is not an absolute path", exe)
	}
	exe = filepath.Clean(exe)
	if base := filepath.Base(exe); strings.HasPrefix(base, "python3.") && base != "python"+mm {
		return fieldErr(exeKey, "names %s but %q says Python %s", exe, verKey, ver)
	}
	v.Python = exe
	return v.checkBinPython(cfgPath, exeKey)
}

// majorMinor returns "3.11" for "3.11.2" or "3.11.2.final.0".
func majorMinor(ver string) (string, bool) {
	parts := strings.SplitN(ver, ".", 3)
	if len(parts) < 2 || !digits(parts[0]) || !digits(parts[1]) {
		return "", false
	}
	return parts[0] + "." + parts[1], true
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkBinPython cross-checks bin/python{X.Y,3,} with v.Python: at least one
// must exist, and a symlink chain that leaves the venv must end at the
// interpreter pyvenv.cfg names (compared literally or after resolving both
// on this host). Copies (python -m venv --copies) are accepted as they are.
func (v *Venv) checkBinPython(cfgPath, exeKey string) error {
	bin := filepath.Join(v.Dir, "bin")
	found := false
	for _, name := range []string{"python" + v.PyVersion, "python3", "python"} {
		p := filepath.Join(bin, name)
		target, isLink, err := v.linkTarget(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("venv: %w", err)
		}
		found = true
		if !isLink || sameFile(target, v.Python) {
			continue
		}
		return fmt.Errorf("venv: %s points to %s, but %s %q is %s: the virtualenv was made by another interpreter than its config says (recreate it with python3 -m venv)",
			p, target, cfgPath, exeKey, v.Python)
	}
	if !found {
		return fmt.Errorf("venv: %s has no python%s, python3 or python: the virtualenv is incomplete (recreate it with python3 -m venv)", bin, v.PyVersion)
	}
	return nil
}

// linkTarget follows symlinks from p while they stay inside v.Dir (bin/python
// → python3.11) and returns the first target outside it, or p itself if the
// chain ends at a regular file inside the venv (isLink=false).
func (v *Venv) linkTarget(p string) (target string, isLink bool, err error) {
	cur := p
	for range 16 {
		fi, err := os.Lstat(cur)
		if err != nil {
			return "", false, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return cur, false, nil
		}
		t, err := os.Readlink(cur)
		if err != nil {
			return "", false, err
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(filepath.Dir(cur), t)
		}
		t = filepath.Clean(t)
		if !within(t, v.Dir) {
			return t, true, nil
		}
		cur = t
	}
	return "", false, fmt.Errorf("%s: too many levels of symbolic links", p)
}

// sameFile reports whether a and b are the same path, literally or once
// resolved on this host.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// within reports whether p is dir or below it (both cleaned, absolute).
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// SitePackages returns the venv's purelib directory, Dir/lib/pythonX.Y/site-packages.
func (v *Venv) SitePackages() string {
	return filepath.Join(v.Dir, "lib", "python"+v.PyVersion, "site-packages")
}
