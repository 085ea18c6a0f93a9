package sign

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

	"github.com/rpmforge/rpmforge/pkg/rpm"
)

// Test keys committed under testdata/keys (see its README): RSA-4096 and
// ed25519, made by rpmforge key generate, without passphrase.
var testKeyFiles = map[string]string{
	"rsa4096": "../../testdata/keys/rsa4096",
	"ed25519": "../../testdata/keys/ed25519",
}

func testKey(t testing.TB, name string) *Key {
	t.Helper()
	k, err := LoadFile(testKeyFiles[name]+".sec.asc", nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testPub(name string) string { return testKeyFiles[name] + ".pub.asc" }

// otherKey is a fresh ed25519 key nobody imports.
func otherKey(t testing.TB) *Key {
	t.Helper()
	k, err := Generate(GenerateOptions{Name: "someone else", Algo: Ed25519})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// writePublic writes k's public key into dir and returns its path.
func writePublic(t testing.TB, k *Key, dir string) string {
	t.Helper()
	var b bytes.Buffer
	if err := k.WritePublic(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, k.KeyID()+".pub.asc")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var testTime = time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)

// buildPackage writes a small package that installs in an empty root: no
// scriptlets, no requires beyond rpmlib(). s may be nil (unsigned).
func buildPackage(t testing.TB, dir, name, version string, s rpm.Signer) string {
	t.Helper()
	body := strings.Repeat("hello from "+name+"\n", 200)
	md := rpm.Metadata{
		Name: name, Version: version, Release: "1", Arch: "noarch",
		Summary: "signing test package", License: "MIT", BuildTime: testTime,
	}
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: fs.ModeDir | 0o755, MTime: testTime},
		{Path: "/opt/" + name + "/hello.txt", Mode: 0o644, MTime: testTime, Size: int64(len(body)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }},
	}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{Signer: s, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-"+version+"-1.noarch.rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rpmEnv runs rpm and rpmkeys against a scratch root and rpmdb: a private
// HOME whose .rpmmacros sets %_dbpath /var/lib/rpm, and --root on every call.
type rpmEnv struct {
	t    testing.TB
	home string
	root string
}

func newRPMEnv(t testing.TB) *rpmEnv {
	t.Helper()
	for _, tool := range []string{"rpm", "rpmkeys"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, tool+" is not installed (Debian: apt-get install rpm)")
		}
	}
	d := t.TempDir()
	e := &rpmEnv{t: t, home: filepath.Join(d, "home"), root: filepath.Join(d, "root")}
	for _, p := range []string{e.home, e.root} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.home, ".rpmmacros"), []byte("%_dbpath /var/lib/rpm\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// skipOrFail skips, unless RPMFORGE_TESTROOT=require (CI) makes a missing
// client a failure.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("RPMFORGE_TESTROOT") == "require" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// try runs rpmkeys (or rpm) --root ROOT ARGS and returns combined output and
// exit code.
func (e *rpmEnv) try(name string, args ...string) (string, int) {
	e.t.Helper()
	c := exec.Command(name, append([]string{"--root", e.root}, args...)...)
	c.Env = []string{"HOME=" + e.home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8"}
	out, err := c.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			e.t.Fatalf("%s: %v", name, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func (e *rpmEnv) run(name string, args ...string) string {
	e.t.Helper()
	out, code := e.try(name, args...)
	if code != 0 {
		e.t.Fatalf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return out
}

func (e *rpmEnv) importKey(path string) { e.t.Helper(); e.run("rpmkeys", "--import", path) }
