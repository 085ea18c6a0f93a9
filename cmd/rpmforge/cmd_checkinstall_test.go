package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/hostroot"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// tinyServicePackage writes tiny-VERSION-1.noarch.rpm, signed with the RSA
// test key: a %pre creating the user tiny, a systemd unit running as it, a
// directory it owns; with brokenPost its %post exits 1.
func tinyServicePackage(t testing.TB, dir, version string, brokenPost bool) string {
	t.Helper()
	mt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	file := func(p, body string) rpm.Entry {
		return rpm.Entry{Path: p, Mode: 0o644, MTime: mt, Size: int64(len(body)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
	}
	post := "# post tiny\nexit 0\n"
	if brokenPost {
		post = "# post tiny (broken)\necho migration failed >&2\nexit 1\n"
	}
	md := rpm.Metadata{Name: "tiny", Version: version, Release: "1", Arch: "noarch", Summary: "check-install test service",
		License: "MIT", BuildTime: mt, Scripts: rpm.Scripts{
			Pre: "# pre tiny\ngetent group tiny >/dev/null || groupadd -r tiny\n" +
				"getent passwd tiny >/dev/null || useradd -r -g tiny -d /var/lib/tiny -s /sbin/nologin tiny\nexit 0\n",
			Post: post,
		}}
	entries := []rpm.Entry{
		{Path: "/opt/tiny", Mode: fs.ModeDir | 0o755, MTime: mt},
		file("/opt/tiny/version.txt", "tiny "+version+"\n"),
		file("/usr/lib/systemd/system/tiny.service", "[Unit]\nDescription=tiny\n\n[Service]\nUser=tiny\nExecStart=/bin/cat /opt/tiny/version.txt\n"),
		{Path: "/var/lib/tiny", Mode: fs.ModeDir | 0o750, Owner: "tiny", Group: "tiny", MTime: mt},
	}
	k, err := sign.LoadFile(filepath.Join(testKeyDir, "rsa4096.sec.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{Signer: k, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "tiny-"+version+"-1.noarch.rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type junitDoc struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Time     string `xml:"time,attr"`
		Cases    []struct {
			Name    string  `xml:"name,attr"`
			Time    string  `xml:"time,attr"`
			Failure *string `xml:"failure"`
			Skipped *string `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// junitStatus maps each case of a JUnit file to "pass", "fail" or "skip".
func junitStatus(t *testing.T, file string) (map[string]string, []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitDoc
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, b)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("want one testsuite:\n%s", b)
	}
	st := map[string]string{}
	var order []string
	for _, c := range doc.Suites[0].Cases {
		if c.Time == "" {
			t.Errorf("case %s has no time", c.Name)
		}
		s := "pass"
		switch {
		case c.Failure != nil:
			s = "fail"
		case c.Skipped != nil:
			s = "skip"
		}
		st[c.Name] = s
		order = append(order, c.Name)
	}
	return st, order
}

func prodPackages(t *testing.T, root string) []string {
	t.Helper()
	r, err := channel.Open(root, channel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	objs, _, err := r.Packages(context.Background(), "prod", 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.NEVRA())
	}
	return out
}

// TestPromoteGate: --gate runs before anything changes; a failing gate
// leaves the target channel as it was.
func TestPromoteGate(t *testing.T) {
	channelEnv(t)
	root := filepath.Join(t.TempDir(), "acme")
	src := t.TempDir()
	key := filepath.Join(testKeyDir, "rsa4096.sec.asc")
	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, channelPackage(t, src, "hello", "1.0", false))

	out, errOut, code := channelCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "prod", "--sign-key", key,
		"--gate", "echo gate says no; exit 3", "hello")
	if code == 0 || !strings.Contains(out, "gate says no") || !strings.Contains(errOut, "nothing promoted") {
		t.Errorf("failing gate: exit %d\n%s%s", code, out, errOut)
	}
	if got := prodPackages(t, root); len(got) != 0 {
		t.Errorf("prod after a failed gate: %q", got)
	}
	// check-install that cannot start still leaves a JUnit report.
	junit := filepath.Join(t.TempDir(), "setup.xml")
	if _, errOut, code := channelCLI(t, "check-install", "--root", root, "--channel", "dev", "--junit", junit, "nosuchpkg"); code == 0 {
		t.Errorf("check-install of a missing package passed:\n%s", errOut)
	}
	if st, _ := junitStatus(t, junit); st["setup"] != "fail" {
		t.Errorf("JUnit of a check that could not start: %v", st)
	}
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "prod", "--sign-key", key, "--gate", "true", "hello")
	if got := prodPackages(t, root); strings.Join(got, " ") != "hello-1.0-1.noarch" {
		t.Errorf("prod after a passing gate: %q", got)
	}
}

// TestE2ECheckInstall runs check-install with the real rpm and dnf: v1 in
// prod, v2 in dev passes every step; a v3 whose %post fails makes it exit
// non-zero with the upgrade case failed, and repo promote --gate refuses it.
func TestE2ECheckInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("check-install: end-to-end test with the real rpm and dnf, skipped with -short")
	}
	if err := hostroot.CheckHost(); err != nil {
		if os.Getenv("RPMFORGE_TESTROOT") == "require" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	channelEnv(t)
	root := filepath.Join(t.TempDir(), "acme")
	src := t.TempDir()
	key := filepath.Join(testKeyDir, "rsa4096.sec.asc")
	cache := filepath.Join(os.TempDir(), "rpmforge-hostroot-test")

	mustCLI(t, "repo", "add", "--root", root, "--channel", "prod", "--sign-key", key, tinyServicePackage(t, src, "1.0", false))
	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, tinyServicePackage(t, src, "2.0", false))

	check := []string{"check-install", "--root", root, "--channel", "dev", "--from-channel", "prod",
		"--with-python=false", "--cache-dir", cache,
		"--smoke", "grep -q 'tiny 2.0' /opt/tiny/version.txt && getent passwd tiny && test -d /var/lib/tiny"}
	junit := filepath.Join(t.TempDir(), "ok.xml")
	out, errOut, code := channelCLI(t, append(check, "--junit", junit, "tiny")...)
	t.Logf("check-install v2:\n%s%s", out, errOut)
	if code != 0 {
		t.Fatalf("check-install v2: exit %d", code)
	}
	st, order := junitStatus(t, junit)
	want := []string{"setup", "install", "upgrade", "verify", "smoke", "downgrade", "upgrade-again", "erase"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("JUnit cases %q, want %q", order, want)
	}
	for _, n := range want {
		if st[n] != "pass" {
			t.Errorf("case %s: %s", n, st[n])
		}
	}
	if !strings.Contains(out, "all steps passed") {
		t.Errorf("no summary line:\n%s", out)
	}

	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, tinyServicePackage(t, src, "3.0", true))
	bad := filepath.Join(t.TempDir(), "bad.xml")
	out, errOut, code = channelCLI(t, append(check, "--junit", bad, "tiny")...)
	t.Logf("check-install v3:\n%s%s", out, errOut)
	if code == 0 {
		t.Fatal("check-install of a package whose post scriptlet fails exited 0")
	}
	st, _ = junitStatus(t, bad)
	if st["upgrade"] != "fail" || st["install"] != "pass" {
		t.Errorf("JUnit of v3: %v", st)
	}
	if !strings.Contains(out, "FAIL  upgrade") || !strings.Contains(out, "(exit 1)") {
		t.Errorf("terminal output does not name the failed scriptlet:\n%s", out)
	}

	// The gate: the real binary, as CI runs it.
	gate := forgeBin(t) + " check-install --root " + root + " --channel dev --from-channel prod --with-python=false --cache-dir " + cache + " tiny"
	out, errOut, code = channelCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "prod", "--sign-key", key,
		"--gate", gate, "tiny")
	t.Logf("promote --gate:\n%s%s", out, errOut)
	if code == 0 || !strings.Contains(errOut, "nothing promoted") || !strings.Contains(out, "FAIL  upgrade") {
		t.Errorf("promote --gate with a broken candidate: exit %d", code)
	}
	if got := prodPackages(t, root); strings.Join(got, " ") != "tiny-1.0-1.noarch" {
		t.Errorf("prod after a refused promotion: %q", got)
	}
}
