package sign

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

// repoWith makes a repository (createrepo_c) holding the given packages.
func repoWith(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range pkgs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testroot.MakeRepo(t, dir)
	return dir
}

// installed reports whether the root's rpmdb has the package.
func installed(t *testing.T, r *testroot.Root, name string) bool {
	t.Helper()
	_, err := r.RPM("-q", name)
	return err == nil
}

// TestDnfGPGCheck: with gpgcheck=1 dnf installs a package rpmforge signed,
// once the key is imported, and refuses an unsigned one, one signed by
// another key, and one with a flipped payload byte.
func TestDnfGPGCheck(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"rsa4096", "ed25519"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, name)
			pub, err := filepath.Abs(testPub(name))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			good := buildPackage(t, dir, "good", "1", k)
			flipped := corrupt(t, buildPackage(t, t.TempDir(), "flipped", "1", k), dir, "flipped-1-1.noarch",
				func(b []byte) []byte { return flip(len(b) - 30)(b) })
			cases := []struct {
				pkg, name string
				ok        bool
				want      string // in dnf's output
			}{
				{buildPackage(t, dir, "unsigned", "1", nil), "unsigned", false, "is not signed"},
				{buildPackage(t, dir, "otherkey", "1", otherKey(t)), "otherkey", false, "GPG"},
				{flipped, "flipped", false, "Problem opening package"},
				{good, "good", true, ""},
			}
			r := testroot.New(t)
			if out, err := r.RPM("--import", pub); err != nil {
				t.Fatalf("rpm --import: %v\n%s", err, out)
			}
			for _, tc := range cases {
				out, err := r.DnfWithOptions(repoWith(t, tc.pkg), testroot.DnfOptions{GPGKey: pub}, "install", tc.name)
				t.Logf("%s: dnf install: err=%v\n%s", tc.name, err, lastLines(out, 6))
				if tc.ok != (err == nil) || tc.ok != installed(t, r, tc.name) {
					t.Errorf("%s: dnf install: err=%v, want ok=%v\n%s", tc.name, err, tc.ok, out)
				}
				if !tc.ok && (strings.Contains(out, "nothing provides") || !strings.Contains(out, tc.want)) {
					t.Errorf("%s: refused for the wrong reason (want %q):\n%s", tc.name, tc.want, out)
				}
			}
			if pids := testroot.GPGAgents(r.Dir); len(pids) > 0 {
				t.Errorf("gpg-agents left running: %v", pids)
			}
		})
	}
}

// TestRepoSignature: repomd.xml.asc written by SignRepomd is accepted by dnf
// (repo_gpgcheck=1) and zypper, and one changed byte in repomd.xml makes
// both refuse the repository.
func TestRepoSignature(t *testing.T) {
	t.Parallel()
	k := testKey(t, "rsa4096")
	pub, err := filepath.Abs(testPub("rsa4096"))
	if err != nil {
		t.Fatal(err)
	}
	good := repoWith(t, buildPackage(t, t.TempDir(), "repotest", "1", k))
	repomd := filepath.Join(good, "repodata", "repomd.xml")
	if err := SignRepomd(repomd, k); err != nil {
		t.Fatal(err)
	}
	asc, _ := os.ReadFile(repomd + ".asc")
	if !bytes.HasPrefix(asc, []byte("-----BEGIN PGP SIGNATURE-----\n")) {
		t.Errorf("repomd.xml.asc:\n%s", asc)
	}
	// The same repository with one byte of repomd.xml changed (a digit of
	// its revision, so the XML stays valid).
	bad := t.TempDir()
	copyTree(t, good, bad)
	b, err := os.ReadFile(filepath.Join(bad, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("<revision>"))
	if i < 0 {
		t.Fatalf("no <revision> in repomd.xml:\n%s", b)
	}
	b[i+len("<revision>")] ^= 1 // '1' <-> '0'
	if err := os.WriteFile(filepath.Join(bad, "repodata", "repomd.xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("dnf", func(t *testing.T) {
		t.Parallel()
		r := testroot.New(t)
		opts := testroot.DnfOptions{GPGKey: pub, RepoGPGCheck: true}
		out, err := r.DnfWithOptions(bad, opts, "install", "repotest")
		t.Logf("tampered: err=%v\n%s", err, lastLines(out, 6))
		if err == nil || installed(t, r, "repotest") {
			t.Errorf("dnf accepted a tampered repomd.xml:\n%s", out)
		} else if !strings.Contains(out, "GPG signature verification error") {
			t.Errorf("dnf refused the tampered repo for another reason:\n%s", out)
		}
		out, err = r.DnfWithOptions(good, opts, "install", "repotest")
		t.Logf("signed: err=%v\n%s", err, lastLines(out, 6))
		if err != nil || !installed(t, r, "repotest") {
			t.Errorf("dnf refused the signed repo: %v\n%s", err, out)
		}
		if pids := testroot.GPGAgents(r.Dir); len(pids) > 0 {
			t.Errorf("gpg-agents left running: %v", pids)
		}
	})
	t.Run("zypper", func(t *testing.T) {
		t.Parallel()
		r := testroot.New(t)
		if out, err := r.RPM("--import", pub); err != nil {
			t.Fatalf("rpm --import: %v\n%s", err, out)
		}
		mustZ := func(args ...string) string {
			out, err := r.Zypper(args...)
			if err != nil {
				t.Fatalf("zypper %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			return out
		}
		mustZ("addrepo", "--gpgcheck", "file://"+bad, "bad")
		out, err := r.Zypper("refresh", "bad")
		t.Logf("tampered: err=%v\n%s", err, lastLines(out, 6))
		if err == nil {
			t.Errorf("zypper refreshed a repo with a tampered repomd.xml:\n%s", out)
		} else if !strings.Contains(out, "ignature verification failed") {
			t.Errorf("zypper refused the tampered repo for another reason:\n%s", out)
		}
		mustZ("removerepo", "bad")
		mustZ("addrepo", "--gpgcheck", "file://"+good, "good")
		out = mustZ("refresh", "good")
		t.Logf("signed: %s", lastLines(out, 4))
		mustZ("install", "repotest")
		if !installed(t, r, "repotest") {
			t.Errorf("zypper did not install repotest")
		}
	})
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
