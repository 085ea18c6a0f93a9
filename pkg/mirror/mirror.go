// Package mirror copies a whole repository root from one store to another
// (`rpmforge repo sync --from SRC --to DST`): a local directory
// (channel.DirStore) to an S3 bucket prefix (s3store.Store) and back, or
// between two of either.
//
// The destination may be served to dnf while it is being written, so Sync
// keeps it consistent at every moment:
//
//   - every file that is not a repomd.xml or repomd.xml.asc (pool objects,
//     channel packages, content-addressed repodata, keys, .rpmforge state)
//     is copied first, then every repomd.xml.asc, then every repomd.xml:
//     a client never sees a repomd.xml that names a missing file;
//   - each copy is read back from the destination and its SHA-256
//     compared with the source's;
//   - a failure in one phase stops Sync before the next one, so no
//     repomd.xml is replaced after a failed copy;
//   - with Delete, files the source does not have are removed only after
//     every copy succeeded, repomd.xml files last.
//
// Sync takes no lock: the caller holds the source's (shared) and the
// destination's (exclusive) lock while it runs.
package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/s3store"
)

// Tree is one end of a sync: a repository root in some store.
type Tree interface {
	repo.Storage
}

// Lister calls fn for every file of a tree, with its slash-separated name
// relative to the root and its size. It returns fn's first error.
type Lister func(ctx context.Context, fn func(name string, size int64) error) error

// Parallel is how many files are compared or copied at once.
const Parallel = 4

// tmpPrefix starts the base name of the stores' temporary files
// (channel.DirStore, repo.DirStorage).
const tmpPrefix = ".rpmforge-tmp-"

// Skipped reports whether the file name (slash-separated, relative to the
// root) is local to one store and never mirrored: the root's lock, the
// stores' temporary files and pkg/repo's publish cache.
func Skipped(name string) bool {
	return name == ".rpmforge/lock" ||
		strings.HasPrefix(name, ".rpmforge/tmp/") ||
		strings.HasPrefix(name, ".rpmforge/publish/") ||
		strings.HasPrefix(path.Base(name), tmpPrefix)
}

// skippedDir reports whether the whole directory name is skipped.
func skippedDir(name string) bool {
	return name == ".rpmforge/tmp" || name == ".rpmforge/publish"
}

// DirLister lists the regular files under the local directory root,
// following symlinks to files (channel packages in symlink mode) and
// leaving out what Skipped names. A missing root is an error wrapping
// fs.ErrNotExist (Sync treats a missing destination as empty); a file that
// vanishes while it is listed is left out; a symlink to a directory, a
// dangling symlink or any other kind of file is an error.
func DirLister(root string) Lister {
	return func(ctx context.Context, fn func(name string, size int64) error) error {
		st, err := os.Stat(root)
		if err != nil {
			return fmt.Errorf("listing %s: %w", root, err)
		}
		if !st.IsDir() {
			return fmt.Errorf("listing %s: not a directory", root)
		}
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p != root && errors.Is(err, fs.ErrNotExist) {
					return nil // removed while we walked
				}
				return fmt.Errorf("listing %s: %w", p, err)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if p == root {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return fmt.Errorf("listing %s: %w", p, err)
			}
			name := filepath.ToSlash(rel)
			if d.IsDir() {
				if skippedDir(name) {
					return filepath.SkipDir
				}
				return nil
			}
			if Skipped(name) {
				return nil
			}
			var fi fs.FileInfo
			if d.Type()&fs.ModeSymlink != 0 {
				fi, err = os.Stat(p)
			} else {
				fi, err = d.Info()
			}
			switch {
			case errors.Is(err, fs.ErrNotExist) && d.Type()&fs.ModeSymlink == 0:
				return nil // removed while we walked
			case err != nil:
				return fmt.Errorf("listing %s: %w", p, err)
			case !fi.Mode().IsRegular():
				return fmt.Errorf("listing %s: not a regular file (%s)", p, fi.Mode().Type())
			}
			return fn(name, fi.Size())
		})
	}
}

// StoreLister lists the objects of s (Walk), leaving out what Skipped names
// and "directory" marker objects (keys ending in "/").
func StoreLister(s *s3store.Store) Lister {
	return func(ctx context.Context, fn func(name string, size int64) error) error {
		return s.Walk(ctx, "", func(o s3store.Object) error {
			if o.Name == "" || strings.HasSuffix(o.Name, "/") || Skipped(o.Name) {
				return nil
			}
			return fn(o.Name, o.Size)
		})
	}
}

// Options configure Sync.
type Options struct {
	// Delete removes destination files the source does not have, after
	// every copy succeeded (repomd.xml files last).
	Delete bool
	// DryRun compares both trees and reports what would be copied and
	// deleted, without writing or removing anything.
	DryRun bool
	// Progress, if set, is called after each file is handled (compared,
	// copied or deleted); total is the number of source files plus the
	// number of files to delete, known once both trees are listed.
	// Calls are serialized.
	Progress func(done, total int)
}

// Result says what Sync did (or, with DryRun, would do). The lists are
// sorted.
type Result struct {
	Copied, Unchanged, Deleted []string
	// Bytes is the number of bytes copied (with DryRun: the source sizes
	// of the files that would be copied).
	Bytes int64
}

// The phases of a sync, in order; each starts once the previous is done.
const (
	phaseFiles     = iota // everything but the two below
	phaseSignature        // repomd.xml.asc
	phaseRepomd           // repomd.xml
	phases
)

// phase is the phase in which name is written (and removed).
func phase(name string) int {
	switch path.Base(name) {
	case "repomd.xml":
		return phaseRepomd
	case "repomd.xml.asc":
		return phaseSignature
	}
	return phaseFiles
}

// Sync makes dst hold the files of src (as srcList and dstList list them):
// a file whose size and SHA-256 match is left alone, every other one is
// copied and verified, in the order the package comment describes.
func Sync(ctx context.Context, src Tree, srcList Lister, dst Tree, dstList Lister, opts Options) (*Result, error) {
	srcFiles, err := collect(ctx, srcList)
	if err != nil {
		return nil, fmt.Errorf("listing the source: %w", err)
	}
	dstFiles, err := collect(ctx, dstList)
	if errors.Is(err, fs.ErrNotExist) {
		dstFiles, err = map[string]int64{}, nil // a new destination
	}
	if err != nil {
		return nil, fmt.Errorf("listing the destination: %w", err)
	}

	var extra []string
	if opts.Delete {
		for name := range dstFiles {
			if _, ok := srcFiles[name]; !ok {
				extra = append(extra, name)
			}
		}
		if len(srcFiles) == 0 && len(extra) > 0 {
			return nil, fmt.Errorf("the source has no files: refusing to delete all %d files of the destination (wrong source path or prefix?)", len(extra))
		}
	}

	s := &syncer{src: src, dst: dst, opts: opts, total: len(srcFiles) + len(extra)}
	var byPhase [phases][]string
	for _, name := range sortedKeys(srcFiles) {
		byPhase[phase(name)] = append(byPhase[phase(name)], name)
	}
	for ph, names := range byPhase {
		if ph == phaseRepomd && !opts.DryRun {
			// What the new repomd.xml files name must be durable first.
			if err := dst.Sync(ctx); err != nil {
				return nil, fmt.Errorf("syncing the destination: %w", err)
			}
		}
		err := parallel(ctx, names, func(ctx context.Context, name string) error {
			_, inDst := dstFiles[name]
			return s.file(ctx, name, srcFiles[name], dstFiles[name], inDst)
		})
		if err != nil {
			return nil, err
		}
	}

	// Removals, only after every copy succeeded: other files first, then
	// repomd.xml.asc, repomd.xml last. A repomd.xml still in the source
	// is never removed; one that is not goes with its repository.
	slices.Sort(extra)
	for ph := range phases {
		var names []string
		for _, name := range extra {
			if phase(name) == ph {
				names = append(names, name)
			}
		}
		err := parallel(ctx, names, func(ctx context.Context, name string) error {
			if !opts.DryRun {
				if err := dst.Remove(ctx, name); err != nil {
					return fmt.Errorf("removing %s from the destination: %w", name, err)
				}
			}
			s.done(func(r *Result) { r.Deleted = append(r.Deleted, name) })
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if !opts.DryRun {
		if err := dst.Sync(ctx); err != nil {
			return nil, fmt.Errorf("syncing the destination: %w", err)
		}
	}

	r := &s.res
	slices.Sort(r.Copied)
	slices.Sort(r.Unchanged)
	slices.Sort(r.Deleted)
	return r, nil
}

type syncer struct {
	src, dst Tree
	opts     Options
	total    int

	mu    sync.Mutex
	count int
	res   Result
}

// done records a handled file and reports progress.
func (s *syncer) done(update func(*Result)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	update(&s.res)
	s.count++
	if s.opts.Progress != nil {
		s.opts.Progress(s.count, s.total)
	}
}

// file brings one file of the source to the destination.
func (s *syncer) file(ctx context.Context, name string, srcSize, dstSize int64, inDst bool) error {
	if inDst && srcSize == dstSize {
		sum, _, err := hashFile(ctx, s.src, name)
		if err != nil {
			return fmt.Errorf("reading %s from the source: %w", name, err)
		}
		have, _, err := hashFile(ctx, s.dst, name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading %s from the destination: %w", name, err)
		}
		if err == nil && bytes.Equal(have, sum) {
			s.done(func(r *Result) { r.Unchanged = append(r.Unchanged, name) })
			return nil
		}
	}
	if s.opts.DryRun {
		s.done(func(r *Result) { r.Copied = append(r.Copied, name); r.Bytes += srcSize })
		return nil
	}
	n, err := s.copy(ctx, name)
	if err != nil {
		return err
	}
	s.done(func(r *Result) { r.Copied = append(r.Copied, name); r.Bytes += n })
	return nil
}

// copy writes the source's name to the destination and verifies it; it
// returns the number of bytes copied.
func (s *syncer) copy(ctx context.Context, name string) (int64, error) {
	rc, err := s.src.Open(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("reading %s from the source: %w", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	var (
		r    io.Reader
		cr   *countingReader
		size int64
	)
	if f, ok := rc.(*os.File); ok {
		// A local file is hashed first and handed over as it is, so that
		// a store which needs a seekable body (S3) does not spool it
		// again. Stores replace files by rename: an open file's content
		// does not change under us.
		if size, err = io.Copy(h, fsutil.ContextReader(ctx, f)); err == nil {
			_, err = f.Seek(0, io.SeekStart)
		}
		if err != nil {
			return 0, fmt.Errorf("reading %s from the source: %w", name, err)
		}
		r = f
	} else {
		cr = &countingReader{r: io.TeeReader(rc, h)}
		r = cr
	}
	if err := s.dst.WriteFile(ctx, name, r); err != nil {
		if cr != nil && cr.err != nil {
			return 0, fmt.Errorf("reading %s from the source: %w", name, cr.err)
		}
		return 0, fmt.Errorf("writing %s to the destination: %w", name, err)
	}
	if cr != nil {
		// The hash must cover the whole source even if the writer stopped
		// early: the destination's content then shows as different.
		if _, err := io.Copy(io.Discard, cr); err != nil {
			return 0, fmt.Errorf("reading %s from the source: %w", name, err)
		}
		size = cr.n
	}
	want := h.Sum(nil)
	got, n, err := hashFile(ctx, s.dst, name)
	if err != nil {
		return 0, fmt.Errorf("verifying %s in the destination: %w", name, err)
	}
	if !bytes.Equal(got, want) || n != size {
		return 0, fmt.Errorf("verifying %s in the destination: SHA-256 %x (%d bytes), but the source's is %x (%d bytes)", name, got, n, want, size)
	}
	return size, nil
}

// countingReader counts what it reads and keeps its reader's error.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF {
		c.err = err
	}
	return n, err
}

// hashFile returns the SHA-256 and size of a stored file, read through a
// small buffer.
func hashFile(ctx context.Context, t Tree, name string) ([]byte, int64, error) {
	rc, err := t.Open(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, fsutil.ContextReader(ctx, rc))
	if err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), n, nil
}

// parallel runs fn for every name, Parallel at a time, and returns the
// first error; after an error no new call starts.
func parallel(ctx context.Context, names []string, fn func(context.Context, string) error) error {
	if len(names) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan string)
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for range min(Parallel, len(names)) {
		wg.Go(func() {
			for name := range next {
				if ctx.Err() != nil {
					continue
				}
				if err := fn(ctx, name); err != nil {
					fail(err)
				}
			}
		})
	}
feed:
	for _, name := range names {
		select {
		case next <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return context.Cause(ctx)
}

func collect(ctx context.Context, l Lister) (map[string]int64, error) {
	files := map[string]int64{}
	err := l(ctx, func(name string, size int64) error {
		if _, dup := files[name]; dup {
			return fmt.Errorf("%s listed twice", name)
		}
		files[name] = size
		return nil
	})
	return files, err
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
