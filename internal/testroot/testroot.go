// Package testroot gives end-to-end tests an rpm installroot that behaves like a
// small EL host, driven by the real rpm, dnf (and zypper) of the machine
// (Debian 12 in CI).
//
// New makes the root and installs into it, with rpm --root, a base package built
// from the host's files: busybox-static with its applet links, the real useradd,
// groupadd, usermod, userdel, groupdel and getent with their shared libraries,
// /etc/passwd group shadow gshadow login.defs nsswitch.conf, /dev/null zero
// random urandom as device entries, and Provides for what applications require
// from the host (/bin/sh, /usr/bin/python3.11, ELF sonames: see Options). dnf
// then resolves an application's dependencies normally. There is no systemd in
// the root, and no python unless Options.Python asks for the host's.
//
// /bin/sh in the root is a wrapper that runs every rpm shell scriptlet with
// busybox sh and logs its arguments and exit status (Scriptlets, ScriptletLog):
// $1 is 1 on install, 2 on upgrade, 0 on erase. rpm and dnf exit 0 when %post,
// %preun or %postun fail; AssertScriptletsOK catches that.
//
// RunAtInstallPath and RunHost run the installed application with the host's
// python in a private mount namespace where the root's /opt/<name> appears at
// /opt/<name>, optionally as the package's user and with the build tree hidden.
//
// rpm and dnf never see the caller's environment: every call gets a private HOME
// whose .rpmmacros sets %_dbpath /var/lib/rpm, so nothing touches the host's
// rpmdb (Debian's rpm otherwise keeps it in ~/.rpmdb, which lands in the root).
// rpmbuild and createrepo_c run with ToolEnv, whose %_dbpath is a scratch dir.
//
// The helpers need root (chroot, mknod, mount namespaces). Without root or the
// tools they skip the test, unless RPMFORGE_TESTROOT=require is set (as in CI),
// in which case they fail it; with go test -short they skip.
package testroot

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/hostroot"
)

// RepoID is the id of the repository Dnf passes with --repofrompath.
const RepoID = "t"

// ScriptletLogPath is where the /bin/sh wrapper logs scriptlets, inside the root.
const ScriptletLogPath = "/var/log/testroot-scriptlets.log"

// Root is an rpm installroot with the base package installed.
type Root struct {
	Dir  string // the installroot
	Home string // private HOME for rpm and dnf, with .rpmmacros
	Tmp  string // scratch directory outside the root (dnf.conf lives here)

	t       testing.TB
	dnfConf string
}

// Options configure the base package of a root. The zero value means the
// defaults.
type Options struct {
	// Provides are extra capabilities of the base package in rpm's syntax, such
	// as "/usr/bin/python3.11" or "python(abi) = 3.11". Nil means
	// DefaultProvides; an empty non-nil slice means none beyond /bin/sh.
	Provides []string
	// Libs are ELF sonames of the host, such as "libpq.so.5". For each the base
	// package provides "libpq.so.5()(64bit)" plus one capability per symbol
	// version it defines ("libc.so.6(GLIBC_2.14)(64bit)"), as rpm's elfdeps
	// would. Nil means DefaultLibs.
	Libs []string
	// Python puts the host's /usr/bin/python3.11 and standard library (no
	// test suites, no __pycache__) into the base package with the shared
	// libraries they and Libs need, so scriptlets can run the installed venv
	// (manage.py migrate in %post) and Run can run it chrooted. Without it the
	// root only provides /usr/bin/python3.11. It costs ~15 MB more per root.
	Python bool
}

// DefaultProvides and DefaultLibs are what the base package provides when
// Options.Provides or Options.Libs is nil: pkg/hostroot's, what an EL 9 host
// with python3.11 installed offers.
var (
	DefaultProvides = hostroot.DefaultProvides
	DefaultLibs     = hostroot.DefaultLibs
)

// New makes an installroot under t.TempDir() with the default base package
// installed. It skips (or fails, with RPMFORGE_TESTROOT=require) the test when
// the tools or privileges it needs are missing.
func New(t testing.TB) *Root {
	t.Helper()
	return NewWithOptions(t, Options{})
}

// NewWithOptions is New with a configurable base package.
func NewWithOptions(t testing.TB, opts Options) *Root {
	t.Helper()
	Require(t)
	base := basePackage(t, opts)

	tmp := t.TempDir()
	r := &Root{
		Dir:     filepath.Join(tmp, "root"),
		Home:    filepath.Join(tmp, "home"),
		Tmp:     filepath.Join(tmp, "tmp"),
		t:       t,
		dnfConf: filepath.Join(tmp, "tmp", "dnf.conf"),
	}
	for _, d := range []string{r.Dir, r.Home, r.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(r.Home, ".rpmmacros"), "%_dbpath /var/lib/rpm\n")
	writeFile(t, r.dnfConf, dnfConf)
	t.Cleanup(r.killGPGAgents)

	if out, err := r.RPM("-i", "--force-debian", base); err != nil {
		t.Fatalf("testroot: installing the base package: %v\n%s", err, out)
	}
	return r
}

// dnfConf replaces the host's /etc/dnf/dnf.conf, whose skip_if_unavailable=True
// would let a broken or badly signed repo pass with exit status 0.
const dnfConf = `[main]
gpgcheck=0
repo_gpgcheck=0
skip_if_unavailable=False
installonly_limit=3
clean_requirements_on_remove=True
best=True
keepcache=False
plugins=0
`

// Env is the environment rpm and dnf get, and through them the scriptlets:
// nothing from the caller's, so host settings (PYTHON*, pyenv, LD_*) cannot leak
// into scriptlets.
func (r *Root) Env() []string {
	return []string{
		"HOME=" + r.Home,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"TMPDIR=/tmp",
	}
}

// RPM runs rpm --root r.Dir ARGS... and returns its combined output.
// Debian's rpm needs --force-debian with -i/-U to skip its "use alien" nag.
func (r *Root) RPM(args ...string) (string, error) {
	return r.command("rpm", append([]string{"--root", r.Dir}, args...)...)
}

// DnfOptions configure signature checking of the repository Dnf uses.
type DnfOptions struct {
	// GPGKey is the path of an ASCII-armored public key. When set, dnf checks
	// package signatures (gpgcheck=1) against it and imports it into the root.
	GPGKey string
	// RepoGPGCheck also checks repomd.xml.asc (repo_gpgcheck=1). dnf needs
	// GPGKey for that even when the key is in the root's rpmdb.
	RepoGPGCheck bool
	// Setopt are further --setopt values, such as "t.module_hotfixes=1".
	Setopt []string
}

// Dnf runs dnf in the root against the single repository repoDir, without GPG
// checks: dnf -y --installroot r.Dir --config <own dnf.conf> --releasever=9
// --noplugins --setopt=reposdir=/dev/null --repofrompath=t,file://repoDir --repo=t
// --setopt=t.metadata_expire=0 --refresh ARGS...
// With repoDir "" dnf sees no repository (for "dnf list --installed" and the like).
func (r *Root) Dnf(repoDir string, args ...string) (string, error) {
	return r.DnfWithOptions(repoDir, DnfOptions{}, args...)
}

// DnfWithOptions is Dnf with signature checking options. gpg-agents that dnf
// leaves behind for the repo keyring are stopped before it returns.
func (r *Root) DnfWithOptions(repoDir string, o DnfOptions, args ...string) (string, error) {
	if o.RepoGPGCheck && o.GPGKey == "" {
		return "", errors.New("testroot: RepoGPGCheck needs GPGKey")
	}
	a := []string{
		"-y", "--installroot=" + r.Dir, "--config=" + r.dnfConf,
		"--releasever=9", "--noplugins", "--setopt=reposdir=/dev/null",
	}
	if repoDir != "" {
		abs, err := filepath.Abs(repoDir)
		if err != nil {
			return "", err
		}
		set := func(k, v string) { a = append(a, "--setopt="+RepoID+"."+k+"="+v) }
		a = append(a, "--repofrompath="+RepoID+",file://"+abs, "--repo="+RepoID,
			// metadata_expire=0 alone is not enough: dnf compares the age of
			// its cache in whole seconds (age > expire), so a repo republished
			// within the second of the previous dnf call is taken as fresh.
			// --refresh expires it unconditionally.
			"--refresh")
		set("metadata_expire", "0")
		gpgcheck, repoGPGCheck := "0", "0"
		if o.GPGKey != "" {
			key, err := filepath.Abs(o.GPGKey)
			if err != nil {
				return "", err
			}
			gpgcheck = "1"
			set("gpgkey", "file://"+key)
		}
		if o.RepoGPGCheck {
			repoGPGCheck = "1"
		}
		set("gpgcheck", gpgcheck)
		set("repo_gpgcheck", repoGPGCheck)
	}
	for _, s := range o.Setopt {
		a = append(a, "--setopt="+s)
	}
	defer r.killGPGAgents()
	return r.command("dnf", append(a, args...)...)
}

// Zypper runs zypper --root r.Dir --non-interactive ARGS... with r.Env plus
// ZYPP_LOGFILE=r.Tmp/zypper.log: zypper otherwise logs to the host's
// /var/log/zypper.log even with --root (its lock is $ROOT/run/zypp.pid). Repos
// are added with "addrepo [--no-gpgcheck] file://DIR ALIAS" and stay in the
// root; zypper trusts keys imported into the root's rpmdb (rpmkeys --import
// via r.RPM("--import", KEY)). It skips the test when zypper is missing.
func (r *Root) Zypper(args ...string) (string, error) {
	if _, err := lookTool("zypper"); err != nil {
		skipOrFail(r.t, "testroot: needs zypper (Debian 12: apt-get install zypper)")
	}
	env := append(r.Env(), "ZYPP_LOGFILE="+filepath.Join(r.Tmp, "zypper.log"))
	return run(r.t.Context(), env, "", "zypper", append([]string{"--root", r.Dir, "--non-interactive"}, args...)...)
}

// killGPGAgents stops the gpg-agents dnf started for the root's repo keyrings.
func (r *Root) killGPGAgents() { hostroot.KillGPGAgents(r.Dir, r.Env()) }

// GPGAgents returns the pids of live gpg-agent processes whose command line
// mentions dir (dnf starts them with --homedir under the root).
func GPGAgents(dir string) []int { return hostroot.GPGAgents(dir) }

// Scriptlet is one run of a shell scriptlet, as logged by the root's /bin/sh.
type Scriptlet struct {
	Args []string // the arguments after the script: "1" on install, "2" on upgrade, "0" on erase
	Exit int      // its exit status; dnf and rpm only warn when %post, %preun or %postun fail
	Head string   // the first non-blank line of the script, such as "# pre mysite"
}

// String formats s as "HEAD: ARGS", with " (exit N)" appended when it failed.
func (s Scriptlet) String() string {
	str := s.Head + ": " + strings.Join(s.Args, " ")
	if s.Exit != 0 {
		str += fmt.Sprintf(" (exit %d)", s.Exit)
	}
	return str
}

// Scriptlets returns the shell scriptlets run in the root so far, in order.
// Lua scriptlets (<lua>) and other interpreters (-p) do not go through /bin/sh
// and are not seen.
func (r *Root) Scriptlets() []Scriptlet {
	b, err := os.ReadFile(filepath.Join(r.Dir, ScriptletLogPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	var out []Scriptlet
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 {
			r.t.Fatalf("testroot: bad scriptlet log line %q", sc.Text())
		}
		rc, err := strconv.Atoi(f[1])
		if err != nil {
			r.t.Fatalf("testroot: bad scriptlet log line %q", sc.Text())
		}
		out = append(out, Scriptlet{Args: strings.Fields(f[0]), Exit: rc, Head: f[2]})
	}
	return out
}

// ScriptletLog returns Scriptlets formatted by Scriptlet.String, such as
// "# post t: 2" or "# post t: 1 (exit 127)".
func (r *Root) ScriptletLog() []string {
	var out []string
	for _, s := range r.Scriptlets() {
		out = append(out, s.String())
	}
	return out
}

// AssertScriptletsOK reports an error on t for every logged scriptlet that
// exited non-zero. rpm and dnf exit 0 when %post, %preun or %postun fail.
func (r *Root) AssertScriptletsOK(t testing.TB) {
	t.Helper()
	for _, s := range r.Scriptlets() {
		if s.Exit != 0 {
			t.Errorf("testroot: scriptlet failed: %s", s)
		}
	}
}

// ResetScriptletLog forgets the scriptlets logged so far.
func (r *Root) ResetScriptletLog() {
	if err := os.Remove(filepath.Join(r.Dir, ScriptletLogPath)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.t.Fatal(err)
	}
}

// Run runs cmd chrooted into the root (busybox, getent, useradd... are there;
// python is not), with HOME=/root, PATH and LANG only, and returns its combined
// output.
func (r *Root) Run(t testing.TB, cmd ...string) (string, error) {
	t.Helper()
	if len(cmd) == 0 {
		t.Fatal("testroot: Run without a command")
	}
	env := []string{"HOME=/root", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	return run(t.Context(), env, "", "chroot", append([]string{r.Dir}, cmd...)...)
}

// command runs a host tool with r.Env.
func (r *Root) command(name string, args ...string) (string, error) {
	return run(r.t.Context(), r.Env(), "", name, args...)
}

// run runs name with env in dir and returns its combined output; the error
// names the command.
func run(ctx context.Context, env []string, dir, name string, args ...string) (string, error) {
	bin, err := lookTool(name)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.WaitDelay = waitDelay
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), err
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
