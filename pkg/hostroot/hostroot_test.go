package hostroot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func require(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("hostroot: end-to-end test with the real rpm and dnf, skipped with -short")
	}
	if err := CheckHost(); err != nil {
		if os.Getenv("RPMFORGE_TESTROOT") == "require" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// testCache is shared by test runs, as the user's cache is by real runs.
var testCache = filepath.Join(os.TempDir(), "rpmforge-hostroot-test")

func TestNew(t *testing.T) {
	require(t)
	ctx := context.Background()
	var log []string
	opts := Options{CacheDir: testCache, Log: func(m string) { log = append(log, m) }}
	r, err := New(ctx, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log: %q", log)
	// Scriptlets can run: /bin/sh, useradd and getent work in the root, and
	// the wrapper logs rpm's scriptlets (not this direct call).
	out, err := r.Chroot(ctx, "useradd -r -M -d /var/lib/x -s /sbin/nologin svc && getent passwd svc && test -c /dev/null")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if u, err := r.LookupUser("svc"); err != nil || u.Home != "/var/lib/x" {
		t.Errorf("LookupUser: %+v %v", u, err)
	}
	if s, err := r.Scriptlets(); err != nil || len(s) != 0 {
		t.Errorf("Scriptlets after no transaction: %v %v", s, err)
	}
	if out, err := r.RPM(ctx, "-q", "hostroot-base"); err != nil {
		t.Errorf("base package not in the root's rpmdb: %v\n%s", err, out)
	}
	// Nothing leaked into the host's HOME-relative rpmdb.
	if _, err := os.Stat(filepath.Join(r.Dir, r.Home, ".rpmdb")); err == nil {
		t.Error("rpm used ~/.rpmdb inside the root")
	}
	// The second base package comes from the cache.
	p1, err := BasePackage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p1, testCache) {
		t.Errorf("base package %s not under the cache %s", p1, testCache)
	}
}

func TestCheckHostMessage(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := systemDirs
	systemDirs = nil
	defer func() { systemDirs = saved }()
	err := CheckHost()
	if err == nil {
		t.Fatal("CheckHost without tools passed")
	}
	for _, want := range []string{"dnf (Debian: apt-get install dnf; EL: dnf install dnf)", "rpmbuild (Debian: apt-get install rpm; EL: dnf install rpm-build)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q not in %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("not one line: %v", err)
	}
}

func TestNewWithPython(t *testing.T) {
	require(t)
	if _, err := os.Stat(PythonPath); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	r, err := New(ctx, t.TempDir(), Options{CacheDir: testCache, Python: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Chroot(ctx, "python3.11 -c 'import json, sqlite3, ssl, zoneinfo; print(json.dumps([1]))'")
	if err != nil || strings.TrimSpace(out) != "[1]" {
		t.Fatalf("python in the root: %v\n%s", err, out)
	}
}
