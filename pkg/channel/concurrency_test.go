package channel

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/repo"
)

// TestConcurrentAddPromote runs adds and promotions on one root from
// several goroutines, each with its own Root (as separate processes
// would: the lock is a flock on its own open file): they are serialised
// and nothing is lost.
func TestConcurrentAddPromote(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "root")
	os.MkdirAll(dir, 0o755)
	src := t.TempDir()
	const workers, each = 4, 4
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	for w := range workers {
		files := make([]string, each)
		for i := range each {
			files[i] = buildPkg(t, src, fmt.Sprintf("w%dp%d", w, i), "1", "1", "", nil)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := reopen(t, dir, Options{User: "worker" + strconv.Itoa(w)})
			for i, f := range files {
				if _, err := r.Add(ctx, "dev", []string{f}, AddOptions{}); err != nil {
					errs <- err
					return
				}
				if _, err := r.Promote(ctx, "dev", "staging", []string{fmt.Sprintf("w%dp%d", w, i)}, PromoteOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	r := reopen(t, dir, Options{})
	var want []string
	for w := range workers {
		for i := range each {
			want = append(want, fmt.Sprintf("w%dp%d-1-1.noarch", w, i))
		}
	}
	checkChannel(t, r, "dev", want...)
	checkChannel(t, r, "staging", want...)
	for _, ch := range []string{"dev", "staging"} {
		h, err := r.History(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != workers*each {
			t.Errorf("%s: %d snapshots, want %d", ch, len(h), workers*each)
		}
		for i, s := range h {
			if s.Revision != i+1 || len(s.Added) != 1 || s.Packages != i+1 {
				t.Errorf("%s: snapshot %d: %+v", ch, i, s)
			}
		}
	}
}

// TestLockAcrossProcesses holds the root's lock in a child process and
// checks that NoWait fails with ErrLocked naming it.
func TestLockAcrossProcesses(t *testing.T) {
	if os.Getenv("RPMFORGE_CHANNEL_LOCK_CHILD") != "" {
		s := NewDirStore(os.Getenv("RPMFORGE_CHANNEL_LOCK_CHILD"), Hardlink, true)
		unlock, err := s.Lock(context.Background(), true, false)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		var b [1]byte
		os.Stdin.Read(b[:]) // until the parent closes stdin
		unlock()
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockAcrossProcesses$")
	cmd.Env = append(os.Environ(), "RPMFORGE_CHANNEL_LOCK_CHILD="+dir)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n"[:7] {
		t.Fatalf("child: %q %v", buf, err)
	}
	r := reopen(t, dir, Options{NoWait: true})
	_, err := r.Add(context.Background(), "dev", []string{buildPkg(t, t.TempDir(), "a", "1", "1", "", nil)}, AddOptions{})
	if err == nil || !errorsIs(err, ErrLocked) || !contains(err.Error(), "process "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("add while locked: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	r = reopen(t, dir, Options{NoWait: true})
	ok(t)(r.Add(context.Background(), "dev", []string{buildPkg(t, t.TempDir(), "a", "1", "1", "", nil)}, AddOptions{}))
}

// exitStore kills the process when it is about to replace a repomd.xml:
// a crash at the worst moment, with no undo and no deferred cleanup.
type exitStore struct{ *DirStore }

func (e exitStore) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if strings.HasSuffix(name, "repodata/repomd.xml") {
		os.Exit(3)
	}
	return e.DirStore.WriteFile(ctx, name, r)
}

// TestCrashInChildProcess kills a child process in the middle of an add:
// the channel keeps serving valid metadata of the previous revision, the
// lock is free, and the next change publishes the interrupted snapshot.
func TestCrashInChildProcess(t *testing.T) {
	if dir := os.Getenv("RPMFORGE_CHANNEL_CRASH_CHILD"); dir != "" {
		r, err := Open(dir, Options{Store: exitStore{NewDirStore(dir, Hardlink, false)}, User: "child"})
		if err == nil {
			_, err = r.Add(context.Background(), "dev", []string{os.Getenv("RPMFORGE_CHANNEL_CRASH_PKG")}, AddOptions{})
		}
		fmt.Println("not killed:", err)
		os.Exit(0)
	}
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "root")
	r := reopen(t, dir, Options{})
	src := t.TempDir()
	ok(t)(r.Add(ctx, "dev", []string{buildPkg(t, src, "hello", "1", "1", "", nil)}, AddOptions{}))

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashInChildProcess$")
	cmd.Env = append(os.Environ(), "RPMFORGE_CHANNEL_CRASH_CHILD="+dir,
		"RPMFORGE_CHANNEL_CRASH_PKG="+buildPkg(t, src, "hello", "2", "1", "", nil))
	out, err := cmd.CombinedOutput()
	if ee, isExit := err.(*exec.ExitError); !isExit || ee.ExitCode() != 3 {
		t.Fatalf("child: %v\n%s", err, out)
	}
	res, err := repo.Check(ctx, &repo.DirStorage{Root: filepath.Join(dir, "dev")})
	if err != nil || res.Packages != 1 {
		t.Fatalf("metadata after the crash: %v", err)
	}
	h, _ := r.History(ctx, "dev")
	if len(h) != 2 || !h[1].Pending || h[1].User != "child" {
		t.Fatalf("history after the crash: %+v", h)
	}
	r = reopen(t, dir, Options{NoWait: true}) // the lock died with the child
	res2 := ok(t)(r.Add(ctx, "dev", []string{buildPkg(t, src, "hello", "3", "1", "", nil)}, AddOptions{}))
	if res2.Recovered == nil || res2.Recovered.Revision != 2 || res2.Snapshot.Revision != 3 {
		t.Errorf("recovered %+v, snapshot %+v", res2.Recovered, res2.Snapshot)
	}
	checkChannel(t, r, "dev", "hello-1-1.noarch", "hello-2-1.noarch", "hello-3-1.noarch")
}
