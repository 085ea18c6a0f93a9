package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

// builtPackages are v1 and v2 of the test site, built once for several tests.
type builtPackages struct {
	proj   *fixture
	v1, v2 string
	repo   string
}

var (
	pkgsOnce sync.Once
	pkgs     *builtPackages
	pkgsErr  string
)

func sharedPackages(t *testing.T) *builtPackages {
	t.Helper()
	e2eRequire(t)
	pkgsOnce.Do(func() {
		// Built under a directory of its own that outlives the first test.
		dir, err := os.MkdirTemp("", "rpmforge-e2e-")
		if err != nil {
			pkgsErr = err.Error()
			return
		}
		sub := &onceT{T: t}
		p := newProject(sub, filepath.Join(dir, "build", "mysite"))
		b := &builtPackages{proj: p, repo: filepath.Join(dir, "repo")}
		b.v1 = p.build(b.repo)
		// v2: a file dropped, a file added, a new default in the env file.
		os.Remove(filepath.Join(p.Dir, "mysite/release.py"))
		p.write("mysite/features.py", "FEATURES = ['v2']\n")
		cfg, _ := os.ReadFile(filepath.Join(p.Dir, "rpmforge.toml"))
		p.write("rpmforge.toml", string(cfg)+"DJANGO_FEATURE_V2 = \"on\"\n")
		p.commit("mysite 2.0: features", "v2.0.0")
		b.v2 = p.build(b.repo)
		pkgs = b
	})
	if pkgs == nil {
		t.Fatalf("building the shared test packages failed: %s", pkgsErr)
	}
	return pkgs
}

// onceT turns the fatal errors of the shared setup into a failure of the
// test that ran it, without leaking t.Cleanup to later tests.
type onceT struct{ *testing.T }

func (o *onceT) TempDir() string {
	d, err := os.MkdirTemp("", "rpmforge-e2e-")
	if err != nil {
		o.T.Fatal(err)
	}
	return d
}

func TestE2EPackageIsWellFormed(t *testing.T) {
	b := sharedPackages(t)
	if !strings.HasSuffix(b.v1, "/mysite-1.0.0-1.x86_64.rpm") || !strings.HasSuffix(b.v2, "/mysite-2.0.0-1.x86_64.rpm") {
		t.Fatalf("got %s and %s", b.v1, b.v2)
	}
	out, err := rpmTool(t, "rpm", "-K", b.v1)
	if err != nil || !strings.Contains(out, "digests OK") {
		t.Errorf("rpm -K: %v\n%s", err, out)
	}
	// rpm2cpio | cpio -t exits 0 and lists what the header lists.
	cmd := exec.Command("sh", "-c", "rpm2cpio \"$1\" | cpio -t --quiet", "sh", b.v1)
	cmd.Env = testroot.ToolEnv(t)
	cpio, err := cmd.Output()
	if err != nil {
		t.Fatalf("rpm2cpio | cpio -t: %v", err)
	}
	listed, _ := rpmTool(t, "rpm", "-qpl", b.v1)
	if got, want := strings.Count(string(cpio), "\n"), strings.Count(listed, "\n"); got != want {
		t.Errorf("cpio lists %d entries, rpm -qpl %d", got, want)
	}
	// Requires: the interpreter, the soname psycopg2 needs, /bin/sh; nothing bogus.
	reqs, _ := rpmTool(t, "rpm", "-qpR", b.v1)
	for _, want := range []string{"/usr/bin/python3.11", "libpq.so.5()(64bit)", "/bin/sh", "/usr/sbin/useradd"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(reqs) {
			t.Errorf("requires lack %s:\n%s", want, reqs)
		}
	}
	if strings.Contains(reqs, b.proj.Dir) || strings.Contains(reqs, ".git") || strings.Contains(reqs, "/tmp") {
		t.Errorf("bogus requires:\n%s", reqs)
	}
	provs, _ := rpmTool(t, "rpm", "-qpP", b.v1)
	for _, want := range []string{"bundled(python3dist(django)) = 3.2", "bundled(python3dist(gunicorn)) = ", "bundled(python3dist(psycopg2)) = ", "mysite = 1.0.0-1"} {
		if !strings.Contains(provs, want) {
			t.Errorf("provides lack %q:\n%s", want, provs)
		}
	}
	// Ownership and flags as rpm reads them.
	qf := `[%{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]`
	files, _ := rpmTool(t, "rpm", "-qp", "--qf", qf, b.v1)
	for _, want := range []string{
		"-rw-r----- root:mysite cn /etc/mysite/mysite.env",
		"drwxr-x--- root:mysite  /etc/mysite\n",
		"drwxr-x--- mysite:mysite  /var/lib/mysite\n",
		"drwxr-x--- mysite:mysite  /var/log/mysite\n",
		"-rwxr-xr-x root:root  /usr/bin/mysite-manage\n",
		"-rw-r--r-- root:root  /usr/lib/systemd/system/mysite.service\n",
		"drwxr-xr-x root:root  /opt/mysite\n",
		"/opt/mysite/static/polls/style.css\n",
		"/opt/mysite/src/polls/__pycache__/models.cpython-311.pyc\n",
		"/opt/mysite/venv/lib/python3.11/site-packages/django/__pycache__/__init__.cpython-311.pyc\n",
	} {
		if !strings.Contains(files, want) {
			t.Errorf("file list lacks %q", want)
		}
	}
	for _, never := range []string{" /opt\n", " /etc\n", " /usr\n", " /var\n", " /usr/bin\n", " /usr/lib/systemd/system\n", "/.git/", "/venv/lib/python3.11/site-packages/django/__pycache__/__init__.cpython-311.opt"} {
		if strings.Contains(files, never) {
			t.Errorf("package owns %q", strings.TrimSpace(never))
		}
	}
	// rpmlint: no errors other than the ones scripts/rpmlintrc documents.
	if _, err := exec.LookPath("rpmlint"); err == nil {
		out, _ := rpmTool(t, "rpmlint", "-r", filepath.Join(repoRoot(t), "scripts", "rpmlintrc"), b.v1)
		if m := regexp.MustCompile(`(?m)^.* E: .*$`).FindAllString(out, -1); len(m) > 0 {
			t.Errorf("rpmlint errors:\n%s", strings.Join(m, "\n"))
		}
		if !strings.Contains(out, "0 errors") {
			t.Errorf("rpmlint did not report 0 errors:\n%s", lastLine(out))
		}
	}
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return l[len(l)-1]
}

// TestE2EInstallUpgradeDowngradeErase drives dnf through the life of the
// package in an installroot whose scriptlets really run.
func TestE2EInstallUpgradeDowngradeErase(t *testing.T) {
	b := sharedPackages(t)
	testroot.MakeRepo(t, b.repo)
	r := testroot.NewWithOptions(t, testroot.Options{Python: true})
	dnf := func(args ...string) {
		t.Helper()
		r.ResetScriptletLog()
		if out, err := r.Dnf(b.repo, args...); err != nil {
			t.Fatalf("dnf %v: %v\n%s", args, err, out)
		}
		r.AssertScriptletsOK(t)
	}
	scriptlets := func() string {
		var got []string
		for _, s := range r.Scriptlets() {
			if m := regexp.MustCompile(`^# rpmforge %(\w+) for mysite`).FindStringSubmatch(s.Head); m != nil {
				got = append(got, m[1]+"="+strings.Join(s.Args, " "))
			}
		}
		return strings.Join(got, ",")
	}
	inRoot := func(args ...string) string {
		t.Helper()
		out, err := r.Run(t, args...)
		if err != nil {
			t.Fatalf("%v in the root: %v\n%s", args, err, out)
		}
		return out
	}

	// Install v1.
	dnf("install", "mysite-1.0.0")
	if got, want := scriptlets(), "pre=1,post=1"; got != want {
		t.Errorf("install scriptlets: got %s, want %s", got, want)
	}
	if out := inRoot("getent", "passwd", "mysite"); !strings.Contains(out, ":/var/lib/mysite:/sbin/nologin") {
		t.Errorf("service user: %s", out)
	}
	u, err := r.LookupUser("mysite")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/var/lib/mysite": "mysite mysite 750", "/var/log/mysite": "mysite mysite 750",
		"/etc/mysite/mysite.env": "root mysite 640", "/usr/bin/mysite-manage": "root root 755",
	} {
		if got := inRoot("stat", "-c", "%U %G %a", path); strings.TrimSpace(got) != want {
			t.Errorf("%s: got %q, want %q (uid %d)", path, strings.TrimSpace(got), want, u.UID)
		}
	}
	if out, err := r.RPM("-V", "mysite"); err != nil {
		t.Errorf("rpm -V mysite: %v\n%s", err, out)
	}
	unit := inRoot("cat", "/usr/lib/systemd/system/mysite.service")
	for _, want := range []string{"User=mysite", "EnvironmentFile=/etc/mysite/mysite.env", "WorkingDirectory=/opt/mysite/src", "ExecStart=/opt/mysite/venv/bin/gunicorn --bind 127.0.0.1:8000"} {
		if !strings.Contains(unit, want) {
			t.Errorf("unit lacks %q:\n%s", want, unit)
		}
	}
	// %post ran the migrations as the service user.
	if out := inRoot("/usr/bin/mysite-manage", "showmigrations", "polls"); !strings.Contains(out, "[X] 0001_initial") {
		t.Errorf("migrations not applied by %%post:\n%s", out)
	}

	// The app runs from its install path with the build tree out of sight
	// (chroot: only the root is visible), which fails for an unrelocated venv.
	inRoot("/opt/mysite/venv/bin/python", "/opt/mysite/src/manage.py", "check")
	inRoot("/opt/mysite/venv/bin/gunicorn", "--check-config", "--chdir", "/opt/mysite/src", "mysite.wsgi:application")
	if out := inRoot("sh", "-c", ". /opt/mysite/venv/bin/activate && python -c 'import sys; print(sys.prefix)'"); strings.TrimSpace(out) != "/opt/mysite/venv" {
		t.Errorf("activate: sys.prefix %q", out)
	}
	if out := inRoot("sh", "-c", "grep -rlF -- '"+b.proj.Dir+"' /opt/mysite || true"); strings.TrimSpace(out) != "" {
		t.Errorf("installed files still name the build dir:\n%s", out)
	}
	// And on the host, at the real install path, with the build tree hidden.
	if out, err := r.RunHost(t, testroot.HostRun{BindRO: []string{"/opt/mysite"}, Hide: []string{filepath.Dir(b.proj.Dir)}, User: "mysite", Dir: "/opt/mysite/src"},
		"/opt/mysite/venv/bin/gunicorn", "--check-config", "mysite.wsgi:application"); err != nil {
		t.Errorf("gunicorn at /opt/mysite on the host: %v\n%s", err, out)
	}

	// The admin edits the config; upgrade to v2.
	env := filepath.Join(r.Dir, "etc/mysite/mysite.env")
	edited := "# edited by the admin\nDJANGO_SECRET_KEY=\"s3cret\"\n"
	if err := os.WriteFile(env, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	dnf("upgrade", "mysite")
	if got, want := scriptlets(), "pre=2,post=2,preun=1,postun=1"; got != want {
		t.Errorf("upgrade scriptlets: got %s, want %s", got, want)
	}
	if got, _ := os.ReadFile(env); string(got) != edited {
		t.Errorf("edited config replaced on upgrade:\n%s", got)
	}
	if got, err := os.ReadFile(env + ".rpmnew"); err != nil || !bytes.Contains(got, []byte("DJANGO_FEATURE_V2")) {
		t.Errorf("no .rpmnew with v2's config: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "opt/mysite/src/mysite/release.py")); !os.IsNotExist(err) {
		t.Errorf("file dropped in v2 still installed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "opt/mysite/src/mysite/features.py")); err != nil {
		t.Errorf("file added in v2: %v", err)
	}
	if q, _ := r.RPM("-q", "mysite"); strings.TrimSpace(q) != "mysite-2.0.0-1.x86_64" {
		t.Errorf("after upgrade: %s", q)
	}

	// Downgrade back to v1.
	dnf("downgrade", "mysite-1.0.0")
	if got, want := scriptlets(), "pre=2,post=2,preun=1,postun=1"; got != want {
		t.Errorf("downgrade scriptlets: got %s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "opt/mysite/src/mysite/release.py")); err != nil {
		t.Errorf("v1 file after downgrade: %v", err)
	}
	inRoot("/opt/mysite/venv/bin/python", "/opt/mysite/src/manage.py", "check")

	// Erase: only the edited config is left, as .rpmsave.
	dnf("remove", "mysite")
	if got, want := scriptlets(), "preun=0,postun=0"; got != want {
		t.Errorf("erase scriptlets: got %s, want %s", got, want)
	}
	if got, err := os.ReadFile(env + ".rpmsave"); err != nil || string(got) != edited {
		t.Errorf("edited config not kept as .rpmsave: %v", err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "opt/mysite")); !os.IsNotExist(err) {
		left, _ := exec.Command("find", filepath.Join(r.Dir, "opt/mysite")).Output()
		t.Errorf("/opt/mysite left after erase: %v\n%s", err, left)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "usr/lib/systemd/system/mysite.service")); !os.IsNotExist(err) {
		t.Errorf("unit left after erase: %v", err)
	}
}

// TestE2EReproducible: the same commit built in two directories, each with
// its own venv, with the same SOURCE_DATE_EPOCH, gives identical bytes.
func TestE2EReproducible(t *testing.T) {
	e2eRequire(t)
	a := newProject(t, filepath.Join(t.TempDir(), "one", "mysite"))
	b := newProject(t, filepath.Join(t.TempDir(), "elsewhere", "checkout", "mysite"))
	env := []string{"SOURCE_DATE_EPOCH=1767323045"}
	pa := a.build(filepath.Join(t.TempDir(), "out"), env...)
	pb := b.build(filepath.Join(t.TempDir(), "out"), env...)
	da, _ := os.ReadFile(pa)
	db, _ := os.ReadFile(pb)
	if !bytes.Equal(da, db) {
		qa, _ := rpmTool(t, "rpm", "-qp", "--dump", pa)
		qb, _ := rpmTool(t, "rpm", "-qp", "--dump", pb)
		t.Fatalf("builds differ (%d vs %d bytes); first differing dump line:\n%s", len(da), len(db), firstDiff(qa, qb))
	}
	// The JSON result names the same package and checksum.
	out, _, code := a.forge(env, "build", "--output", filepath.Join(t.TempDir(), "j"), "--json", "--release", "7")
	var res struct {
		Path, NEVRA, SHA256 string
		Requires            []string
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.NEVRA != "mysite-1.0.0-7.x86_64" || len(res.SHA256) != 64 {
		t.Errorf("--json: exit %d, %+v\n%s", code, res, out)
	}
}

func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range la {
		if i >= len(lb) || la[i] != lb[i] {
			other := ""
			if i < len(lb) {
				other = lb[i]
			}
			return la[i] + "\n" + other
		}
	}
	return "(dumps equal: the difference is in the header or payload bytes)"
}

// TestE2EBadInput: each gets one clear error naming what is wrong, a
// non-zero exit, and no RPM (not even a partial one) in the output dir.
func TestE2EBadInput(t *testing.T) {
	e2eRequire(t)
	p := newProject(t, filepath.Join(t.TempDir(), "mysite"))
	cfg, _ := os.ReadFile(filepath.Join(p.Dir, "rpmforge.toml"))
	tests := []struct {
		name  string
		setup func(dir string) // changes the project; undone by restoring the config
		code  int
		want  []string
	}{
		{"broken toml", func(dir string) {
			os.WriteFile(filepath.Join(dir, "rpmforge.toml"), append(append([]byte{}, cfg...), "[service\n"...), 0o644)
		}, exitConfig, []string{"rpmforge.toml:", "expected"}},
		{"unknown key", func(dir string) {
			os.WriteFile(filepath.Join(dir, "rpmforge.toml"), append(append([]byte{}, cfg...), "[build]\ncompresion = \"xz\"\n"...), 0o644)
		}, exitConfig, []string{"rpmforge.toml:", "build.compresion: unknown key"}},
		{"missing venv", func(dir string) {
			os.WriteFile(filepath.Join(dir, "rpmforge.toml"), []byte(strings.Replace(string(cfg), `path = "venv"`, `path = "nosuchvenv"`, 1)), 0o644)
		}, exitFailure, []string{"venv.path", "no virtualenv at", "nosuchvenv"}},
		{"other interpreter", func(dir string) {
			os.WriteFile(filepath.Join(dir, "rpmforge.toml"), []byte(strings.Replace(string(cfg), `python = "/usr/bin/python3.11"`, `python = "/usr/bin/python3.12"`, 1)), 0o644)
		}, exitFailure, []string{"venv.python", "/usr/bin/python3.11", "not /usr/bin/python3.12"}},
		{"symlink out of the tree", func(dir string) {
			os.Symlink("/etc/shadow", filepath.Join(dir, "polls", "shadow"))
		}, exitFailure, []string{"symlink", "polls/shadow", "/etc/shadow", "outside the tree"}},
		{"symlink in the venv out of the tree", func(dir string) {
			os.Symlink("../../../../../../secret", filepath.Join(dir, "venv", "lib", "python3.11", "site-packages", "evil"))
		}, exitFailure, []string{"symlink", "site-packages/evil", "outside the tree"}},
		{"destination with ..", func(dir string) {
			os.WriteFile(filepath.Join(dir, "x.conf"), []byte("x"), 0o644)
			os.WriteFile(filepath.Join(dir, "rpmforge.toml"), append(append([]byte{}, cfg...), "[[files]]\nsource = \"x.conf\"\ndest = \"/etc/mysite/../../etc/cron.d/x\"\n"...), 0o644)
		}, exitConfig, []string{"rpmforge.toml:", "files[0].dest", `must not contain ".."`}},
		{"build path left in a binary", func(dir string) {
			os.WriteFile(filepath.Join(dir, "venv", "lib", "python3.11", "site-packages", "blob.bin"), []byte("\x00\x01ELF"+dir+"/venv/lib\x00"), 0o644)
		}, exitFailure, []string{"blob.bin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup(p.Dir)
			t.Cleanup(func() {
				os.WriteFile(filepath.Join(p.Dir, "rpmforge.toml"), cfg, 0o644)
				os.Remove(filepath.Join(p.Dir, "polls", "shadow"))
				os.Remove(filepath.Join(p.Dir, "venv", "lib", "python3.11", "site-packages", "evil"))
				os.Remove(filepath.Join(p.Dir, "venv", "lib", "python3.11", "site-packages", "blob.bin"))
			})
			out := filepath.Join(t.TempDir(), "out")
			stdout, stderr, code := p.forge(nil, "--quiet", "build", "--output", out)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			msg := strings.TrimSpace(stderr)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Count(strings.Split(msg, "\n")[0], "rpmforge:") != 1 {
				t.Errorf("want one error line starting with rpmforge:, got %q", msg)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("output dir not empty after a failed build: %v", entries)
			}
		})
	}
	// And the project still builds once the bad input is gone.
	p.build(filepath.Join(t.TempDir(), "ok"))
}
