package repo

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

const killDirEnv = "RPMFORGE_REPO_KILL_DIR"

// TestKillChild is the publisher TestKill starts and kills; it does
// nothing in a normal run.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killDirEnv)
	if dir == "" {
		t.Skip("helper process of TestKill")
	}
	if at := os.Getenv(killDirEnv + "_AT"); at != "" {
		crashHook = func(step string) {
			if step == at {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		}
	}
	o := Options{} // with fsync, as in production
	if os.Getenv(killDirEnv+"_SIGN") != "" {
		o.Signer = testKey(t)
	}
	if _, err := Publish(context.Background(), dir, o); err != nil {
		t.Fatal(err)
	}
}

// TestKill kills publishes (SIGKILL) at random moments, many times, while
// packages come and go, and checks after each kill that the repository is
// complete and consistent: repomd.xml names files that exist with their
// checksums, sizes and open-checksums, which list the same packages; every
// few kills dnf reads it and lists as many packages. Then a last publish
// gives the metadata a publish from scratch gives.
func TestKill(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	iterations := 30
	if s := os.Getenv("RPMFORGE_KILL_ITERATIONS"); s != "" {
		iterations = atoiOr(s, iterations)
	}
	var r *testroot.Root
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("dnf"); err == nil {
			r = testroot.New(t)
		}
	}
	dir := t.TempDir()
	pool := t.TempDir()
	paths := writeCorpus(t, pool, 0, 400, 1)
	for _, p := range paths[:300] {
		copyFile(t, p, filepath.Join(dir, filepath.Base(p)))
	}
	publish(t, dir, Options{})

	// Measure a full publish in a child, to spread the kills over it.
	os.RemoveAll(filepath.Join(dir, ".rpmforge"))
	start := time.Now()
	if out, err := child(dir, false).CombinedOutput(); err != nil {
		t.Fatalf("child publish: %v\n%s", err, out)
	}
	full := time.Since(start)
	t.Logf("a full publish in a child takes %v", full)

	// First a kill at each step of a publish, signed and not.
	steps := strings.Fields("scanned read chunks-written data-written asc-written repomd-written collected state-saved")
	for i, at := range steps {
		copyFile(t, paths[300+i], filepath.Join(dir, filepath.Base(paths[300+i])))
		cmd := child(dir, i%2 == 0 || at == "asc-written")
		cmd.Env = append(cmd.Env, killDirEnv+"_AT="+at)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child killed at %s: %v", at, err)
		}
		cr, err := Check(context.Background(), &DirStorage{Root: dir})
		if err != nil {
			t.Fatalf("killed at %s: repository inconsistent: %v", at, err)
		}
		if r != nil {
			out, err := r.Dnf(dir, "repoquery", "--qf", "%{name}", "pkg*")
			if err != nil {
				t.Fatalf("killed at %s: dnf: %v\n%s", at, err, out)
			}
			if got := countLines(out, "pkg0"); got != cr.Packages {
				t.Fatalf("killed at %s: dnf lists %d packages, primary.xml %d", at, got, cr.Packages)
			}
		}
		t.Logf("killed at %s: consistent, %d packages", at, cr.Packages)
	}

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	killed, completed := 0, 0
	for i := 0; i < iterations; i++ {
		// Change something: add or remove packages, sometimes lose the
		// cache (full work), sometimes sign.
		switch rng.IntN(4) {
		case 0:
			ms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
			os.Remove(ms[rng.IntN(len(ms))])
		case 1, 2:
			p := paths[rng.IntN(len(paths))]
			copyFile(t, p, filepath.Join(dir, filepath.Base(p)))
		case 3:
			os.RemoveAll(filepath.Join(dir, ".rpmforge", "state"))
		}
		cmd := child(dir, rng.IntN(3) == 0)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill anywhere from start-up to well after a full publish would be
		// done: most land inside a publish, some runs complete.
		delay := time.Duration(rng.Int64N(2*int64(full) + 1))
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("child publish failed: %v", err)
			}
			completed++
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
		cr, err := Check(context.Background(), &DirStorage{Root: dir})
		if err != nil {
			t.Fatalf("iteration %d (killed after %v): repository inconsistent: %v", i, delay, err)
		}
		if r != nil && i%5 == 0 {
			out, err := r.Dnf(dir, "repoquery", "--qf", "%{name}", "pkg*")
			if err != nil {
				t.Fatalf("iteration %d: dnf: %v\n%s", i, err, out)
			}
			if got := countLines(out, "pkg0"); got != cr.Packages {
				t.Fatalf("iteration %d: dnf lists %d packages, primary.xml %d", i, got, cr.Packages)
			}
		}
	}
	t.Logf("%d publishes killed, %d completed", killed, completed)

	res := publish(t, dir, Options{})
	check(t, dir)
	if got, want := metadataFiles(t, dir), fromScratch(t, dir, Options{}); !equalOwn(got, want) {
		t.Errorf("after the kills, metadata differs from a publish from scratch:\n%v\n%v", got, want)
	}
	names, _ := os.ReadDir(filepath.Join(dir, "repodata"))
	for _, n := range names {
		if strings.HasPrefix(n.Name(), tmpPrefix) {
			t.Errorf("temporary file left: %s", n.Name())
		}
	}
	_ = res
}

func child(dir string, sign bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	if sign {
		cmd.Env = append(cmd.Env, killDirEnv+"_SIGN=1")
	}
	return cmd
}

func atoiOr(s string, def int) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	return n
}
