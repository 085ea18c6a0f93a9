package testroot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/hostroot"
)

// waitDelay bounds how long a command's leftover children (gpg-agent) may hold
// its output pipe open after it exits.
const waitDelay = 10 * time.Second

// RequireEnv names the environment variable that turns skips into failures:
// with RPMFORGE_TESTROOT=require (set by .ci/run) a missing tool fails the test.
const RequireEnv = "RPMFORGE_TESTROOT"

// hostTools are the host commands the package drives.
var hostTools = []string{"rpm", "rpmbuild", "dnf", "createrepo_c", "chroot", "unshare", "mount", "setpriv", "ldd"}

// hostFiles are host files copied into the base package.
var hostFiles = []string{
	"/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/usermod",
	"/usr/sbin/userdel", "/usr/sbin/groupdel", "/usr/bin/getent",
}

// Require skips the test (or fails it, with RPMFORGE_TESTROOT=require) unless
// this process is root and the tools testroot drives are installed: rpm,
// rpmbuild, dnf, createrepo_c, a static busybox, useradd and friends. With
// go test -short it always skips.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("testroot: end-to-end test with the real rpm and dnf, skipped with -short")
	}
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root privileges (chroot, mknod, mount namespaces)")
	}
	for _, tool := range hostTools {
		if _, err := lookTool(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := busyboxPath(); err != nil {
		missing = append(missing, "static busybox (Debian: busybox-static)")
	}
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return
	}
	skipOrFail(t, "testroot: needs "+strings.Join(missing, ", ")+
		" (Debian 12: apt-get install rpm dnf createrepo-c busybox-static passwd gnupg util-linux; see .ci/run)")
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(RequireEnv) == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// lookTool finds a host command in $PATH or, failing that, in the system
// lookTool finds a host command in $PATH or the system directories.
func lookTool(name string) (string, error) { return hostroot.LookTool(name) }

// busyboxPath finds a statically linked busybox.
func busyboxPath() (string, error) { return hostroot.BusyboxPath() }

// ToolEnv returns an environment for rpmbuild, createrepo_c, rpmsign and
// rpmkeys run outside any root: a private HOME under t.TempDir() whose
// .rpmmacros points %_dbpath and %_topdir at scratch directories, so the host's
// rpmdb (/var/lib/rpm, ~/.rpmdb) is never created or read.
func ToolEnv(t testing.TB) []string {
	t.Helper()
	home := t.TempDir()
	writeFile(t, filepath.Join(home, ".rpmmacros"),
		"%_dbpath "+filepath.Join(home, "rpmdb")+"\n"+
			"%_topdir "+filepath.Join(home, "rpmbuild")+"\n"+
			"%_tmppath "+filepath.Join(home, "tmp")+"\n")
	for _, d := range []string{"rpmdb", "tmp"} {
		if err := os.Mkdir(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"HOME=" + home,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"TMPDIR=" + filepath.Join(home, "tmp"),
	}
}

// Rpmbuild builds the binary packages of a spec file's text with rpmbuild -bb
// in a scratch %_topdir and returns their paths, sorted. Brp scripts, debug
// packages and build-id links are turned off so the host needs no binutils.
// defines are extra "macro value" pairs for --define.
func Rpmbuild(t testing.TB, spec string, defines ...string) []string {
	t.Helper()
	Require(t)
	return rpmbuild(t, spec, defines...)
}

func rpmbuild(t testing.TB, spec string, defines ...string) []string {
	t.Helper()
	rpms, err := hostroot.Rpmbuild(t.Context(), t.TempDir(), spec, defines...)
	if err != nil {
		t.Fatalf("testroot: %v", err)
	}
	return rpms
}

// MakeRepo (re)writes the repodata of the packages in dir with createrepo_c,
// from scratch. Dnf reads it afresh each time (metadata_expire=0).
func MakeRepo(t testing.TB, dir string) {
	t.Helper()
	Require(t)
	out, err := run(t.Context(), ToolEnv(t), "", "createrepo_c", "--quiet", "--no-database", dir)
	if err != nil {
		t.Fatalf("testroot: %v\n%s", err, out)
	}
}
