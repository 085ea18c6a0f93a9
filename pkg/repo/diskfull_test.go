package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestDiskFull publishes onto a small tmpfs (2 MiB) that a filler file has
// all but filled, with many packages added (symlinks to files elsewhere,
// so that only the metadata needs space): the publish fails with a clean
// one-line error, the previous repomd.xml and every file it names are
// still there and pass Check, no temporary file is left behind, and once
// space is freed the next publish succeeds.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	require := os.Getenv("RPMFORGE_TESTROOT") == "require"
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt).CombinedOutput(); err != nil {
		if require {
			t.Fatalf("mount tmpfs: %v\n%s", err, out)
		}
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	src := t.TempDir()
	paths := writeCorpus(t, src, 0, 150, 1)
	// The publish cache on the full file system too, then elsewhere (so
	// that the repodata writes themselves fail).
	for _, cacheOutside := range []bool{false, true} {
		repoDir := filepath.Join(mnt, "repo")
		o := Options{}
		if cacheOutside {
			o.StateDir = t.TempDir()
		}
		if err := os.Mkdir(repoDir, 0o755); err != nil {
			t.Fatal(err)
		}
		diskFull(t, repoDir, paths, o)
		if err := os.RemoveAll(repoDir); err != nil {
			t.Fatal(err)
		}
	}
}

func diskFull(t *testing.T, dir string, paths []string, o Options) {
	link := func(ps []string) {
		for _, p := range ps {
			if err := os.Symlink(p, filepath.Join(dir, filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
	link(paths[:20])
	ctx := context.Background()
	first := publish(t, dir, o)
	old := check(t, dir)
	if old.Packages != 20 {
		t.Fatalf("first publish: %d packages", old.Packages)
	}

	// Fill the file system up to the last 16 KiB.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	filler := filepath.Join(filepath.Dir(dir), "filler")
	if err := os.WriteFile(filler, make([]byte, free-16<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	link(paths[20:])

	res, err := Publish(ctx, dir, o)
	if err == nil {
		os.Remove(filler)
		t.Fatalf("publish of %d packages into 16 KiB succeeded: %+v", len(paths), res)
	}
	msg := err.Error()
	t.Logf("publish onto a full file system (cache in %s): %s", o.StateDir, msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("the error is not one line:\n%s", msg)
	}
	if !strings.Contains(msg, "no space left on device") {
		t.Errorf("the error does not say the disk is full: %s", msg)
	}
	if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine") {
		t.Errorf("the error looks like a crash: %s", msg)
	}
	now := check(t, dir)
	if now.Repomd.Revision != first.Revision || now.Packages != 20 {
		t.Errorf("after the failed publish: revision %s with %d packages, want the previous %s with 20", now.Repomd.Revision, now.Packages, first.Revision)
	}
	names, _ := os.ReadDir(filepath.Join(dir, "repodata"))
	for _, n := range names {
		if strings.HasPrefix(n.Name(), tmpPrefix) || strings.HasPrefix(n.Name(), ".") {
			t.Errorf("temporary file left in repodata: %s", n.Name())
		}
	}

	// With space again, the next publish completes.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	publish(t, dir, o)
	if got := check(t, dir); got.Packages != len(paths) {
		t.Errorf("after freeing space: %d packages, want %d", got.Packages, len(paths))
	}
}
