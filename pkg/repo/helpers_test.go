package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
	"github.com/rpmforge/rpmforge/pkg/repo/corpus"
)

// needTool skips the test when a host command is missing, or fails it with
// RPMFORGE_TESTROOT=require (CI).
func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv(testroot.RequireEnv) == "require" {
				t.Fatalf("needs %s", n)
			}
			t.Skipf("needs %s", n)
		}
	}
}

// writeCorpus writes packages [from, to) of the test corpus (small files,
// tricky texts) into dir and returns their paths.
func writeCorpus(t testing.TB, dir string, from, to, rel int) []string {
	t.Helper()
	var paths []string
	for i := from; i < to; i++ {
		p, err := corpus.Write(context.Background(), dir, 1, i, rel, corpus.Options{Scale: 0.02, Tricky: true})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

var rpmbuildOnce sync.Map // spec path + defines → []string

// rpmbuildAll builds a spec file with rpmbuild -ba and returns the source
// and binary packages, cached for the test binary's lifetime.
func rpmbuildAll(t testing.TB, spec string, defines ...string) []string {
	t.Helper()
	needTool(t, "rpmbuild")
	key := spec + "\x00" + strings.Join(defines, "\x00")
	if v, ok := rpmbuildOnce.Load(key); ok {
		return v.([]string)
	}
	env := testroot.ToolEnv(t)
	top, err := os.MkdirTemp("", "rpmforge-rpmbuild-")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-ba", "--quiet", "--define", "_topdir " + top,
		"--define", "_build_id_links none", "--define", "__os_install_post %{nil}",
		"--define", "debug_package %{nil}"}
	for _, d := range defines {
		args = append(args, "--define", d)
	}
	cmd := exec.Command("rpmbuild", append(args, spec)...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rpmbuild %s: %v\n%s", spec, err, out)
	}
	var rpms []string
	filepath.Walk(top, func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".rpm") {
			rpms = append(rpms, p)
		}
		return nil
	})
	sort.Strings(rpms)
	rpmbuildOnce.Store(key, rpms)
	return rpms
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// createrepo runs createrepo_c --no-database on dir, writing into out.
func createrepo(t testing.TB, dir, out string, args ...string) {
	t.Helper()
	createrepoArgs(t, dir, out, append([]string{"--no-database"}, args...)...)
}

func createrepoArgs(t testing.TB, dir, out string, args ...string) {
	t.Helper()
	needTool(t, "createrepo_c")
	cmd := exec.Command("createrepo_c", append(append([]string{"--quiet", "-o", out}, args...), dir)...)
	cmd.Env = testroot.ToolEnv(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("createrepo_c: %v\n%s", err, b)
	}
}

// publish publishes dir without fsync and without the racy window (files
// written by the test a moment ago are trusted), unless o says otherwise.
func publish(t testing.TB, dir string, o Options) *Result {
	t.Helper()
	if o.Storage == nil {
		o.NoSync = true
	}
	if o.racyWindow == 0 {
		o.racyWindow = -1
	}
	res, err := Publish(context.Background(), dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func check(t testing.TB, dir string) *CheckResult {
	t.Helper()
	cr, err := Check(context.Background(), &DirStorage{Root: dir})
	if err != nil {
		t.Fatalf("check %s: %v", dir, err)
	}
	return cr
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
