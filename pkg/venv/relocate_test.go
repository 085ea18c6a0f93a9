package venv

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const installPath = "/opt/mysite/venv"

func TestRelocateFixtureGolden(t *testing.T) {
	v := newFixture(t)
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"bin/activate", "bin/activate.csh", "bin/activate.fish", "bin/gunicorn", "bin/pip3", "bin/pip3.11",
		"lib/python3.11/site-packages/pip-23.0.1.dist-info/RECORD", "pyvenv.cfg",
	}
	if !slices.Equal(rel.Rewritten, want) {
		t.Errorf("Rewritten = %q\nwant        %q", rel.Rewritten, want)
	}
	if len(rel.Overrides) != len(rel.Rewritten) {
		t.Errorf("%d overrides for %d rewritten paths", len(rel.Overrides), len(rel.Rewritten))
	}
	// Golden: every override in full, except RECORDs, shown as changed rows.
	var g bytes.Buffer
	for _, p := range rel.Rewritten {
		fmt.Fprintf(&g, "==> %s <==\n", p)
		if strings.HasSuffix(p, "/RECORD") {
			old := strings.SplitAfter(readText(t, filepath.Join(v.Dir, p)), "\n")
			for i, line := range strings.SplitAfter(string(rel.Overrides[p]), "\n") {
				if line != old[i] {
					fmt.Fprintf(&g, "-%s+%s", old[i], line)
				}
			}
			continue
		}
		g.Write(rel.Overrides[p])
	}
	checkGolden(t, "relocate-fixture.golden", g.Bytes())

	for p, content := range rel.Overrides {
		if bytes.Contains(content, []byte(v.Dir)) {
			t.Errorf("%s still names %s", p, v.Dir)
		}
	}
	if cfg := string(rel.Overrides["pyvenv.cfg"]); !strings.Contains(cfg, "home = /usr/bin\n") ||
		!strings.Contains(cfg, "executable = /usr/bin/python3.11\n") ||
		!strings.Contains(cfg, "command = /usr/bin/python3.11 -m venv --without-pip /opt/mysite/venv\n") {
		t.Errorf("pyvenv.cfg =\n%s", cfg)
	}
	if got := string(rel.Overrides["bin/gunicorn"]); !strings.HasPrefix(got, "#!/opt/mysite/venv/bin/python3.11\n") {
		t.Errorf("gunicorn shebang: %q", got)
	}
	// Every RECORD row for a rewritten file matches its new content.
	record := string(rel.Overrides["lib/python3.11/site-packages/pip-23.0.1.dist-info/RECORD"])
	for _, name := range []string{"pip3", "pip3.11"} {
		content := rel.Overrides["bin/"+name]
		sum := sha256.Sum256(content)
		row := "../../../bin/" + name + ",sha256=" + base64.RawURLEncoding.EncodeToString(sum[:]) + "," + strconv.Itoa(len(content)) + "\r\n"
		if !strings.Contains(record, row) {
			t.Errorf("RECORD lacks %q", row)
		}
	}
	if n := strings.Count(record, "\r\n"); n != 995 {
		t.Errorf("RECORD has %d CRLF rows, want 995 (order and line endings kept)", n)
	}
}

func TestRelocateSameDirIsNoop(t *testing.T) {
	v := newFixture(t)
	rel, err := v.Relocate(v.Dir + "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Overrides) != 0 || len(rel.Rewritten) != 0 {
		t.Errorf("Relocate(Dir) rewrote %q", rel.Rewritten)
	}
}

func TestRelocateInstallPathErrors(t *testing.T) {
	v := newFixture(t)
	for _, to := range []string{"opt/x", "/opt/my site/venv", "/opt/x\n"} {
		_, err := v.Relocate(to)
		wantErr(t, err, strconv.Quote(to))
	}
}

// TestRelocateSymlinkedDir opens a venv through a symlinked parent: files may
// name either the path as given or the real path; both are relocated.
func TestRelocateSymlinkedDir(t *testing.T) {
	tmp := t.TempDir()
	real := filepath.Join(tmp, "real", "venv")
	copyFixture(t, real) // text files name the real path
	symlink(t, filepath.Join(tmp, "real"), filepath.Join(tmp, "link"))
	v, err := Open(filepath.Join(tmp, "link", "venv"))
	if err != nil {
		t.Fatal(err)
	}
	// A script written through the symlinked path.
	writeFile(t, filepath.Join(real, "bin/manage"), "#!"+v.Dir+"/bin/python3.11\nprint('hi')\n")
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/manage", "bin/pip3", "bin/gunicorn"} {
		if got := string(rel.Overrides[p]); !strings.HasPrefix(got, "#!/opt/mysite/venv/bin/python") {
			t.Errorf("%s = %q", p, got)
		}
	}
}

func TestRelocateSkipsBytecode(t *testing.T) {
	v := newFixture(t)
	sp := v.SitePackages()
	writeFile(t, filepath.Join(sp, "pip/__pycache__/__init__.cpython-311.pyc"), "\x00\x00"+v.Dir+"/lib")
	writeFile(t, filepath.Join(sp, "legacy.pyc"), "\x00\x00"+v.Dir+"/lib")
	writeFile(t, filepath.Join(sp, "__pycache__/notes.txt"), v.Dir)
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rel.Rewritten {
		if strings.Contains(p, "pyc") || strings.Contains(p, "__pycache__") {
			t.Errorf("rewrote %s", p)
		}
	}
}

func TestRelocateTextRewrites(t *testing.T) {
	v := newFixture(t)
	d := v.Dir
	sp := "lib/python3.11/site-packages/"
	files := map[string]struct{ in, want string }{
		sp + "mysite.pth":           {d + "/src/mysite\n", "/opt/mysite/venv/src/mysite\n"},
		sp + "settings_paths.py":    {`STATIC = "` + d + `/static"` + "\nROOT='" + d + "'\n", `STATIC = "/opt/mysite/venv/static"` + "\nROOT='/opt/mysite/venv'\n"},
		sp + "url.txt":              {"file://" + d + "/share/x", "file:///opt/mysite/venv/share/x"},
		sp + "other-chroot.txt":     {"/chroot" + d + "/bin", ""}, // not a reference: unchanged
		"share/doc/end-of-file":     {"see " + d, "see /opt/mysite/venv"},
		"bin/wrapper.sh":            {"#!/bin/sh\nexec " + d + "/bin/python3.11 -m mysite \"$@\"\n", "#!/bin/sh\nexec /opt/mysite/venv/bin/python3.11 -m mysite \"$@\"\n"},
		"bin/Activate.ps1":          {"$env:VIRTUAL_ENV = '" + d + "'\r\n", "$env:VIRTUAL_ENV = '/opt/mysite/venv'\r\n"},
		sp + "mysite.egg-link":      {d + "/src/mysite\n.\n", "/opt/mysite/venv/src/mysite\n.\n"},
		sp + "a-1.dist-info/x.json": {`{"url": "file://` + d + `/src/a", "dir_info": {"editable": true}}`, `{"url": "file:///opt/mysite/venv/src/a", "dir_info": {"editable": true}}`},
	}
	for p, f := range files {
		writeFile(t, filepath.Join(d, p), f.in)
	}
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	for p, f := range files {
		got, ok := rel.Overrides[p]
		if f.want == "" {
			if ok {
				t.Errorf("%s rewritten to %q, want unchanged", p, got)
			}
			continue
		}
		if string(got) != f.want {
			t.Errorf("%s = %q, want %q", p, got, f.want)
		}
	}
}

// TestRelocateProblems builds one venv with every kind of unrelocatable file
// and checks that a single error lists them all, sorted.
func TestRelocateProblems(t *testing.T) {
	v := newFixture(t)
	d := v.Dir
	build := filepath.Dir(d) // the build tree
	sp := "lib/python3.11/site-packages/"
	writeFile(t, filepath.Join(d, sp+"__editable__.mysite-1.0.pth"), build+"/src\n")
	writeFile(t, filepath.Join(d, sp+"legacy.pth"), "# comment\nimport os\n../../../../src/legacy\n")
	writeFile(t, filepath.Join(d, sp+"mysite.egg-link"), build+"/src/mysite\n.\n")
	writeFile(t, filepath.Join(d, sp+"mysite-1.0.dist-info/direct_url.json"), `{"url": "file://`+build+`/src", "dir_info": {"editable": true}}`)
	writeFile(t, filepath.Join(d, sp+"elsewhere-1.0.dist-info/direct_url.json"), `{"url": "file:///home/dev/elsewhere", "dir_info": {"editable": true}}`)
	writeFile(t, filepath.Join(d, sp+"vendored-1.0.dist-info/direct_url.json"), `{"url": "file://`+build+`/vendor/vendored-1.0.whl", "archive_info": {}}`)
	writeFile(t, filepath.Join(d, sp+"blob.bin"), "\x00\x01"+d+"/lib\x00")
	writeFile(t, filepath.Join(d, sp+"paths.txt"), d+"2/lib\n"+d+"/ok\n"+d+".bak\n")
	symlink(t, d+"/lib", filepath.Join(d, "lib-abs"))
	symlink(t, "../../../../src/mysite", filepath.Join(d, sp+"mysite-src"))
	symlink(t, "../../../bin", filepath.Join(d, sp+"bin-inside"))      // stays inside: fine
	symlink(t, "/usr/share/zoneinfo", filepath.Join(d, sp+"zoneinfo")) // system path: fine
	// An ELF whose RUNPATH names the venv (placeholder patched in place).
	elfData, err := os.ReadFile(filepath.Join(testdata, "elf/librpath32.so"))
	if err != nil {
		t.Fatal(err)
	}
	placeholder := "/@@RPATH" + strings.Repeat("X", 160) + "@@"
	i := bytes.Index(elfData, []byte(placeholder))
	runpath := d + "/lib"
	if i < 0 || len(runpath) > len(placeholder) {
		t.Fatalf("placeholder at %d, runpath %d bytes", i, len(runpath))
	}
	copy(elfData[i:i+len(placeholder)], append([]byte(runpath), make([]byte, len(placeholder))...))
	writeFile(t, filepath.Join(d, sp+"mysite/__init__.py"), "")
	if err := os.WriteFile(filepath.Join(d, sp+"mysite/_speedups.so"), elfData, 0o755); err != nil {
		t.Fatal(err)
	}
	// Relocatable, and must stay quiet: system paths, venv-internal entries.
	writeFile(t, filepath.Join(d, sp+"system.pth"), "/usr/lib/python3/dist-packages\n"+d+"/src/inside\nsub/dir\n")
	writeFile(t, filepath.Join(d, sp+"wheel-1.0.dist-info/direct_url.json"), `{"url": "file:///var/cache/wheels/w-1.0.whl", "archive_info": {}}`)
	writeFile(t, filepath.Join(d, sp+"pypi-1.0.dist-info/direct_url.json"), `{"url": "https://example.org/p.whl", "archive_info": {}}`)
	writeFile(t, filepath.Join(d, sp+"broken-1.0.dist-info/direct_url.json"), `{not json`)

	_, err = v.Relocate(installPath)
	var re *RelocateError
	if !errors.As(err, &re) || !errors.Is(err, ErrNotRelocatable) {
		t.Fatalf("err = %v, want a *RelocateError", err)
	}
	want := []struct{ path, reason string }{
		{"lib-abs", "symlink to " + d + "/lib names the build path; make it relative"},
		{sp + "__editable__.mysite-1.0.pth", "line 1 adds " + build + "/src, outside the virtualenv in the build tree; editable installs"},
		{sp + "blob.bin", "binary file contains " + d + "/lib; it cannot be rewritten safely"},
		{sp + "elsewhere-1.0.dist-info/direct_url.json", "records an editable install of /home/dev/elsewhere; editable installs (pip install -e"},
		{sp + "legacy.pth", "line 3 adds " + build + "/src/legacy, outside the virtualenv"},
		{sp + "mysite-1.0.dist-info/direct_url.json", "records an editable install of " + build + "/src;"},
		{sp + "mysite-src", "symlink to ../../../../src/mysite leads out of the virtualenv into the build tree (" + build + "/src/mysite)"},
		{sp + "mysite.egg-link", "line 1 adds " + build + "/src/mysite"},
		{sp + "mysite/_speedups.so", "binary file contains " + d + "/lib (ELF DT_RUNPATH \"" + d + "/lib\"; relink with an $ORIGIN-relative rpath"},
		{sp + "paths.txt", "names " + d + ".bak, " + d + "2/lib, which start(s) with the virtualenv path but lie outside it"},
		{sp + "vendored-1.0.dist-info/direct_url.json", "records an install from " + build + "/vendor/vendored-1.0.whl in the build tree; install it by name from a local index"},
	}
	if len(re.Problems) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(re.Problems), len(want), err)
	}
	for i, w := range want {
		if i >= len(re.Problems) {
			break
		}
		if p := re.Problems[i]; p.Path != w.path || !strings.Contains(p.Reason, w.reason) {
			t.Errorf("problem %d = %s: %s\nwant        %s: %s…", i, p.Path, p.Reason, w.path, w.reason)
		}
	}
	wantErr(t, err, "venv: cannot relocate "+d+" to /opt/mysite/venv: 11 file(s)", "\n\t"+sp+"blob.bin: binary file")
}

func TestRelocateLongShebang(t *testing.T) {
	v := newFixture(t)
	long := "/opt/" + strings.Repeat("x", 110) + "/venv" // "#!" + long + "/bin/python3.11" = 137 bytes
	_, err := v.Relocate(long)
	wantErr(t, err, "bin/gunicorn: relocated shebang is 137 bytes", "choose a shorter install path")
}

func TestRelocateCfgInterpreterInBuildTree(t *testing.T) {
	v := newFixture(t)
	build := filepath.Dir(v.Dir)
	writeFile(t, filepath.Join(v.Dir, cfgName), "home = "+build+"/python/bin\nversion = 3.11.2\nexecutable = "+build+"/python/bin/python3.11\ncommand = "+build+"/python/bin/python3.11 -m venv "+v.Dir+"\n")
	_, err := v.Relocate(installPath)
	wantErr(t, err, "pyvenv.cfg: \"home\" = "+build+"/python/bin is on the build machine only; create the virtualenv from an interpreter the target has",
		"pyvenv.cfg: \"executable\" = "+build+"/python/bin/python3.11")
}

func TestRewriteBoundaries(t *testing.T) {
	r := &relocator{v: &Venv{Dir: "/b/venv"}, prefixes: []string{"/b/venv"}, needles: [][]byte{[]byte("/b/venv")}, to: "/opt/v"}
	for _, tc := range []struct{ in, want, outside string }{
		{"/b/venv", "/opt/v", ""},
		{"#!/b/venv/bin/python", "#!/opt/v/bin/python", ""},
		{`"/b/venv" '/b/venv' (/b/venv) /b/venv:/b/venv;`, `"/opt/v" '/opt/v' (/opt/v) /opt/v:/opt/v;`, ""},
		{"file:///b/venv/x", "file:///opt/v/x", ""},
		{"/b/venv2 /b/venv.old /b/venv-x", "", "/b/venv2,/b/venv.old,/b/venv-x"},
		{"/x/b/venv a/b/venv", "", ""},
		{"/b/venv/b/venv", "/opt/v/b/venv", ""}, // the second is part of the first path
		{"nothing here", "", ""},
	} {
		out, outside := r.rewrite([]byte(tc.in))
		if string(out) != tc.want || strings.Join(outside, ",") != tc.outside {
			t.Errorf("rewrite(%q) = %q, outside %q; want %q, %q", tc.in, out, outside, tc.want, tc.outside)
		}
	}
}

// TestRelocateRealVenv creates a venv with the system python3.11, relocates
// it, installs the result at another path and runs it there.
func TestRelocateRealVenv(t *testing.T) {
	const py = "/usr/bin/python3.11"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s not available: %v", py, err)
	}
	tmp := t.TempDir()
	build := filepath.Join(tmp, "build", "venv")
	if out, err := exec.Command(py, "-m", "venv", "--without-pip", build).CombinedOutput(); err != nil {
		t.Fatalf("python -m venv: %v\n%s", err, out)
	}
	writeFile(t, filepath.Join(build, "bin/hello"), "#!"+build+"/bin/python3.11\nimport sys\nprint(sys.prefix)\n")
	os.Chmod(filepath.Join(build, "bin/hello"), 0o755)
	v, err := Open(build)
	if err != nil {
		t.Fatal(err)
	}
	if v.Python != py || v.PyVersion != "3.11" {
		t.Errorf("Python, PyVersion = %q, %q", v.Python, v.PyVersion)
	}
	target := filepath.Join(tmp, "installed", "venv")
	rel, err := v.Relocate(target)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rel.Rewritten, "bin/hello") || !slices.Contains(rel.Rewritten, "bin/activate") {
		t.Errorf("Rewritten = %q", rel.Rewritten)
	}
	// "Install": copy the tree with overrides applied, then delete the build.
	if err := os.CopyFS(target, os.DirFS(build)); err != nil {
		t.Fatal(err)
	}
	for p, content := range rel.Overrides {
		if err := os.WriteFile(filepath.Join(target, p), content, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Dir(build))
	for _, p := range []string{"bin/python3.11", "bin/python3", "bin/python"} {
		os.Remove(filepath.Join(target, p)) // CopyFS copied the interpreter; relink like the RPM does
	}
	symlink(t, py, filepath.Join(target, "bin/python3.11"))
	symlink(t, "python3.11", filepath.Join(target, "bin/python3"))
	symlink(t, "python3.11", filepath.Join(target, "bin/python"))
	out, err := exec.Command(filepath.Join(target, "bin/hello")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != target {
		t.Errorf("bin/hello: %v: %q, want sys.prefix %q", err, out, target)
	}
	out, err = exec.Command("/bin/sh", "-c", ". "+target+"/bin/activate && echo $VIRTUAL_ENV && python -c 'import sys; print(sys.prefix)'").CombinedOutput()
	if err != nil || string(out) != target+"\n"+target+"\n" {
		t.Errorf("activate: %v: %q", err, out)
	}
}

// TestRelocateLargeFiles: files over maxInMemory are scanned in chunks (a
// match across a chunk boundary included) and read whole only when they
// name the venv.
func TestRelocateLargeFiles(t *testing.T) {
	v := newFixture(t)
	d := v.Dir
	sp := "lib/python3.11/site-packages/"
	big := strings.Repeat("x", maxInMemory+1)
	// The reference straddles the first 1 MiB chunk boundary.
	straddle := strings.Repeat("y", 1<<20-3) + "\n" + d + "/share\n" + strings.Repeat("z", maxInMemory)
	writeFile(t, filepath.Join(d, sp+"blob.txt"), big)
	writeFile(t, filepath.Join(d, sp+"big-ref.txt"), straddle)
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rel.Overrides[sp+"blob.txt"]; ok {
		t.Error("a large file without the build path was rewritten")
	}
	got, ok := rel.Overrides[sp+"big-ref.txt"]
	if !ok || !strings.Contains(string(got), installPath+"/share") || strings.Contains(string(got), d) {
		t.Errorf("large file naming the venv across a chunk boundary: rewritten=%v", ok)
	}
}

// TestRelocationSums: Relocation.Sum is the SHA-256 of every file as it
// will be packaged (the override when rewritten, RECORDs included; the file
// otherwise, large streamed ones too) and unknown for what Relocate skips.
func TestRelocationSums(t *testing.T) {
	v := newFixture(t)
	sp := "lib/python3.11/site-packages/"
	writeFile(t, filepath.Join(v.Dir, sp+"blob.txt"), strings.Repeat("x", maxInMemory+12345))
	writeFile(t, filepath.Join(v.Dir, sp+"pip/__pycache__/x.cpython-311.pyc"), "\x00\x00bytecode")
	symlink(t, "blob.txt", filepath.Join(v.Dir, sp+"blob-link.txt"))
	rel, err := v.Relocate(installPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rel.Rewritten) == 0 {
		t.Fatal("the fixture should have rewritten files")
	}
	sawRecord := false
	checked := 0
	err = filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		r, _ := filepath.Rel(v.Dir, p)
		r = filepath.ToSlash(r)
		got, ok := rel.Sum(r)
		if strings.HasSuffix(r, ".pyc") {
			if ok {
				t.Errorf("%s: bytecode has a sum", r)
			}
			return nil
		}
		content, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if ov, rewritten := rel.Overrides[r]; rewritten {
			content = ov
			sawRecord = sawRecord || strings.HasSuffix(r, "/RECORD")
		}
		if want := sha256.Sum256(content); !ok || got != want {
			t.Errorf("%s: Sum = %x, %v; want %x", r, got[:4], ok, want[:4])
		}
		checked++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sawRecord || checked < 10 {
		t.Errorf("checked %d files, a rewritten RECORD among them: %v", checked, sawRecord)
	}
	for _, r := range []string{sp + "blob-link.txt", sp + "no-such-file", "../outside"} {
		if _, ok := rel.Sum(r); ok {
			t.Errorf("%s: has a sum", r)
		}
	}
	if _, ok := (*Relocation)(nil).Sum(sp + "blob.txt"); ok {
		t.Error("nil Relocation has a sum")
	}
}
