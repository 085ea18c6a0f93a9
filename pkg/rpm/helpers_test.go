package rpm

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2024, 1, 2, 12, 0, 0, 0, time.UTC)

func u32(v uint32) *uint32 { return &v }

// sampleMetadata mirrors testdata/rpm/demo.spec.
func sampleMetadata() Metadata {
	return Metadata{
		Name: "demo", Version: "1.2", Release: "3", Epoch: u32(2),
		Arch: "x86_64", Summary: "Demo package", Description: "A demo package.\nSecond line.",
		License: "MIT", URL: "https://example.com/demo", Vendor: "ACME",
		Packager: "Bob <bob@example.com>", Group: "Applications/Internet", BuildHost: "vm",
		VCS:        "git:https://example.com/demo.git#abc",
		BuildTime:  testTime,
		Requires:   []Relation{{Name: "python3", Flags: SenseGreater | SenseEqual, Version: "3.9"}},
		Provides:   []Relation{{Name: "demo-api", Flags: SenseEqual, Version: "1"}},
		Conflicts:  []Relation{{Name: "olddemo", Flags: SenseLess, Version: "1.0"}},
		Obsoletes:  []Relation{{Name: "demo-legacy"}},
		Recommends: []Relation{{Name: "nginx"}}, Suggests: []Relation{{Name: "redis"}},
		Supplements: []Relation{{Name: "foo"}}, Enhances: []Relation{{Name: "bar"}},
		Changelog: []Change{
			{Time: testTime, Author: "Bob <bob@example.com> - 2:1.2-3", Text: "- second"},
			{Time: testTime.Add(-24 * time.Hour), Author: "Bob <bob@example.com> - 2:1.2-2", Text: "- first"},
		},
		Scripts: Scripts{Pre: "echo pre", Post: "echo post", PreUn: "echo preun", PostUn: "echo postun",
			PreTrans: "echo pretrans", PostTrans: "echo posttrans"},
	}
}

func content(s string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(s)), nil }
}

func regular(p string, perm fs.FileMode, body string) Entry {
	return Entry{Path: p, Mode: perm, MTime: testTime, Size: int64(len(body)), Open: content(body)}
}

func dir(p string) Entry { return Entry{Path: p, Mode: fs.ModeDir | 0o755, MTime: testTime} }

// sampleEntries mirrors the %files of testdata/rpm/demo.spec.
func sampleEntries() []Entry {
	conf := regular("/etc/demo/demo.conf", 0o644, "conf\n")
	conf.Flags = FileConfig | FileNoReplace
	return []Entry{
		regular("/opt/demo/bin/hello", 0o755, "hello\n"),
		{Path: "/opt/demo/bin/hi", Mode: fs.ModeSymlink | 0o777, MTime: testTime, Link: "hello"},
		regular("/opt/demo/empty", 0o644, ""),
		dir("/opt/demo"), dir("/opt/demo/bin"), dir("/etc/demo"),
		conf,
	}
}

// writeFile writes a package into t's temp dir and returns its path.
func writeFile(t testing.TB, md Metadata, entries []Entry, opt Options) (string, *Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Write(context.Background(), &buf, md, entries, opt)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if int64(buf.Len()) != res.Size {
		t.Fatalf("Result.Size = %d, wrote %d bytes", res.Size, buf.Len())
	}
	p := filepath.Join(t.TempDir(), md.Name+".rpm")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, res
}

// rpmEnv runs Debian's rpm tools without touching the host's rpmdb. rpm and
// rpmkeys get a private HOME whose .rpmmacros says %_dbpath /var/lib/rpm and
// --root on every call; tools that take no --root (rpmbuild, rpm2cpio,
// rpmlint, rpmsign) get another HOME whose %_dbpath is a scratch directory.
type rpmEnv struct {
	t        testing.TB
	dir      string
	home     string // for rpm and rpmkeys, always with --root
	toolHome string // for everything else
	root     string
}

func newRPMEnv(t testing.TB, tools ...string) *rpmEnv {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: skipping the check with the real rpm tools", tool)
		}
	}
	d := t.TempDir()
	e := &rpmEnv{t: t, dir: d, home: filepath.Join(d, "home"), toolHome: filepath.Join(d, "toolhome"), root: filepath.Join(d, "root")}
	for _, p := range []string{e.home, e.toolHome, e.root} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	common := "%_topdir " + filepath.Join(d, "top") + "\n%__gpg " + gpgPath() + "\n"
	for home, dbpath := range map[string]string{e.home: "/var/lib/rpm", e.toolHome: filepath.Join(d, "scratchdb")} {
		macros := "%_dbpath " + dbpath + "\n" + common
		if err := os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte(macros), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func gpgPath() string {
	if p, err := exec.LookPath("gpg"); err == nil {
		return p
	}
	return "/usr/bin/gpg"
}

func (e *rpmEnv) cmd(name string, args ...string) *exec.Cmd {
	home := e.toolHome
	switch name {
	case "rpm", "rpmkeys":
		args = append([]string{"--root", e.root}, args...)
		home = e.home
	}
	c := exec.Command(name, args...)
	c.Env = append(os.Environ(), "HOME="+home, "LC_ALL=C.UTF-8", "TZ=UTC")
	return c
}

// run runs the command and returns its stdout, failing t on a non-zero exit.
func (e *rpmEnv) run(name string, args ...string) string {
	e.t.Helper()
	out, stderr, err := e.try(name, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, stderr)
	}
	return out
}

func (e *rpmEnv) try(name string, args ...string) (string, string, error) {
	c := e.cmd(name, args...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	return stdout.String(), stderr.String(), err
}

// shell runs a bash pipeline in the tool environment.
func (e *rpmEnv) shell(script string) string {
	e.t.Helper()
	return e.run("bash", "-c", "set -euo pipefail; "+script)
}
