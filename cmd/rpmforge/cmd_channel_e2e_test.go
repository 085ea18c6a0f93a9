package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
	"github.com/rpmforge/rpmforge/pkg/serve"
)

// TestE2EChannelsOverHTTP drives release channels with the real clients
// over HTTP: rpmforge serve (in-process, on a loopback port the system
// picks) serves the root; a host (an installroot with the .repo file
// client-config wrote and the key imported) installs v1 from prod; v2 goes
// dev -> staging -> prod and dnf upgrade gets it; rollback of prod and dnf
// distro-sync bring v1 back; zypper reads every channel, signature checked.
func TestE2EChannelsOverHTTP(t *testing.T) {
	channelEnv(t)
	host := testroot.New(t)
	root := filepath.Join(t.TempDir(), "acme")
	src := t.TempDir()
	v1, v2 := channelPackage(t, src, "hello", "1.0", false), channelPackage(t, src, "hello", "2.0", false)
	key := filepath.Join(testKeyDir, "rsa4096.sec.asc")
	pub := filepath.Join(testKeyDir, "rsa4096.pub.asc")

	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, "--require-key", rsaTestFPR, v1)
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "staging", "--sign-key", key, "hello")
	mustCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "prod", "--sign-key", key, "--require-key", rsaTestFPR, "hello")

	// rpmforge serve, in-process.
	h, err := serve.New(root, serve.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, ln, h) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	base := "http://" + ln.Addr().String() + "/"

	// The host: the generated .repo files, the key imported.
	reposdir := filepath.Join(host.Tmp, "yum.repos.d")
	os.MkdirAll(reposdir, 0o755)
	for _, ch := range []string{"dev", "staging", "prod"} {
		mustCLI(t, "repo", "client-config", "--root", root, "--channel", ch, "--baseurl", base, "--output", reposdir)
	}
	// Before the key is imported, zypper refuses the signed repository.
	for _, ch := range []string{"dev", "staging", "prod"} {
		if out, err := host.Zypper("addrepo", filepath.Join(reposdir, "acme-"+ch+".repo")); err != nil {
			t.Fatalf("zypper addrepo %s: %v\n%s", ch, err, out)
		}
	}
	if out, err := host.Zypper("refresh", "acme-prod"); err == nil {
		t.Errorf("zypper refresh without the key succeeded:\n%s", out)
	} else {
		t.Logf("zypper refresh without the key: %v\n%s", err, out)
	}
	if out, err := host.RPM("--import", pub); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	dnf := func(args ...string) string { t.Helper(); return hostDnf(t, host, reposdir, "acme-prod", args...) }
	installed := func() string {
		t.Helper()
		out, err := host.RPM("-q", "hello")
		if err != nil {
			t.Fatalf("rpm -q hello: %v\n%s", err, out)
		}
		b, err := os.ReadFile(filepath.Join(host.Dir, "opt/hello/version.txt"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out) + " " + strings.TrimSpace(string(b))
	}

	dnf("install", "hello")
	if got := installed(); got != "hello-1.0-1.noarch hello 1.0" {
		t.Fatalf("after install: %s", got)
	}

	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, v2)
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "staging", "--sign-key", key, "hello")
	// Not in prod yet: nothing to upgrade.
	if out := dnf("upgrade"); !strings.Contains(out, "Nothing to do") {
		t.Errorf("upgrade before promotion to prod:\n%s", out)
	}
	mustCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "prod", "--sign-key", key, "--require-key", rsaTestFPR, "hello")
	dnf("upgrade")
	if got := installed(); got != "hello-2.0-1.noarch hello 2.0" {
		t.Fatalf("after upgrade: %s", got)
	}

	mustCLI(t, "repo", "rollback", "--root", root, "--channel", "prod", "--sign-key", key)
	dnf("distro-sync")
	if got := installed(); got != "hello-1.0-1.noarch hello 1.0" {
		t.Fatalf("after rollback and distro-sync: %s", got)
	}

	// zypper reads every channel through the same .repo files, checking
	// repomd.xml's signature with the key now in the root's rpmdb.
	out, err := host.Zypper("refresh")
	t.Logf("zypper refresh:\n%s", out)
	if err != nil {
		t.Fatalf("zypper refresh: %v\n%s", err, out)
	}
	out, err = host.Zypper("search", "-s", "--match-exact", "hello")
	t.Logf("zypper search:\n%s", out)
	if err != nil {
		t.Fatalf("zypper search: %v\n%s", err, out)
	}
	// S | Name | Type | Version | Arch | Repository ("acme (dev)", the
	// name= of the .repo file).
	want := map[string][]string{"acme (dev)": {"1.0-1", "2.0-1"}, "acme (staging)": {"1.0-1", "2.0-1"}, "acme (prod)": {"1.0-1"}}
	got := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) == 6 && strings.TrimSpace(f[1]) == "hello" {
			repo := strings.TrimSpace(f[5])
			got[repo] = append(got[repo], strings.TrimSpace(f[3]))
		}
	}
	for repo, vs := range want {
		if strings.Join(channelSorted(got[repo]), " ") != strings.Join(vs, " ") {
			t.Errorf("zypper: %s has %q, want %q", repo, got[repo], vs)
		}
	}
	if strings.Contains(out, "not found on medium") || strings.Contains(out, "Signature verification failed") {
		t.Errorf("zypper complained:\n%s", out)
	}
}

func channelSorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// hostDnf runs dnf on host with the .repo files of reposdir, refreshing
// and enabling only repo; a failure fails the test.
func hostDnf(t *testing.T, host *testroot.Root, reposdir, repo string, args ...string) string {
	t.Helper()
	out, err := host.DnfWithOptions("", testroot.DnfOptions{Setopt: []string{"reposdir=" + reposdir}},
		append([]string{"--refresh", "--repo=" + repo}, args...)...)
	t.Logf("dnf %s:\n%s", strings.Join(args, " "), out)
	if err != nil {
		t.Fatalf("dnf %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
