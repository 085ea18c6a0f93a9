package sign

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignFile(t *testing.T) {
	t.Parallel()
	k := testKey(t, "ed25519")
	dir := t.TempDir()
	pkg := buildPackage(t, dir, "sf", "1", nil)
	if err := os.Chmod(pkg, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.rpm")
	if err := os.Symlink(filepath.Base(pkg), link); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(pkg)
	if err := SignFile(link, k); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
	}
	after, _ := os.ReadFile(pkg)
	if len(after) != len(before) {
		t.Errorf("signed package is %d bytes, was %d: the reserved space was not used", len(after), len(before))
	}
	if fi, _ := os.Stat(pkg); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	var keys KeyRing
	keys.AddKey(k)
	if rep, err := VerifyFile(pkg, &keys, VerifyOptions{RequireSignature: true}); err != nil || !rep.OK {
		t.Errorf("after SignFile: %v %s", err, rep.Summary())
	}
	assertNoTemp(t, dir)

	// A damaged package is not signed and stays as it was.
	bad := corrupt(t, pkg, dir, "bad", func(b []byte) []byte { return flip(len(b) - 10)(b) })
	orig, _ := os.ReadFile(bad)
	err := SignFile(bad, k)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("damaged package: %v", err)
	}
	if now, _ := os.ReadFile(bad); !bytes.Equal(now, orig) {
		t.Errorf("damaged package was changed")
	}
	assertNoTemp(t, dir)

	// Not a package at all.
	txt := filepath.Join(dir, "x.rpm")
	os.WriteFile(txt, []byte("hello"), 0o644)
	if err := SignFile(txt, k); err == nil || !strings.Contains(err.Error(), "not an rpm") {
		t.Errorf("text file: %v", err)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func TestSignDetachedArmoredVerifies(t *testing.T) {
	t.Parallel()
	g := newGPG(t)
	for _, name := range []string{"rsa4096", "ed25519"} {
		k := testKey(t, name)
		g.run("--import", testPub(name))
		dir := t.TempDir()
		data := filepath.Join(dir, "repomd.xml")
		os.WriteFile(data, []byte("<repomd/>\n"), 0o644)
		if err := SignRepomd(data, k); err != nil {
			t.Fatal(err)
		}
		out := g.run("--status-fd", "1", "--verify", data+".asc", data)
		if !strings.Contains(out, "[GNUPG:] GOODSIG") || !strings.Contains(out, k.Fingerprint()) {
			t.Errorf("%s: gpg --verify:\n%s", name, out)
		}
		os.WriteFile(data, []byte("<repomd/> \n"), 0o644)
		if out, err := g.try("--verify", data+".asc", data); err == nil {
			t.Errorf("%s: gpg accepted a changed file:\n%s", name, out)
		}
		if key, _ := os.ReadFile(data + ".key"); !bytes.HasPrefix(key, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
			t.Errorf("repomd.xml.key:\n%s", key)
		}
	}
}
