package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
)

// Storage is where a repository's published files live. Publish writes
// metadata files under unique names first and repodata/repomd.xml last, so
// any Storage whose WriteFile replaces a file atomically (a local
// directory, an object store) serves a consistent repository at every
// moment. Names are slash-separated and relative to the repository root.
type Storage interface {
	// WriteFile stores what r yields under name: readers see the old
	// content or the new, never a part. It may be called concurrently.
	WriteFile(ctx context.Context, name string, r io.Reader) error
	// Sync makes the files written so far durable: Publish calls it
	// before it replaces repomd.xml, and after.
	Sync(ctx context.Context) error
	// Open opens a stored file; the error wraps fs.ErrNotExist if there
	// is none.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Stat returns a stored file's size; the error wraps fs.ErrNotExist if
	// there is none.
	Stat(ctx context.Context, name string) (int64, error)
	// List returns the names of the files directly in directory dir.
	List(ctx context.Context, dir string) ([]string, error)
	// Remove deletes a file; removing a missing file is not an error.
	Remove(ctx context.Context, name string) error
}

// Stager is implemented by storages that can prepare a file and make it
// visible later: Publish stages repomd.xml.asc and repomd.xml, then
// commits them back to back, so that a crash leaves the new signature
// beside the old repomd.xml only within two renames, not within a write
// and an fsync.
type Stager interface {
	// Stage writes what r yields so that commit makes it visible as name
	// atomically (commit does not sync the directory: Sync does); abort
	// discards it.
	Stage(ctx context.Context, name string, r io.Reader) (commit func() error, abort func(), err error)
}

// DirStorage is a Storage in a local directory. Writes go to a temporary
// file in the target directory, which is synced and renamed into place;
// Sync then syncs the directories (restic's durable write, with the
// directory syncs batched).
type DirStorage struct {
	Root string
	// NoSync skips fsync (for tests and throw-away repositories).
	NoSync bool

	mu    sync.Mutex
	dirty map[string]bool // directories with renames not yet synced
}

// tmpPrefix starts the names of temporary files; Publish removes leftovers
// of killed runs (it holds the repository lock).
const tmpPrefix = ".rpmforge-tmp-"

func (d *DirStorage) path(name string) (string, error) {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
		return "", fmt.Errorf("repo: storage: bad file name %q", name)
	}
	return filepath.Join(d.Root, filepath.FromSlash(name)), nil
}

// WriteFile implements Storage.
func (d *DirStorage) WriteFile(ctx context.Context, name string, r io.Reader) error {
	commit, _, err := d.Stage(ctx, name, r)
	if err != nil {
		return err
	}
	return commit()
}

// Stage implements Stager: a synced temporary file beside the target,
// renamed into place by commit.
func (d *DirStorage) Stage(ctx context.Context, name string, r io.Reader) (commit func() error, abort func(), err error) {
	p, err := d.path(name)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	tmp, err := os.CreateTemp(dir, tmpPrefix+filepath.Base(p)+"-*")
	if err != nil {
		return nil, nil, err
	}
	remove := func() { os.Remove(tmp.Name()) }
	defer func() {
		if err != nil {
			tmp.Close()
			remove()
		}
	}()
	buf := getCopyBuf()
	_, err = io.CopyBuffer(tmp, fsutil.ContextReader(ctx, r), *buf)
	putCopyBuf(buf)
	if err != nil {
		return nil, nil, fmt.Errorf("writing %s: %w", p, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return nil, nil, err
	}
	if !d.NoSync {
		if err := tmp.Sync(); err != nil {
			return nil, nil, fmt.Errorf("writing %s: %w", p, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return nil, nil, fmt.Errorf("writing %s: %w", p, err)
	}
	commit = func() error {
		if err := os.Rename(tmp.Name(), p); err != nil {
			remove()
			return err
		}
		d.mu.Lock()
		if d.dirty == nil {
			d.dirty = map[string]bool{}
		}
		d.dirty[dir] = true
		d.mu.Unlock()
		return nil
	}
	return commit, remove, nil
}

// Sync implements Storage: it syncs the directories files were renamed
// into (each file was synced before its rename).
func (d *DirStorage) Sync(context.Context) error {
	d.mu.Lock()
	dirs := d.dirty
	d.dirty = nil
	d.mu.Unlock()
	if d.NoSync {
		return nil
	}
	for dir := range dirs {
		if err := fsutil.SyncDir(dir); err != nil {
			return err
		}
	}
	return nil
}

// Open implements Storage.
func (d *DirStorage) Open(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.Open(p)
}

// Stat implements Storage.
func (d *DirStorage) Stat(_ context.Context, name string) (int64, error) {
	p, err := d.path(name)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// List implements Storage: regular files and symlinks (a channel's
// packages in symlink mode).
func (d *DirStorage) List(_ context.Context, dir string) ([]string, error) {
	p, err := d.path(dir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if t := e.Type(); t.IsRegular() || t&fs.ModeSymlink != 0 {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Remove implements Storage.
func (d *DirStorage) Remove(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
