// Package hostroot makes an rpm installroot that behaves like a small EL host,
// driven by the real rpm and dnf of the machine (Debian 12 or EL in CI), so
// that packages can be installed, upgraded and erased with their scriptlets
// running.
//
// New makes the root and installs into it, with rpm --root, a base package
// built from the host's files: busybox-static with its applet links, the real
// useradd, groupadd, usermod, userdel, groupdel and getent with their shared
// libraries, /etc/passwd group shadow gshadow login.defs nsswitch.conf,
// /dev/null zero random urandom as device entries, and Provides for what
// applications require from the host (/bin/sh, /usr/bin/python3.11, ELF
// sonames: see Options). dnf then resolves an application's dependencies
// normally. There is no systemd in the root, and no python unless
// Options.Python asks for the host's.
//
// /bin/sh in the root is a wrapper that runs every rpm shell scriptlet with
// busybox sh and logs its arguments and exit status (Scriptlets): $1 is 1 on
// install, 2 on upgrade, 0 on erase. rpm and dnf exit 0 when %post, %preun or
// %postun fail; the log is how a caller notices.
//
// rpm and dnf never see the caller's environment: every call gets a private
// HOME whose .rpmmacros sets %_dbpath /var/lib/rpm, so nothing touches the
// host's rpmdb (Debian's rpm otherwise keeps it in ~/.rpmdb). dnf gets its own
// dnf.conf (skip_if_unavailable=False). The base package is built once per
// host and cached (CacheDir).
//
// The package is the production twin of internal/testroot (which reports to a
// testing.T); it needs root privileges (chroot, mknod).
package hostroot

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ScriptletLogPath is where the /bin/sh wrapper logs scriptlets, inside the
// root, unless Options.ScriptletLog says otherwise.
const ScriptletLogPath = "/var/log/hostroot-scriptlets.log"

// waitDelay bounds how long a command's leftover children (gpg-agent) may hold
// its output pipe open after it exits.
const waitDelay = 10 * time.Second

// Options configure the base package of a root. The zero value means the
// defaults.
type Options struct {
	// Provides are extra capabilities of the base package in rpm's syntax,
	// such as "/usr/bin/python3.11" or "python(abi) = 3.11". Nil means
	// DefaultProvides; an empty non-nil slice means none beyond /bin/sh.
	Provides []string
	// Libs are ELF sonames of the host, such as "libpq.so.5". For each the
	// base package provides "libpq.so.5()(64bit)" plus one capability per
	// symbol version it defines, as rpm's elfdeps would. Nil means
	// DefaultLibs.
	Libs []string
	// Python puts the host's /usr/bin/python3.11 and standard library (no
	// test suites, no __pycache__) into the base package with the shared
	// libraries they and Libs need, so scriptlets can run the installed venv
	// (manage.py migrate in %post). It costs ~15 MB more per root.
	Python bool
	// Name is the base package's name; default "hostroot-base".
	Name string
	// ScriptletLog is where the root's /bin/sh logs scriptlets, inside the
	// root; default ScriptletLogPath.
	ScriptletLog string
	// CacheDir keeps built base packages; default CacheDir().
	CacheDir string
	// Log, when set, receives one line per slow step (building the base
	// package, installing it).
	Log func(msg string)
}

func (o *Options) name() string {
	if o.Name == "" {
		return "hostroot-base"
	}
	return o.Name
}

func (o *Options) scriptletLog() string {
	if o.ScriptletLog == "" {
		return ScriptletLogPath
	}
	return o.ScriptletLog
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, args...))
	}
}

// DefaultProvides is what the base package provides besides its files when
// Options.Provides is nil: what an EL 9 host with python3.11 installed offers.
var DefaultProvides = []string{
	"/bin/sh",
	"/usr/bin/sh",
	"/usr/bin/python3.11",
	"/usr/bin/python3",
	"python(abi) = 3.11",
	"python3.11",
	"rtld(GNU_HASH)",
}

// DefaultLibs are the sonames provided when Options.Libs is nil: glibc's and
// libpq's, which a venv holding psycopg2 links against.
var DefaultLibs = []string{
	"libc.so.6",
	"libm.so.6",
	"libpthread.so.0",
	"libdl.so.2",
	"libpq.so.5",
}

// Tool is a host command hostroot drives, with the packages providing it.
type Tool struct {
	Name       string
	Debian, EL string // package names
}

// Tools are the host commands a root needs.
var Tools = []Tool{
	{Name: "rpm", Debian: "rpm", EL: "rpm"},
	{Name: "rpmbuild", Debian: "rpm", EL: "rpm-build"},
	{Name: "dnf", Debian: "dnf", EL: "dnf"},
	{Name: "chroot", Debian: "coreutils", EL: "coreutils"},
	{Name: "ldd", Debian: "libc-bin", EL: "glibc-common"},
}

// hostFiles are host files copied into the base package.
var hostFiles = []string{
	"/usr/sbin/useradd", "/usr/sbin/groupadd", "/usr/sbin/usermod",
	"/usr/sbin/userdel", "/usr/sbin/groupdel", "/usr/bin/getent",
}

// CheckHost returns an error naming what the host lacks to make a root: the
// tools (with the Debian and EL packages providing them), a static busybox,
// useradd and friends, root privileges. nil means all is there.
func CheckHost() error {
	var missing []string
	for _, tool := range Tools {
		if _, err := LookTool(tool.Name); err != nil {
			missing = append(missing, fmt.Sprintf("%s (Debian: apt-get install %s; EL: dnf install %s)", tool.Name, tool.Debian, tool.EL))
		}
	}
	if _, err := BusyboxPath(); err != nil {
		missing = append(missing, "a static busybox (Debian: apt-get install busybox-static; EL: busybox)")
	}
	for _, f := range hostFiles {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f+" (Debian: apt-get install passwd; EL: shadow-utils)")
		}
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root privileges (rpm --root runs scriptlets in a chroot)")
	}
	if len(missing) == 0 {
		return nil
	}
	return errors.New("hostroot: needs " + strings.Join(missing, ", "))
}

// Root is an rpm installroot with the base package installed.
type Root struct {
	Dir  string // the installroot
	Home string // private HOME for rpm and dnf, with .rpmmacros
	Tmp  string // scratch directory outside the root (dnf.conf lives here)

	DnfConf string // the dnf.conf every Dnf call uses

	scriptletLog string
}

// New makes an installroot in dir (created; it should be empty or absent)
// with the base package installed: dir/root is the root, dir/home and dir/tmp
// are scratch space outside it.
func New(ctx context.Context, dir string, opts Options) (*Root, error) {
	if err := CheckHost(); err != nil {
		return nil, err
	}
	base, err := BasePackage(ctx, opts)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	r := &Root{
		Dir:     filepath.Join(dir, "root"),
		Home:    filepath.Join(dir, "home"),
		Tmp:     filepath.Join(dir, "tmp"),
		DnfConf: filepath.Join(dir, "tmp", "dnf.conf"),

		scriptletLog: opts.scriptletLog(),
	}
	for _, d := range []string{r.Dir, r.Home, r.Tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(r.Home, ".rpmmacros"), []byte("%_dbpath /var/lib/rpm\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(r.DnfConf, []byte(dnfConf), 0o644); err != nil {
		return nil, err
	}
	opts.logf("installing the base package into %s", r.Dir)
	if out, err := r.RPM(ctx, "-i", "--force-debian", base); err != nil {
		// --force-debian is Debian's; EL's rpm does not know it.
		if !strings.Contains(out, "force-debian") {
			return nil, fmt.Errorf("hostroot: installing the base package: %w\n%s", err, out)
		}
		if out, err := r.RPM(ctx, "-i", base); err != nil {
			return nil, fmt.Errorf("hostroot: installing the base package: %w\n%s", err, out)
		}
	}
	return r, nil
}

// dnfConf replaces the host's /etc/dnf/dnf.conf, whose skip_if_unavailable=True
// (Debian) would let a broken or badly signed repo pass with exit status 0.
const dnfConf = `[main]
gpgcheck=1
repo_gpgcheck=1
skip_if_unavailable=False
installonly_limit=3
clean_requirements_on_remove=True
best=True
keepcache=False
plugins=0
`

// Env is the environment rpm and dnf get, and through them the scriptlets:
// nothing from the caller's.
func (r *Root) Env() []string {
	return []string{
		"HOME=" + r.Home,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"TMPDIR=/tmp",
	}
}

// RPM runs rpm --root r.Dir ARGS... and returns its combined output.
func (r *Root) RPM(ctx context.Context, args ...string) (string, error) {
	return run(ctx, r.Env(), "", "rpm", append([]string{"--root", r.Dir}, args...)...)
}

// Dnf runs dnf -y --installroot r.Dir --config r.DnfConf --releasever=9
// --noplugins --setopt=reposdir=REPOSDIR --refresh ARGS... (REPOSDIR is
// reposdir, or /dev/null when empty) and returns its combined output. The
// gpg-agents dnf leaves behind for the repo keyrings are stopped before it
// returns.
func (r *Root) Dnf(ctx context.Context, reposdir string, args ...string) (string, error) {
	if reposdir == "" {
		reposdir = "/dev/null"
	}
	a := []string{
		"-y", "--installroot=" + r.Dir, "--config=" + r.DnfConf,
		"--releasever=9", "--noplugins", "--setopt=reposdir=" + reposdir,
		// metadata_expire alone is not enough: dnf compares ages in whole
		// seconds, so a repo republished within the second looks fresh.
		"--refresh",
	}
	defer r.KillGPGAgents()
	return run(ctx, r.Env(), "", "dnf", append(a, args...)...)
}

// Chroot runs sh -c script chrooted into the root with HOME=/root, PATH and
// LANG only, and returns its combined output.
func (r *Root) Chroot(ctx context.Context, script string) (string, error) {
	env := []string{"HOME=/root", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"}
	return run(ctx, env, "", "chroot", r.Dir, "/bin/sh", "-c", script)
}

// KillGPGAgents stops the gpg-agent dnf starts for each repo keyring
// ($ROOT/var/cache/dnf/<repo>-<hash>/pubring) and waits until they are gone.
func (r *Root) KillGPGAgents() { KillGPGAgents(r.Dir, r.Env()) }

// KillGPGAgents stops the gpg-agents dnf started under the root dir (gpgconf
// run with env) and waits until they are gone: gpgconf --kill returns
// before the agent has exited.
func KillGPGAgents(dir string, env []string) {
	if gpgconf, err := LookTool("gpgconf"); err == nil {
		homes, _ := filepath.Glob(filepath.Join(dir, "var/cache/dnf/*/pubring"))
		for _, h := range homes {
			cmd := exec.Command(gpgconf, "--homedir", h, "--kill", "gpg-agent")
			cmd.Env = env
			_ = cmd.Run()
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		pids := GPGAgents(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GPGAgents returns the pids of live gpg-agent processes whose command line
// mentions dir (dnf starts them with --homedir under the root).
func GPGAgents(dir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if filepath.Base(args[0]) != "gpg-agent" || !strings.Contains(string(b), dir) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Scriptlet is one run of a shell scriptlet, as logged by the root's /bin/sh.
type Scriptlet struct {
	Args []string // the arguments after the script: "1" on install, "2" on upgrade, "0" on erase
	Exit int      // its exit status; dnf and rpm only warn when %post, %preun or %postun fail
	Head string   // the first non-blank line of the script
}

// String formats s as "HEAD: ARGS", with " (exit N)" appended when it failed.
func (s Scriptlet) String() string {
	str := s.Head + ": " + strings.Join(s.Args, " ")
	if s.Exit != 0 {
		str += fmt.Sprintf(" (exit %d)", s.Exit)
	}
	return str
}

// Scriptlets returns the shell scriptlets run in the root since the last
// ResetScriptletLog, in order.
func (r *Root) Scriptlets() ([]Scriptlet, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir, r.scriptletLog))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Scriptlet
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 3)
		if len(f) != 3 {
			return out, fmt.Errorf("hostroot: bad scriptlet log line %q", sc.Text())
		}
		rc, err := strconv.Atoi(f[1])
		if err != nil {
			return out, fmt.Errorf("hostroot: bad scriptlet log line %q", sc.Text())
		}
		out = append(out, Scriptlet{Args: strings.Fields(f[0]), Exit: rc, Head: f[2]})
	}
	return out, nil
}

// ResetScriptletLog forgets the scriptlets logged so far.
func (r *Root) ResetScriptletLog() error {
	err := os.Remove(filepath.Join(r.Dir, r.scriptletLog))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// User is an entry of the root's /etc/passwd.
type User struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string
}

// LookupUser reads name's entry from the root's /etc/passwd (not the host's).
func (r *Root) LookupUser(name string) (User, error) { return LookupUser(r.Dir, name) }

// LookupUser reads name's entry from rootDir's /etc/passwd.
func LookupUser(rootDir, name string) (User, error) {
	b, err := os.ReadFile(filepath.Join(rootDir, "etc/passwd"))
	if err != nil {
		return User{}, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) != 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return User{}, fmt.Errorf("bad passwd entry %q", line)
		}
		return User{Name: name, UID: uid, GID: gid, Home: f[5], Shell: f[6]}, nil
	}
	return User{}, fmt.Errorf("no user %q in the root's /etc/passwd", name)
}

// systemDirs are searched for tools missing from $PATH.
var systemDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// LookTool finds a host command in $PATH or, failing that, in the system
// directories: a process's PATH may lack /usr/sbin (chroot, useradd).
func LookTool(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err == nil || strings.Contains(name, "/") {
		return p, err
	}
	for _, dir := range systemDirs {
		if p, err2 := exec.LookPath(filepath.Join(dir, name)); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// BusyboxPath finds a statically linked busybox.
func BusyboxPath() (string, error) {
	var lastErr error
	for _, p := range []string{"/usr/bin/busybox", "/bin/busybox", "/usr/sbin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			lastErr = err
			continue
		}
		static := true
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				static = false
			}
		}
		f.Close()
		if static {
			return p, nil
		}
		lastErr = &os.PathError{Op: "open", Path: p, Err: os.ErrInvalid}
	}
	return "", lastErr
}

// Rpmbuild builds the binary packages of a spec file's text with rpmbuild -bb
// in a %_topdir under tmp and returns their paths, sorted. Brp scripts, debug
// packages and build-id links are turned off so the host needs no binutils;
// a private HOME keeps the host's rpmdb untouched.
func Rpmbuild(ctx context.Context, tmp, spec string, defines ...string) ([]string, error) {
	home := filepath.Join(tmp, "home")
	top := filepath.Join(tmp, "top")
	for _, d := range []string{filepath.Join(home, "rpmdb"), filepath.Join(home, "tmp"), top} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	macros := "%_dbpath " + filepath.Join(home, "rpmdb") + "\n%_topdir " + top + "\n%_tmppath " + filepath.Join(home, "tmp") + "\n"
	if err := os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte(macros), 0o644); err != nil {
		return nil, err
	}
	env := []string{
		"HOME=" + home,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"TMPDIR=" + filepath.Join(home, "tmp"),
	}
	specPath := filepath.Join(top, "pkg.spec")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		return nil, err
	}
	args := []string{"-bb", "--quiet",
		"--define", "_topdir " + top,
		"--define", "_build_id_links none",
		"--define", "__os_install_post %{nil}",
		"--define", "debug_package %{nil}",
		"--define", "_binary_payload w1.gzdio",
	}
	for _, d := range defines {
		args = append(args, "--define", d)
	}
	out, err := run(ctx, env, top, "rpmbuild", append(args, specPath)...)
	if err != nil {
		return nil, fmt.Errorf("hostroot: %w\n%s", err, out)
	}
	var rpms []string
	err = filepath.WalkDir(filepath.Join(top, "RPMS"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".rpm") {
			rpms = append(rpms, p)
		}
		return err
	})
	if err != nil || len(rpms) == 0 {
		return nil, fmt.Errorf("hostroot: rpmbuild made no package (%v)\n%s", err, out)
	}
	sort.Strings(rpms)
	return rpms, nil
}

// run runs name with env in dir and returns its combined output; the error
// names the command.
func run(ctx context.Context, env []string, dir, name string, args ...string) (string, error) {
	bin, err := LookTool(name)
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
