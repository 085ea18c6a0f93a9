package hostroot

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The base package is built once per set of inputs and kept in the cache
// directory (Options.CacheDir, default $XDG_CACHE_HOME/rpmforge/hostroot):
// its name hashes the spec and every file it stages, so a changed host
// rebuilds it. Entries unused for a week are pruned when a new one is written.
var (
	baseMu    sync.Mutex
	baseCache = map[string]string{} // options key -> rpm path, for this process
)

// CacheDir returns the default cache directory of base packages:
// $XDG_CACHE_HOME/rpmforge/hostroot, or os.UserCacheDir's equivalent.
func CacheDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "rpmforge", "hostroot"), nil
}

// BasePackage returns the path of the base package for opts, building it
// with rpmbuild (from the host's files) unless it is cached.
func BasePackage(ctx context.Context, opts Options) (string, error) {
	provides := opts.Provides
	if provides == nil {
		provides = DefaultProvides
	}
	libs := opts.Libs
	if libs == nil {
		libs = DefaultLibs
	}
	cache := opts.CacheDir
	if cache == "" {
		c, err := CacheDir()
		if err != nil {
			return "", fmt.Errorf("hostroot: cache directory: %w", err)
		}
		cache = c
	}
	name, logPath := opts.name(), opts.scriptletLog()
	optKey := fmt.Sprintf("%q %q %v %q %q %q", provides, libs, opts.Python, cache, name, logPath)

	baseMu.Lock()
	defer baseMu.Unlock()
	if p, ok := baseCache[optKey]; ok && exists(p) {
		return p, nil
	}
	opts.logf("planning the base package (host files%s)", map[bool]string{true: ", python3.11", false: ""}[opts.Python])
	b, err := planBase(ctx, name, logPath, provides, libs, opts.Python)
	if err != nil {
		return "", fmt.Errorf("hostroot: base package: %w", err)
	}
	dir := filepath.Join(cache, b.key[:16])
	final := filepath.Join(dir, name+".rpm")
	switch {
	case os.MkdirAll(cache, 0o755) != nil || !private(cache) || (exists(dir) && !private(dir)):
		// Someone else's cache would be installed as root: build privately,
		// in a directory of our own that is kept for this process.
		tmp, err := os.MkdirTemp("", "rpmforge-hostroot-")
		if err != nil {
			return "", err
		}
		opts.logf("building the base package in %s (cache %s is not private)", tmp, cache)
		p, err := b.build(ctx, tmp)
		if err != nil {
			return "", err
		}
		final = p
	case private(final):
		opts.logf("base package: %s (cached)", final)
	default:
		opts.logf("building the base package into %s", dir)
		tmp, err := os.MkdirTemp("", "rpmforge-hostroot-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(tmp)
		p, err := b.build(ctx, tmp)
		if err != nil {
			return "", err
		}
		// Concurrent processes may both build; the renames are atomic.
		if err := installFile(p, dir, final); err != nil {
			return "", fmt.Errorf("hostroot: caching the base package: %w", err)
		}
		prune(cache, dir)
	}
	baseCache[optKey] = final
	return final, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// private reports whether p exists, is no symlink, belongs to this user and
// is writable by nobody else.
func private(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm()&0o022 != 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// prune removes cached base packages other than keep unused for a week.
func prune(cache, keep string) {
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		p := filepath.Join(cache, e.Name())
		fi, err := e.Info()
		if p != keep && err == nil && time.Since(fi.ModTime()) > 7*24*time.Hour {
			os.RemoveAll(p)
		}
	}
}

// installFile copies src to final through a temporary file in dir and a
// rename, so concurrent test binaries never see a partial package.
func installFile(src, dir, final string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(dir, ".base-*.rpm")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), final)
}

// base is the plan of the base package: what to copy where, and its spec.
type base struct {
	copies   map[string]string // path in the root -> host file
	symlinks map[string]string // path in the root -> link target
	spec     string            // uses %{stage} for the staging directory
	wrapper  string            // the root's /bin/sh
	key      string            // hash of spec and copied contents
}

// Directories the base package owns, as EL's filesystem package does.
var baseDirs = map[string]uint32{
	"/dev": 0o755, "/etc": 0o755, "/etc/skel": 0o755, "/etc/default": 0o755,
	"/home": 0o755, "/opt": 0o755, "/proc": 0o555, "/root": 0o550, "/run": 0o755,
	"/srv": 0o755, "/sys": 0o555, "/tmp": 0o1777,
	"/usr": 0o755, "/usr/bin": 0o755, "/usr/sbin": 0o755, "/usr/lib": 0o755,
	"/usr/lib64": 0o755, "/usr/libexec": 0o755, "/usr/share": 0o755,
	"/usr/local": 0o755, "/usr/local/bin": 0o755, "/usr/local/sbin": 0o755,
	"/var": 0o755, "/var/cache": 0o755, "/var/lib": 0o755, "/var/log": 0o755,
	"/var/spool": 0o755, "/var/tmp": 0o1777, "/var/opt": 0o755,
}

// Merged /usr, as on EL 9.
var baseLinks = map[string]string{
	"/bin": "usr/bin", "/sbin": "usr/sbin", "/lib": "usr/lib", "/lib64": "usr/lib64",
	"/var/run": "../run",
}

// Device entries (%dev), created with mknod at install time.
var baseDevs = []struct {
	path         string
	major, minor int
}{{"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}}

// shWrapper returns the root's /bin/sh, logging to logPath. rpm runs each shell scriptlet as
// "/bin/sh /var/tmp/rpm-tmp.XXXXXX ARG...": the wrapper runs it with busybox sh
// and logs "ARGS<TAB>EXIT STATUS<TAB>first non-blank line of the script".
// Anything else is handed to busybox sh unchanged.
func shWrapper(logPath string) string {
	return `#!/usr/bin/busybox sh
# hostroot /bin/sh: runs rpm scriptlets with busybox sh and logs them to
# ` + logPath + `.
case "$1" in
/var/tmp/rpm-tmp.*)
	head=$(/usr/bin/busybox sed -n '/[^[:space:]]/{p;q;}' "$1" | /usr/bin/busybox cut -c1-200)
	/usr/bin/busybox sh "$@"
	rc=$?
	shift
	printf '%s\t%s\t%s\n' "$*" "$rc" "$head" >> ` + logPath + `
	exit $rc
	;;
esac
exec /usr/bin/busybox sh "$@"
`
}

var baseEtc = map[string]string{
	"/etc/passwd": `root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
nobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin
`,
	"/etc/group": `root:x:0:
bin:x:1:
daemon:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
wheel:x:10:
mail:x:12:
users:x:100:
nobody:x:65534:
`,
	"/etc/shadow": `root:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
`,
	"/etc/gshadow": `root:::
bin:::
daemon:::
sys:::
adm:::
tty:::
disk:::
wheel:::
mail:::
users:::
nobody:::
`,
	// EL 9's values for the system ranges.
	"/etc/login.defs": `MAIL_DIR	/var/spool/mail
PASS_MAX_DAYS	99999
PASS_MIN_DAYS	0
PASS_WARN_AGE	7
UID_MIN		1000
UID_MAX		60000
SYS_UID_MIN	201
SYS_UID_MAX	999
GID_MIN		1000
GID_MAX		60000
SYS_GID_MIN	201
SYS_GID_MAX	999
CREATE_HOME	yes
UMASK		077
USERGROUPS_ENAB	yes
ENCRYPT_METHOD	SHA512
`,
	"/etc/nsswitch.conf": `passwd:	files
shadow:	files
group:	files
hosts:	files
`,
	"/etc/shells": "/bin/sh\n/usr/bin/sh\n",
	"/etc/os-release": `NAME="hostroot"
ID="hostroot"
ID_LIKE="rhel centos fedora"
VERSION_ID="9"
PLATFORM_ID="platform:el9"
PRETTY_NAME="rpmforge hostroot (EL 9-like)"
`,
	"/etc/hosts": "127.0.0.1 localhost\n::1 localhost\n",
}

func planBase(ctx context.Context, name, logPath string, provides, libs []string, python bool) (*base, error) {
	bb, err := BusyboxPath()
	if err != nil {
		return nil, fmt.Errorf("static busybox: %w", err)
	}
	b := &base{copies: map[string]string{}, symlinks: map[string]string{}, wrapper: shWrapper(logPath)}
	b.copies["/usr/bin/busybox"] = bb
	elfs := append([]string(nil), hostFiles...)
	if python {
		py, err := b.addPython()
		if err != nil {
			return nil, err
		}
		elfs = append(elfs, py...)
		for _, lib := range libs {
			p, err := findLib(lib)
			if err != nil {
				return nil, err
			}
			elfs = append(elfs, p)
		}
	}
	for _, f := range elfs {
		b.copies[usrMerged(f)] = f
		deps, err := lddPaths(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, d := range deps {
			b.copies[usrMerged(d)] = d
		}
	}
	for p, target := range baseLinks {
		b.symlinks[p] = target
	}

	out, err := run(ctx, os.Environ(), "", bb, "--list-full")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	for _, l := range strings.Fields(out) {
		p := usrMerged("/" + l)
		name := path.Base(p)
		if name == "sh" || strings.ContainsAny(name, "[]*?{}") {
			continue // sh is the wrapper; rpm's %files would glob [ and [[
		}
		if _, ok := b.copies[p]; ok {
			continue
		}
		b.symlinks[p] = "/usr/bin/busybox"
	}

	var prov []string
	prov = append(prov, "/bin/sh")
	prov = append(prov, provides...)
	for _, lib := range libs {
		p, err := libProvides(lib)
		if err != nil {
			return nil, err
		}
		prov = append(prov, p...)
	}
	b.spec = b.makeSpec(name, dedupe(prov))

	// The key covers everything staged: spec, generated files, link targets
	// and the contents of the copied host files.
	h := sha256.New()
	io.WriteString(h, b.spec)
	io.WriteString(h, b.wrapper)
	for _, p := range sortedKeys(baseEtc) {
		fmt.Fprintf(h, "\x00%s\x00%s", p, baseEtc[p])
	}
	for _, p := range sortedKeys(b.symlinks) {
		fmt.Fprintf(h, "\x00%s\x00%s", p, b.symlinks[p])
	}
	for _, dst := range sortedKeys(b.copies) {
		fmt.Fprintf(h, "\x00%s\x00", dst)
		f, err := os.Open(b.copies[dst])
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	b.key = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

// lddPaths lists the shared libraries (and the ELF interpreter) of a binary.
func lddPaths(ctx context.Context, bin string) ([]string, error) {
	out, err := run(ctx, []string{"PATH=/usr/bin:/bin", "LANG=C"}, "", "ldd", bin)
	if err != nil {
		if strings.Contains(out, "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	var paths []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.Contains(line, "=> not found") {
			return nil, fmt.Errorf("ldd %s: %s", bin, line)
		}
		if _, after, ok := strings.Cut(line, "=> "); ok {
			line = after
		}
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "/") {
			paths = append(paths, f[0])
		}
	}
	return paths, nil
}

// pythonSkip are the parts of the host's standard library not copied: test
// suites, GUI and packaging leftovers, the static build configuration.
var pythonSkip = map[string]bool{
	"__pycache__": true, "test": true, "tests": true, "idlelib": true, "tkinter": true,
	"turtledemo": true, "ensurepip": true, "dist-packages": true, "site-packages": true,
}

// PythonPath is the host's python that Options.Python copies into the root.
const PythonPath = "/usr/bin/python3.11"

// addPython plans /usr/bin/python3.11, a python3 link and the standard library
// /usr/lib/python3.11 (following symlinks such as Debian's sitecustomize.py).
// It returns the ELF files whose libraries must come along.
func (b *base) addPython() ([]string, error) {
	const bin, lib = PythonPath, "/usr/lib/python3.11"
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("Options.Python: %w", err)
	}
	b.copies[bin] = bin
	b.symlinks["/usr/bin/python3"] = "python3.11"
	elfs := []string{bin}
	// Debian's pytz (and so the example venv) reads the system's tzdata, as
	// every EL host has it.
	if err := b.addTree("/usr/share/zoneinfo", nil); err != nil {
		return nil, fmt.Errorf("Options.Python needs the host's tzdata: %w", err)
	}
	err := b.addTree(lib, func(p string) {
		if strings.HasSuffix(p, ".so") {
			elfs = append(elfs, p)
		}
	})
	return elfs, err
}

// addTree plans the regular files under dir (following symlinks; skipping
// pythonSkip directories and names rpm's %files would glob or split), calling
// each for every file planned.
func (b *base) addTree(dir string, each func(path string)) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if pythonSkip[name] || strings.HasPrefix(name, "config-") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.ContainsAny(name, " \t[]*?{}\\\"") {
			return nil // rpm's %files would glob or split it
		}
		fi, err := os.Stat(p) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			return nil // dangling link
		}
		b.copies[p] = p
		if each != nil {
			each(p)
		}
		return nil
	})
}

// usrMerged maps /bin, /sbin, /lib and /lib64 paths to /usr, where the root's
// merged layout keeps them.
func usrMerged(p string) string {
	p = path.Clean(p)
	for _, d := range []string{"/bin/", "/sbin/", "/lib/", "/lib64/"} {
		if strings.HasPrefix(p, d) {
			return "/usr" + p
		}
	}
	return p
}

// libDirs are where libProvides looks for a soname on the host.
func libDirs() []string {
	triplet := map[string]string{
		"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu",
		"ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
	}[runtime.GOARCH]
	return []string{"/usr/lib/" + triplet, "/lib/" + triplet, "/usr/lib64", "/lib64", "/usr/lib"}
}

// findLib finds a library of the host by soname.
func findLib(soname string) (string, error) {
	for _, dir := range libDirs() {
		p := filepath.Join(dir, soname)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("library %s not found in %s (install it, or drop it from Options.Libs)",
		soname, strings.Join(libDirs(), " "))
}

// libProvides returns what rpm's elfdeps would make a library provide:
// "SONAME()(64bit)" and "SONAME(VERSION)(64bit)" per version it defines.
func libProvides(soname string) ([]string, error) {
	p, err := findLib(soname)
	if err != nil {
		return nil, err
	}
	f, err := elf.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mark := ""
	if f.Class == elf.ELFCLASS64 {
		mark = "(64bit)"
	}
	out := []string{soname + "()" + mark}
	vers, _ := f.DynamicVersions() // an error means no version definitions
	for _, v := range vers {
		if v.Flags&elf.VER_FLG_BASE == 0 {
			out = append(out, soname+"("+v.Name+")"+mark)
		}
	}
	return out, nil
}

func (b *base) makeSpec(name string, provides []string) string {
	var s strings.Builder
	s.WriteString("Name: " + name + "\n")
	s.WriteString(`Version: 1
Release: 1
Summary: Minimal EL-like host for rpmforge install checks
License: GPL-2.0-or-later
AutoReqProv: no
`)
	for _, p := range provides {
		fmt.Fprintf(&s, "Provides: %s\n", p)
	}
	s.WriteString(`
%description
busybox, useradd and friends, /etc basics and device nodes; built by
rpmforge (pkg/hostroot) from the host's files.

%install
cp -a %{stage}/. %{buildroot}/

%files
%defattr(-,root,root,-)
`)
	for _, d := range sortedKeys(baseDirs) {
		fmt.Fprintf(&s, "%%dir %%attr(%04o,root,root) %s\n", baseDirs[d], d)
	}
	for _, dir := range b.libDirsOwned() {
		fmt.Fprintf(&s, "%%dir %s\n", dir)
	}
	for _, p := range sortedKeys(b.symlinks) {
		fmt.Fprintf(&s, "%s\n", p)
	}
	for _, p := range sortedKeys(b.copies) {
		fmt.Fprintf(&s, "%s\n", p)
	}
	s.WriteString("%attr(0755,root,root) /usr/bin/sh\n")
	for _, p := range sortedKeys(baseEtc) {
		switch p {
		case "/etc/shadow", "/etc/gshadow":
			fmt.Fprintf(&s, "%%config(noreplace) %%verify(not md5 size mtime) %%attr(0000,root,root) %s\n", p)
		default:
			fmt.Fprintf(&s, "%%config(noreplace) %%verify(not md5 size mtime) %%attr(0644,root,root) %s\n", p)
		}
	}
	for _, d := range baseDevs {
		fmt.Fprintf(&s, "%%dev(c,%d,%d) %%attr(0666,root,root) %s\n", d.major, d.minor, d.path)
	}
	return s.String()
}

// libDirsOwned are the directories holding copied files that baseDirs lacks.
func (b *base) libDirsOwned() []string {
	seen := map[string]bool{}
	for p := range b.copies {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := baseDirs[d]; !ok {
				seen[d] = true
			}
		}
	}
	return sortedKeys(seen)
}

// fileMode converts a Unix permission with a sticky bit to an os.FileMode.
func fileMode(perm uint32) os.FileMode {
	m := os.FileMode(perm & 0o777)
	if perm&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// build stages the files under tmp and runs rpmbuild; it returns the
// package's path (under tmp).
func (b *base) build(ctx context.Context, tmp string) (string, error) {
	stage := filepath.Join(tmp, "stage")
	for d, perm := range baseDirs {
		p := filepath.Join(stage, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", err
		}
		if err := os.Chmod(p, fileMode(perm)); err != nil {
			return "", err
		}
	}
	for dst, src := range b.copies {
		if err := copyFile(src, filepath.Join(stage, dst)); err != nil {
			return "", fmt.Errorf("hostroot: %w", err)
		}
	}
	for p, target := range b.symlinks {
		if err := os.MkdirAll(filepath.Join(stage, path.Dir(p)), 0o755); err != nil {
			return "", err
		}
		if err := os.Symlink(target, filepath.Join(stage, p)); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(stage, "usr/bin/sh"), []byte(b.wrapper), 0o755); err != nil {
		return "", err
	}
	for p, content := range baseEtc {
		if err := os.WriteFile(filepath.Join(stage, p), []byte(content), 0o644); err != nil {
			return "", err
		}
	}
	rpms, err := Rpmbuild(ctx, tmp, b.spec, "stage "+stage)
	if err != nil {
		return "", err
	}
	return rpms[0], nil
}

// copyFile copies the content (following symlinks) and permission bits of src.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
