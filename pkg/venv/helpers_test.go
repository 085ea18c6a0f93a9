package venv

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/venv")

const (
	testdata = "../../testdata/venv"
	// fixturePath is the build path baked into testdata/venv/fixture.
	fixturePath = "/tmp/rpmforge-fixture/venv"
)

// copyFixture materialises testdata/venv/fixture/venv at dst (which must not
// exist), replacing the baked-in build path in text files with dst and
// creating the bin/python* and lib64 symlinks python -m venv makes.
func copyFixture(t testing.TB, dst string) {
	t.Helper()
	src := filepath.Join(testdata, "fixture/venv")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data, 0) < 0 {
			data = bytes.ReplaceAll(data, []byte(fixturePath), []byte(dst))
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	symlink(t, "/usr/bin/python3.11", filepath.Join(dst, "bin/python3.11"))
	symlink(t, "python3.11", filepath.Join(dst, "bin/python3"))
	symlink(t, "python3.11", filepath.Join(dst, "bin/python"))
	symlink(t, "lib", filepath.Join(dst, "lib64"))
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readText(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// newFixture returns an opened copy of the fixture at <tmp>/build/venv.
func newFixture(t testing.TB) *Venv {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "build", "venv")
	copyFixture(t, dir)
	v, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantErr fails unless err is non-nil and contains every substring.
func wantErr(t testing.TB, err error, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", subs)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q\ndoes not contain %q", err, s)
		}
	}
}

// checkGolden compares got with testdata/venv/name, rewriting it with -update.
func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	golden := filepath.Join(testdata, name)
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update and review git diff):\n%s", golden, got)
	}
}
