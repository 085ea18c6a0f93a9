package testroot_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

// spec reads a spec file of testdata/testroot.
func spec(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "testroot", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildT builds version ver of testdata/testroot/t.spec.
func buildT(t *testing.T, ver string) string {
	t.Helper()
	return testroot.Rpmbuild(t, spec(t, "t.spec"), "ver "+ver)[0]
}

// repoWith copies rpms into a fresh repository directory and indexes it.
func repoWith(t *testing.T, rpms ...string) string {
	t.Helper()
	dir := t.TempDir()
	addToRepo(t, dir, rpms...)
	return dir
}

func addToRepo(t *testing.T, dir string, rpms ...string) {
	t.Helper()
	for _, p := range rpms {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testroot.MakeRepo(t, dir)
}

// must returns a function that fails the test on a command's error and
// otherwise returns its output: must(t)(r.RPM("-q", "t")).
func must(t *testing.T) func(string, error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
}

func timed(t *testing.T, what string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%s took %v", what, time.Since(start).Round(time.Millisecond))
}

func TestNewBaseRoot(t *testing.T) {
	t.Parallel()
	rpmdbBefore := hostRPMDBExists()
	var r *testroot.Root
	timed(t, "New", func() { r = testroot.New(t) })

	must(t)(r.RPM("-q", "testroot-base"))
	prov := must(t)(r.RPM("-q", "--provides", "testroot-base"))
	for _, want := range []string{"/bin/sh", "/usr/bin/python3.11", "libpq.so.5()(64bit)", "libc.so.6()(64bit)", "libc.so.6(GLIBC_2.34)(64bit)"} {
		if !slices.Contains(strings.Split(prov, "\n"), want) {
			t.Errorf("base package does not provide %q; provides:\n%s", want, prov)
		}
	}
	if got := must(t)(r.RPM("-V", "testroot-base")); got != "" {
		t.Errorf("rpm -V testroot-base: %s", got)
	}
	if out := must(t)(r.Dnf("", "list", "--installed")); !strings.Contains(out, "testroot-base") {
		t.Errorf("dnf list --installed:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "var/lib/rpm/rpmdb.sqlite")); err != nil {
		t.Errorf("rpmdb not at the root's /var/lib/rpm: %v", err)
	}
	if !rpmdbBefore && hostRPMDBExists() {
		t.Errorf("the host's /var/lib/rpm/rpmdb.sqlite was created")
	}

	for _, dev := range []string{"null", "zero", "urandom"} {
		fi, err := os.Stat(filepath.Join(r.Dir, "dev", dev))
		if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
			t.Errorf("/dev/%s in the root: %v %v", dev, fi, err)
		}
	}

	out := must(t)(r.Run(t, "/bin/sh", "-c", "echo hi >/dev/null && getent passwd root && id -u && ls /usr/sbin/useradd"))
	if want := "root:x:0:0:root:/root:/bin/sh\n0\n/usr/sbin/useradd\n"; out != want {
		t.Errorf("chroot sh: got %q, want %q", out, want)
	}
	if _, err := r.Run(t, "/usr/bin/python3.11", "-V"); err == nil {
		t.Errorf("python3.11 runs in the root; it should only be provided")
	}
	// Plain commands through /bin/sh are not scriptlets.
	if log := r.ScriptletLog(); len(log) != 0 {
		t.Errorf("scriptlet log of a fresh root: %q", log)
	}
}

func hostRPMDBExists() bool {
	_, err := os.Stat("/var/lib/rpm/rpmdb.sqlite")
	return err == nil
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	var v1, v2 string
	timed(t, "rpmbuild ×2", func() {
		v1 = buildT(t, "1")
		v2 = buildT(t, "2")
	})
	r := testroot.New(t)
	repo := repoWith(t, v1)

	step := func(name string, want []string, args ...string) {
		t.Helper()
		r.ResetScriptletLog()
		var out string
		var err error
		timed(t, "dnf "+name, func() { out, err = r.Dnf(repo, args...) })
		must(t)(out, err)
		r.AssertScriptletsOK(t)
		if got := r.ScriptletLog(); !slices.Equal(got, want) {
			t.Errorf("dnf %s: scriptlets\n got %q\nwant %q", name, got, want)
		}
	}
	installed := func(want string) {
		t.Helper()
		got, err := r.RPM("-q", "--qf", "%{VERSION}\n", "t")
		if want == "" && err != nil {
			return
		}
		if strings.TrimSpace(got) != want || err != nil {
			t.Errorf("installed t: got %q (%v), want %q", got, err, want)
		}
	}

	step("install", []string{"# pre t-1: 1", "# post t-1: 1"}, "install", "t")
	installed("1")
	checkUserAndOwners(t, r)

	addToRepo(t, repo, v2)
	step("upgrade", []string{"# pre t-2: 2", "# post t-2: 2", "# preun t-1: 1", "# postun t-1: 1"}, "upgrade", "t")
	installed("2")
	checkUserAndOwners(t, r)

	step("downgrade", []string{"# pre t-1: 2", "# post t-1: 2", "# preun t-2: 1", "# postun t-2: 1"}, "downgrade", "t")
	installed("1")

	step("erase", []string{"# preun t-1: 0", "# postun t-1: 0"}, "erase", "t")
	installed("")
	if _, err := os.Stat(filepath.Join(r.Dir, "opt/t/data")); !os.IsNotExist(err) {
		t.Errorf("/opt/t/data after erase: %v", err)
	}
	// The user stays, as with EL packages that never delete their users.
	must(t)(r.Run(t, "getent", "passwd", "tuser"))
}

// checkUserAndOwners asserts that %pre made the user and that rpm gave it the
// files: in the rpmdb, on disk and for rpm -V.
func checkUserAndOwners(t *testing.T, r *testroot.Root) {
	t.Helper()
	pw := must(t)(r.Run(t, "getent", "passwd", "tuser"))
	f := strings.Split(strings.TrimSpace(pw), ":")
	if len(f) != 7 || f[5] != "/var/lib/t" || f[6] != "/sbin/nologin" {
		t.Fatalf("getent passwd tuser: %q", pw)
	}
	uid, _ := strconv.Atoi(f[2])
	gid, _ := strconv.Atoi(f[3])
	if uid < 201 || uid > 999 {
		t.Errorf("tuser uid %d is not a system uid of login.defs (201-999)", uid)
	}
	owners := must(t)(r.RPM("-q", "--qf", "[%{FILEUSERNAME}:%{FILEGROUPNAME} %{FILENAMES}\n]", "t"))
	for _, want := range []string{"tuser:tuser /opt/t/data", "root:root /opt/t/version", "tuser:tuser /var/lib/t"} {
		if !strings.Contains(owners, want+"\n") {
			t.Errorf("rpmdb owners lack %q:\n%s", want, owners)
		}
	}
	for _, p := range []string{"opt/t/data", "var/lib/t"} {
		fi, err := os.Stat(filepath.Join(r.Dir, p))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("/%s owned by %d:%d, want tuser %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
	}
	if out, err := r.RPM("-V", "t"); err != nil || out != "" {
		t.Errorf("rpm -V t: %v\n%s", err, out)
	}
}

func TestRunAtInstallPath(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/python3.11"); err != nil {
		t.Skip("needs the host's /usr/bin/python3.11")
	}
	if _, err := os.Stat("/opt/tapp"); err == nil {
		t.Skip("host has /opt/tapp")
	}
	rpm := testroot.Rpmbuild(t, spec(t, "tapp.spec"))[0]
	r := testroot.New(t)
	must(t)(r.RPM("-i", "--force-debian", rpm))

	out := must(t)(r.RunAtInstallPath(t, "/opt/tapp", "/opt/tapp/bin/hello"))
	if out != "/opt/tapp/bin/hello True\n" {
		t.Errorf("hello: %q", out)
	}
	if _, err := os.Stat("/opt/tapp"); err == nil {
		t.Errorf("/opt/tapp leaked out of the mount namespace")
	}
	// Without the bind the shebang does not resolve.
	if out, err := r.RunHost(t, testroot.HostRun{}, "/opt/tapp/bin/hello"); err == nil {
		t.Errorf("hello ran without its install path: %q", out)
	}

	// Hide covers a build tree; Dir and Env reach the command.
	build := t.TempDir()
	if err := os.WriteFile(filepath.Join(build, "marker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out = must(t)(r.RunHost(t, testroot.HostRun{
		Bind: []string{"/opt/tapp"},
		Hide: []string{build},
		Env:  []string{"GREETING=hi"},
		Dir:  "/opt/tapp/bin",
	}, "/bin/sh", "-c", `ls -A "$0"; pwd; echo "$GREETING"; ./hello`, build))
	if want := "/opt/tapp/bin\nhi\n./hello True\n"; out != want {
		t.Errorf("RunHost: got %q, want %q", out, want)
	}
	if _, err := os.Stat(filepath.Join(build, "marker")); err != nil {
		t.Errorf("hidden build tree lost its file outside the namespace: %v", err)
	}

	// User runs as the package's user: its data directory is writable, the
	// code is not, and writes land in the root.
	u, err := r.LookupUser("tapp")
	if err != nil {
		t.Fatal(err)
	}
	out = must(t)(r.RunHost(t, testroot.HostRun{Bind: []string{"/var/lib/tapp"}, BindRO: []string{"/opt/tapp"}, User: "tapp"},
		"/bin/sh", "-c", `id -u; echo "$HOME"; touch /var/lib/tapp/db && echo data-ok; touch /opt/tapp/x 2>/dev/null || echo code-ro`))
	if want := fmt.Sprintf("%d\n/var/lib/tapp\ndata-ok\ncode-ro\n", u.UID); out != want {
		t.Errorf("RunHost as tapp: got %q, want %q", out, want)
	}
	out = must(t)(r.RunHost(t, testroot.HostRun{BindRO: []string{"/opt/tapp"}},
		"/bin/sh", "-c", `touch /opt/tapp/x 2>/dev/null || echo ro-even-for-root`))
	if out != "ro-even-for-root\n" {
		t.Errorf("BindRO as root: %q", out)
	}
	if fi, err := os.Stat(filepath.Join(r.Dir, "var/lib/tapp/db")); err != nil {
		t.Errorf("write as tapp did not land in the root: %v", err)
	} else if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.UID {
		t.Errorf("db owned by %d, want %d", st.Uid, u.UID)
	}
}

func TestScriptletLogFormat(t *testing.T) {
	t.Parallel()
	r := testroot.New(t)
	// Hand-written log lines, as the wrapper writes them: args TAB status TAB head.
	p := filepath.Join(r.Dir, testroot.ScriptletLogPath)
	if err := os.WriteFile(p, []byte("2\t0\t# post x\n0 1\t127\tgetent group g || groupadd g\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := r.Scriptlets()
	if len(got) != 2 || got[0].Head != "# post x" || got[1].Exit != 127 || !slices.Equal(got[1].Args, []string{"0", "1"}) {
		t.Errorf("Scriptlets: %+v", got)
	}
	if log := r.ScriptletLog(); !slices.Equal(log, []string{"# post x: 2", "getent group g || groupadd g: 0 1 (exit 127)"}) {
		t.Errorf("ScriptletLog: %q", log)
	}
	r.ResetScriptletLog()
	if log := r.ScriptletLog(); log != nil {
		t.Errorf("after reset: %q", log)
	}
}

func TestDnfGPG(t *testing.T) {
	t.Parallel()
	testroot.Require(t)
	env := testroot.ToolEnv(t)
	gnupg := t.TempDir()
	env = append(env, "GNUPGHOME="+gnupg)
	t.Cleanup(func() { run(t, env, "gpgconf", "--kill", "all") })
	const uid = "testroot signer <signer@example.com>"
	must(t)(run(t, env, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"))
	key := filepath.Join(t.TempDir(), "key.asc")
	pub := must(t)(run(t, env, "gpg", "--batch", "--armor", "--export", uid))
	if err := os.WriteFile(key, []byte(pub), 0o644); err != nil {
		t.Fatal(err)
	}

	signed := buildT(t, "1")
	must(t)(run(t, env, "rpmsign", "--define", "__gpg /usr/bin/gpg", "--define", "_gpg_name "+uid, "--addsign", signed))
	repo := repoWith(t, signed)
	must(t)(run(t, env, "gpg", "--batch", "--yes", "--armor", "--detach-sign", "-u", uid, filepath.Join(repo, "repodata/repomd.xml")))

	r := testroot.New(t)
	opts := testroot.DnfOptions{GPGKey: key, RepoGPGCheck: true}
	must(t)(r.DnfWithOptions(repo, opts, "install", "t"))
	if out := must(t)(r.RPM("-q", "gpg-pubkey")); !strings.HasPrefix(out, "gpg-pubkey-") {
		t.Errorf("key not imported into the root: %q", out)
	}
	if pids := testroot.GPGAgents(r.Dir); len(pids) > 0 {
		t.Errorf("gpg-agents left running for the root: %v", pids)
	}

	// Negative cases must fail for the right reason, not be skipped.
	unsigned := repoWith(t, buildT(t, "1"))
	r2 := testroot.New(t)
	if out, err := r2.DnfWithOptions(unsigned, testroot.DnfOptions{GPGKey: key}, "install", "t"); err == nil {
		t.Errorf("unsigned package installed with gpgcheck=1:\n%s", out)
	} else if !strings.Contains(out, "not signed") {
		t.Errorf("unsigned package: unexpected failure:\n%s", out)
	}
	if out, err := r2.DnfWithOptions(unsigned, testroot.DnfOptions{GPGKey: key, RepoGPGCheck: true}, "install", "t"); err == nil {
		t.Errorf("repo without repomd.xml.asc accepted with repo_gpgcheck=1:\n%s", out)
	}
	if pids := testroot.GPGAgents(r2.Dir); len(pids) > 0 {
		t.Errorf("gpg-agents left running for the root: %v", pids)
	}
}

// run runs a host command with env (for gpg and rpmsign).
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), err
}

// A failing %post does not fail rpm -i or dnf install (rpm only warns), so
// tests must look at the scriptlets' exit statuses.
func TestFailingScriptletIsLogged(t *testing.T) {
	t.Parallel()
	rpm := testroot.Rpmbuild(t, spec(t, "tfail.spec"))[0]
	r := testroot.New(t)
	out, err := r.Dnf(repoWith(t, rpm), "install", "tfail")
	if err != nil {
		t.Errorf("dnf 4.14 exits 0 when %%post fails; now: %v\n%s", err, out)
	}
	if !strings.Contains(out, "scriptlet failed, exit status 127") {
		t.Errorf("dnf output lacks rpm's warning:\n%s", out)
	}
	if got, want := r.ScriptletLog(), []string{"# post tfail: 1 (exit 127)"}; !slices.Equal(got, want) {
		t.Errorf("scriptlets: got %q, want %q", got, want)
	}
	var ft fakeT
	r.AssertScriptletsOK(&ft)
	if !ft.failed {
		t.Errorf("AssertScriptletsOK passed a failed %%post")
	}
}

// fakeT records failures of a helper under test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper()                        {}
func (f *fakeT) Errorf(format string, a ...any) { f.failed = true }

func TestNewWithOptions(t *testing.T) {
	t.Parallel()
	r := testroot.NewWithOptions(t, testroot.Options{
		Provides: []string{"/usr/bin/python3.12"},
		Libs:     []string{"libc.so.6"},
	})
	prov := strings.Split(must(t)(r.RPM("-q", "--provides", "testroot-base")), "\n")
	for _, want := range []string{"/bin/sh", "/usr/bin/python3.12", "libc.so.6()(64bit)"} {
		if !slices.Contains(prov, want) {
			t.Errorf("provides lack %q: %q", want, prov)
		}
	}
	for _, unwanted := range []string{"/usr/bin/python3.11", "libpq.so.5()(64bit)"} {
		if slices.Contains(prov, unwanted) {
			t.Errorf("provides hold %q: %q", unwanted, prov)
		}
	}
	// t requires python3.11 and libpq: dnf must refuse it here.
	repo := repoWith(t, buildT(t, "1"))
	if out, err := r.Dnf(repo, "install", "t"); err == nil {
		t.Errorf("t installed without its requirements:\n%s", out)
	} else if !strings.Contains(out, "nothing provides") {
		t.Errorf("unexpected dnf failure:\n%s", out)
	}
}

func TestZypper(t *testing.T) {
	t.Parallel()
	r := testroot.New(t)
	repo := repoWith(t, buildT(t, "1"))
	must(t)(r.Zypper("addrepo", "--no-gpgcheck", "file://"+repo, "t"))
	must(t)(r.Zypper("refresh"))
	must(t)(r.Zypper("install", "t"))
	must(t)(r.Zypper("remove", "t"))
	r.AssertScriptletsOK(t)
	want := []string{"# pre t-1: 1", "# post t-1: 1", "# preun t-1: 0", "# postun t-1: 0"}
	if got := r.ScriptletLog(); !slices.Equal(got, want) {
		t.Errorf("scriptlets: got %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(r.Tmp, "zypper.log")); err != nil {
		t.Errorf("zypper did not log to ZYPP_LOGFILE: %v", err)
	}
}

func TestPython(t *testing.T) {
	t.Parallel()
	var r *testroot.Root
	timed(t, "NewWithOptions(Python)", func() { r = testroot.NewWithOptions(t, testroot.Options{Python: true}) })
	must(t)(r.RPM("-i", "--force-debian", testroot.Rpmbuild(t, spec(t, "tapp.spec"))[0]))

	out := must(t)(r.Run(t, "/usr/bin/python3", "-c", "import sqlite3, ssl, json, decimal, uuid; print(sqlite3.sqlite_version > '3')"))
	if out != "True\n" {
		t.Errorf("python3 in the root: %q", out)
	}
	if out := must(t)(r.Run(t, "/opt/tapp/bin/hello")); out != "/opt/tapp/bin/hello True\n" {
		t.Errorf("hello chrooted: %q", out)
	}
	// What a %post does to run manage.py as the service user without runuser.
	out = must(t)(r.Run(t, "su", "-s", "/bin/sh", "-c", `exec "$0" "$@"`, "--", "tapp", "/bin/sh", "-c", "id -un; /opt/tapp/bin/hello"))
	if out != "tapp\n/opt/tapp/bin/hello True\n" {
		t.Errorf("su to tapp: %q", out)
	}
	if got := must(t)(r.RPM("-V", "testroot-base")); got != "" {
		t.Errorf("rpm -V testroot-base: %s", got)
	}
}
