package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ErrLocked is returned (wrapped) when another publisher holds the
// repository's lock and Options.NoWait is set.
var ErrLocked = errors.New("repository is locked by another publish")

// lockRepo takes an exclusive flock on stateDir/lock, waiting for it unless
// noWait. The lock goes away with the process, so a killed publish never
// leaves a stale lock. waiting is called once if the lock is busy.
func lockRepo(ctx context.Context, stateDir string, noWait bool, waiting func(holder string)) (unlock func(), err error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(stateDir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", p, err)
		}
		holder := lockHolder(f)
		if noWait {
			f.Close()
			return nil, fmt.Errorf("%w (%s holds %s)", ErrLocked, holder, p)
		}
		if !told && waiting != nil {
			waiting(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for the lock %s: %w", p, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Record who holds it, for the message others get.
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		f.Truncate(0)
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

func lockHolder(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if pid := string(bytes.TrimSpace(b[:n])); pid != "" {
		return "process " + pid
	}
	return "another process"
}
