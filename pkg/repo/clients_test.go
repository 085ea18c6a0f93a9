package repo

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

func must(t *testing.T) func(string, error) string {
	return func(out string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return out
	}
}

// countLines counts the non-empty lines of out that contain sub.
func countLines(out, sub string) int {
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" && strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

func testKey(t testing.TB) *sign.Key {
	t.Helper()
	k, err := sign.LoadFile("../../testdata/keys/rsa4096.sec.asc", nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDnf publishes a repository of generated packages and drives dnf
// 4.14 against it: makecache, repoquery (as many packages as files),
// install with dependencies, then upgrade once a newer build is published;
// then with repo_gpgcheck=1, the signed repository is accepted and a
// tampered repomd.xml refused.
func TestDnf(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	r := testroot.New(t)
	dir := t.TempDir()
	const n = 30
	writeCorpus(t, dir, 0, n, 1)
	publish(t, dir, Options{})

	must(t)(r.Dnf(dir, "makecache"))
	out := must(t)(r.Dnf(dir, "repoquery", "--qf", "%{name}-%{evr}.%{arch}", "pkg*"))
	if got := countLines(out, "pkg0"); got != n {
		t.Fatalf("repoquery lists %d packages, want %d:\n%s", got, n, out)
	}
	must(t)(r.Dnf(dir, "install", "pkg00012"))
	if out := must(t)(r.RPM("-q", "pkg00012")); !strings.Contains(out, "pkg00012-1.5-1") {
		t.Fatalf("rpm -q: %s", out)
	}
	// File lists (filelists.xml) answer a file query; changelogs (other.xml).
	if out := must(t)(r.Dnf(dir, "repoquery", "--whatprovides", "/usr/share/pkg00007/data0")); !strings.Contains(out, "pkg00007") {
		t.Errorf("repoquery --whatprovides a non-primary file: %s", out)
	}
	if out := must(t)(r.Dnf(dir, "repoquery", "--changelogs", "pkg00003")); !strings.Contains(out, "ünïcødé") && !strings.Contains(out, "Ünïcødé") {
		t.Errorf("repoquery --changelogs: %s", out)
	}

	// A newer build is published; dnf upgrades to it.
	writeCorpus(t, dir, 12, 13, 2)
	res := publish(t, dir, Options{})
	// (dnf caches the checksums of the packages it installed from a local
	// repository in xattrs, which changes their ctime: those are read again.)
	if len(res.Added) != 1 || len(res.Changed) != 0 || res.Packages != n+1 {
		t.Errorf("second publish: added %v, changed %v, %d packages; want one added", res.Added, res.Changed, res.Packages)
	}
	must(t)(r.Dnf(dir, "upgrade", "pkg00012"))
	if out := must(t)(r.RPM("-q", "pkg00012")); !strings.Contains(out, "pkg00012-1.5-2") {
		t.Fatalf("after upgrade, rpm -q: %s", out)
	}

	// Signed: accepted with repo_gpgcheck=1 against the key published at
	// the repository root; a tampered repomd.xml is refused.
	k := testKey(t)
	publish(t, dir, Options{Signer: k})
	keyFile := filepath.Join(dir, "RPM-GPG-KEY")
	opts := testroot.DnfOptions{GPGKey: keyFile, RepoGPGCheck: true}
	must(t)(r.DnfWithOptions(dir, opts, "makecache"))
	out = must(t)(r.DnfWithOptions(dir, opts, "repoquery", "pkg*"))
	if got := countLines(out, "pkg0"); got != n+1 {
		t.Errorf("signed repo: repoquery lists %d packages, want %d", got, n+1)
	}
	// zypper on the same repository, trusting the key imported into the
	// root's rpmdb (never --gpg-auto-import-keys).
	must(t)(r.RPM("--import", keyFile))
	must(t)(r.Zypper("addrepo", "--gpgcheck", "file://"+dir, "rf"))
	must(t)(r.Zypper("refresh", "rf"))
	out = must(t)(r.Zypper("search", "--repo", "rf", "pkg0"))
	if got := countLines(out, "| pkg0"); got != n {
		t.Errorf("zypper search lists %d package names, want %d:\n%s", got, n, out)
	}
	out = must(t)(r.Zypper("search", "--details", "--repo", "rf", "pkg00012"))
	if !strings.Contains(out, "1.5-2") || !strings.Contains(out, "1.5-1") {
		t.Errorf("zypper search --details pkg00012 does not list both builds:\n%s", out)
	}

	md := filepath.Join(dir, "repodata", "repomd.xml")
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(string(b), "<revision>", "<revision>1", 1)
	if err := os.WriteFile(md, []byte(tampered), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := r.DnfWithOptions(dir, opts, "makecache"); err == nil {
		t.Fatalf("dnf accepted a tampered repomd.xml:\n%s", out)
	} else if !strings.Contains(out, "GPG signature verification error") {
		t.Errorf("dnf refused the tampered repomd.xml, but not for its signature:\n%s", out)
	}
	if out, err := r.Zypper("refresh", "--force", "rf"); err == nil {
		t.Errorf("zypper accepted a tampered repomd.xml:\n%s", out)
	} else if !strings.Contains(out, "ignature verification failed") {
		t.Errorf("zypper refused the tampered repomd.xml, but not for its signature:\n%s", out)
	}
	// Republishing repairs it (repomd.xml is not what the state says).
	publish(t, dir, Options{Signer: k})
	must(t)(r.DnfWithOptions(dir, opts, "makecache"))
}

// TestCompressions publishes the same packages with zstd and xz and checks
// that dnf and zypper read them, and that Python's gzip module (what yum 3
// uses) and zcat read the concatenated gzip members.
func TestCompressions(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	r := testroot.New(t)
	src := t.TempDir()
	const n = 12
	paths := writeCorpus(t, src, 0, n, 1)
	for i, c := range []Compression{Gzip, Zstd, Xz} {
		dir := filepath.Join(t.TempDir(), string(c))
		for _, p := range paths {
			copyFile(t, p, filepath.Join(dir, filepath.Base(p)))
		}
		publish(t, dir, Options{Compression: c})
		cr := check(t, dir)
		if !strings.HasSuffix(cr.Repomd.Record("primary").Location, c.ext()) {
			t.Errorf("%s: primary is %s", c, cr.Repomd.Record("primary").Location)
		}
		out := must(t)(r.Dnf(dir, "repoquery", "pkg*"))
		if got := countLines(out, "pkg0"); got != n {
			t.Errorf("%s: dnf repoquery lists %d packages, want %d:\n%s", c, got, n, out)
		}
		out = must(t)(r.Dnf(dir, "repoquery", "--whatprovides", "/usr/share/pkg00004/data0"))
		if !strings.Contains(out, "pkg00004") {
			t.Errorf("%s: file lists not read: %s", c, out)
		}
		if c == Xz {
			continue // zypper 1.14 reads xz too, but one refresh per format is enough here
		}
		alias := "r" + strconv.Itoa(i)
		must(t)(r.Zypper("addrepo", "--no-gpgcheck", "file://"+dir, alias))
		must(t)(r.Zypper("refresh", alias))
		out = must(t)(r.Zypper("search", "--repo", alias, "pkg0"))
		if got := countLines(out, "| pkg0"); got != n {
			t.Errorf("%s: zypper search lists %d packages, want %d:\n%s", c, got, n, out)
		}
		if c == Gzip {
			primary := filepath.Join(dir, filepath.FromSlash(cr.Repomd.Record("primary").Location))
			py := `import gzip,sys; d=gzip.open(sys.argv[1]).read().decode(); print(d.count('<package type="rpm">'))`
			if out, err := exec.Command("python3", "-c", py, primary).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(n) {
				t.Errorf("python3 gzip: %v: %s", err, out)
			}
			if out, err := exec.Command("sh", "-c", `zcat "$1" | grep -c '<package type="rpm">'`, "sh", primary).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(n) {
				t.Errorf("zcat: %v: %s", err, out)
			}
		}
	}
}
