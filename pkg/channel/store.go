package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/repo"
)

// Store holds a repository root: the pool, each channel's published tree
// and the history, as slash-separated names relative to the root.
//
// DirStore keeps a root in a local directory; pkg/s3store keeps one in a
// bucket, with Link a server-side copy and Lock a conditional write. A
// store without local files returns ErrNotLocal from LocalDir: a channel
// is then published from its package set, reading pool objects through
// Open (see docs/s3.md).
type Store interface {
	// WriteFile, Sync, Open, Stat, List and Remove are repo.Storage's:
	// WriteFile is atomic (readers see the old content or the new) and
	// durable when it returns; List includes symlinks (channel packages in
	// symlink mode) and returns none for a directory that does not exist.
	repo.Storage
	// Link makes name (a package of a channel) refer to the pool object
	// poolName: the same bytes, replacing what name held, atomically.
	Link(ctx context.Context, poolName, name string) error
	// Ingest moves the local file at localPath into the store as name (a
	// pool object), durably. localPath is in TempDir.
	Ingest(ctx context.Context, localPath, name string) error
	// Lock takes the root's lock, exclusive for changes, shared for
	// reads, waiting unless noWait (then the error wraps ErrLocked).
	Lock(ctx context.Context, exclusive, noWait bool) (unlock func(), err error)
	// LocalDir is the local directory holding the tree under name (a
	// channel), which repo.Publish scans for packages; the error wraps
	// ErrNotLocal when the store has no local files.
	LocalDir(name string) (string, error)
	// CacheDir is a local directory for what is kept under name
	// (pkg/repo's publish cache): in the root for a DirStore, in a local
	// cache for an object store.
	CacheDir(name string) (string, error)
	// TempDir is a local directory for files being verified before they
	// are ingested.
	TempDir() (string, error)
}

// ErrLocked is wrapped by errors of operations that did not wait for
// another one holding the root's lock.
var ErrLocked = errors.New("the repository root is locked by another rpmforge")

// ErrNotLocal is wrapped by LocalDir's error when a store has no local
// files (object storage).
var ErrNotLocal = errors.New("the store has no local files")

// stateDir holds what clients never see: the lock, the history, the
// package sets, the pool index and pkg/repo's publish caches. It is hidden,
// and rpmforge serve refuses hidden names.
const stateDir = ".rpmforge"

// tmpPrefix starts temporary files' names (hidden: neither published nor
// served).
const tmpPrefix = ".rpmforge-tmp-"

// DirStore is a Store in a local directory: repo.DirStorage's atomic
// writes (temporary file, fsync, rename), each made durable before
// WriteFile returns (the directory synced), plus links into the pool and
// flock(2).
type DirStore struct {
	repo.DirStorage
	// Mode is how channel packages refer to pool objects; default
	// Hardlink, which falls back to a copy across filesystems.
	Mode LinkMode
}

// NewDirStore returns a DirStore for the directory root.
func NewDirStore(root string, mode LinkMode, noSync bool) *DirStore {
	return &DirStore{DirStorage: repo.DirStorage{Root: root, NoSync: noSync}, Mode: mode}
}

func (d *DirStore) local(name string) (string, error) {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("channel: bad file name %q", name)
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// WriteFile implements Store: the file and its directory are synced
// before it returns.
func (d *DirStore) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if err := d.DirStorage.WriteFile(ctx, name, r); err != nil {
		return err
	}
	return d.DirStorage.Sync(ctx)
}

// Link implements Store.
func (d *DirStore) Link(_ context.Context, poolName, name string) error {
	src, err := d.local(poolName)
	if err != nil {
		return err
	}
	dst, err := d.local(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, tmpPrefix+filepath.Base(dst)+"-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	switch d.Mode {
	case Symlink:
		rel, err := filepath.Rel(dir, src)
		if err != nil {
			return err
		}
		err = os.Symlink(rel, tmp)
		if err != nil {
			return fmt.Errorf("linking %s to the pool: %w", dst, err)
		}
	case Copy:
		if err := copyFile(src, tmp, d.NoSync); err != nil {
			return fmt.Errorf("copying %s to %s: %w", src, dst, err)
		}
	default:
		if err := os.Link(src, tmp); err != nil {
			if !errors.Is(err, syscall.EXDEV) && !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EMLINK) {
				return fmt.Errorf("linking %s to the pool: %w", dst, err)
			}
			// Another filesystem, or no hard links here: copy.
			if err := copyFile(src, tmp, d.NoSync); err != nil {
				return fmt.Errorf("copying %s to %s: %w", src, dst, err)
			}
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return err
	}
	return d.syncDir(dir)
}

func (d *DirStore) syncDir(dir string) error {
	if d.NoSync {
		return nil
	}
	return fsutil.SyncDir(dir)
}

func copyFile(src, dst string, noSync bool) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	if st, err := in.Stat(); err == nil {
		// The copy's mtime is the pool file's: primary.xml's time file
		// then agrees between channels.
		defer os.Chtimes(dst, st.ModTime(), st.ModTime())
	}
	if !noSync {
		if err := out.Sync(); err != nil {
			return err
		}
	}
	return out.Close()
}

// Ingest implements Store: the file is synced and renamed into place.
func (d *DirStore) Ingest(ctx context.Context, localPath, name string) error {
	dst, err := d.local(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if !d.NoSync {
		f, err := os.Open(localPath)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("syncing %s: %w", localPath, err)
		}
	}
	if err := os.Chmod(localPath, 0o644); err != nil {
		return err
	}
	if err := os.Rename(localPath, dst); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return err
		}
		f, err := os.Open(localPath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := d.WriteFile(ctx, name, f); err != nil {
			return err
		}
		return os.Remove(localPath)
	}
	return d.syncDir(dir)
}

// LocalDir implements Store.
func (d *DirStore) LocalDir(name string) (string, error) { return d.local(name) }

// CacheDir implements Store: the cache is in the root.
func (d *DirStore) CacheDir(name string) (string, error) { return d.local(name) }

// TempDir implements Store: under the root, so that Ingest is a rename.
func (d *DirStore) TempDir() (string, error) {
	p := filepath.Join(d.Root, stateDir, "tmp")
	return p, os.MkdirAll(p, 0o755)
}

// Lock implements Store with flock(2) on .rpmforge/lock: the lock goes
// away with the process, so a killed rpmforge never leaves it behind.
func (d *DirStore) Lock(ctx context.Context, exclusive, noWait bool) (func(), error) {
	dir := filepath.Join(d.Root, stateDir)
	if !exclusive {
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			// Nothing to read yet, and a reader creates nothing.
			return func() {}, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	p := filepath.Join(dir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("channel: locking %s: %w", p, err)
		}
		if noWait {
			holder := lockHolder(f)
			f.Close()
			return nil, fmt.Errorf("channel: %w (%s holds %s; retry later or drop --no-wait)", ErrLocked, holder, p)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("channel: waiting for the lock %s: %w", p, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if exclusive {
		f.Truncate(0)
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		if exclusive {
			f.Truncate(0)
		}
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

// prefixStorage is the repo.Storage of one channel's tree inside a Store.
// SubStorage is the repo.Storage of the files of s under prefix (a
// channel's tree: "prod/").
func SubStorage(s Store, prefix string) repo.Storage { return prefixStorage{s, prefix} }

type prefixStorage struct {
	s      Store
	prefix string // "prod/"
}

func (p prefixStorage) WriteFile(ctx context.Context, name string, r io.Reader) error {
	return p.s.WriteFile(ctx, p.prefix+name, r)
}

func (p prefixStorage) Sync(ctx context.Context) error { return p.s.Sync(ctx) }

// Stage implements repo.Stager when the store does.
func (p prefixStorage) Stage(ctx context.Context, name string, r io.Reader) (func() error, func(), error) {
	if st, ok := p.s.(repo.Stager); ok {
		return st.Stage(ctx, p.prefix+name, r)
	}
	if err := p.s.WriteFile(ctx, p.prefix+name, r); err != nil {
		return nil, nil, err
	}
	return func() error { return nil }, func() {}, nil
}

func (p prefixStorage) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	return p.s.Open(ctx, p.prefix+name)
}

func (p prefixStorage) Stat(ctx context.Context, name string) (int64, error) {
	return p.s.Stat(ctx, p.prefix+name)
}

func (p prefixStorage) List(ctx context.Context, dir string) ([]string, error) {
	return p.s.List(ctx, p.prefix+dir)
}

func (p prefixStorage) Remove(ctx context.Context, name string) error {
	return p.s.Remove(ctx, p.prefix+name)
}

// readFile reads a whole stored file.
func readFile(ctx context.Context, s Store, name string) ([]byte, error) {
	rc, err := s.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
