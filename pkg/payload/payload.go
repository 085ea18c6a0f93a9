// Package payload assembles the list of files an RPM carries: scanned trees
// mapped to their install paths, generated files, and the directories the
// package owns. Entries hold metadata only and open their contents lazily,
// so a venv of any size costs memory per file, not per byte.
package payload

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/scan"
)

// Builder collects entries keyed by install path; adding a path twice is an
// error naming both sources.
type Builder struct {
	entries map[string]rpm.Entry
	sources map[string]string
	// Clamp, when non-zero, is SOURCE_DATE_EPOCH: no mtime is later, and
	// generated files get exactly this time.
	Clamp time.Time
	// Now is the mtime of generated files without Clamp.
	Now time.Time
	// Guard, when set, wraps every file reader (see NewGuard).
	Guard *Guard
}

// New returns an empty Builder.
func New(clamp, now time.Time) *Builder {
	return &Builder{entries: map[string]rpm.Entry{}, sources: map[string]string{}, Clamp: clamp, Now: now}
}

// Owner is who owns an entry on the host.
type Owner struct{ User, Group string }

// Root is root:root.
var Root = Owner{"root", "root"}

func (b *Builder) mtime(t time.Time) time.Time {
	if t.IsZero() {
		t = b.Now
		if !b.Clamp.IsZero() {
			t = b.Clamp
		}
	}
	if !b.Clamp.IsZero() && t.After(b.Clamp) {
		t = b.Clamp
	}
	return t.UTC().Truncate(time.Second)
}

func (b *Builder) add(e rpm.Entry, source string) error {
	if !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path {
		return fmt.Errorf("payload: %s: install path %q is not absolute and clean", source, e.Path)
	}
	if prev, ok := b.sources[e.Path]; ok {
		if prevE := b.entries[e.Path]; prevE.Mode.IsDir() && e.Mode.IsDir() {
			return nil // the same directory from two trees
		}
		return fmt.Errorf("payload: adding %s at %s: already present from %s (rename one or drop it in rpmforge.toml)", source, e.Path, prev)
	}
	e.MTime = b.mtime(e.MTime)
	b.entries[e.Path] = e
	b.sources[e.Path] = source
	return nil
}

// normMode gives regular files 0644 or 0755 and directories 0755, so the
// package does not depend on the builder's umask.
func normMode(m fs.FileMode) fs.FileMode {
	switch {
	case m.IsDir():
		return fs.ModeDir | 0o755
	case m&fs.ModeSymlink != 0:
		return fs.ModeSymlink | 0o777
	case m&0o111 != 0:
		return 0o755
	default:
		return 0o644
	}
}

// TreeOptions control AddTree.
type TreeOptions struct {
	Owner Owner
	// BuildRoot is the tree's path at build time: absolute symlinks into it
	// are rewritten to point into dest.
	BuildRoot string
	// Override replaces the content of files by relative path (relocation).
	Override map[string][]byte
}

// AddTree maps a scanned tree to dest (its own directory included).
func (b *Builder) AddTree(dest string, files []scan.File, opt TreeOptions) error {
	if err := b.AddDir(dest, opt.Owner, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		e := rpm.Entry{Path: path.Join(dest, f.Rel), Mode: normMode(f.Mode), Owner: opt.Owner.User, Group: opt.Owner.Group, MTime: f.MTime}
		switch {
		case f.IsDir():
		case f.Link != "":
			e.Link = f.Link
			if opt.BuildRoot != "" && (f.Link == opt.BuildRoot || strings.HasPrefix(f.Link, opt.BuildRoot+"/")) {
				e.Link = dest + strings.TrimPrefix(f.Link, opt.BuildRoot)
			}
		default:
			if content, ok := opt.Override[f.Rel]; ok {
				e.Size = int64(len(content))
				e.Open = b.guard(e.Path, bytesOpener(content))
			} else {
				e.Size = f.Size
				e.Open = b.guard(e.Path, fileOpener(f.Abs))
			}
		}
		if err := b.add(e, f.Abs); err != nil {
			return err
		}
	}
	return nil
}

// AddDir adds a directory the package owns.
func (b *Builder) AddDir(p string, o Owner, perm fs.FileMode) error {
	return b.add(rpm.Entry{Path: p, Mode: fs.ModeDir | perm, Owner: o.User, Group: o.Group}, "directory "+p)
}

// AddFile adds a file from disk, read when the payload is written.
func (b *Builder) AddFile(dest, src string, o Owner, perm fs.FileMode, flags rpm.FileFlag) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("payload: %s is not a regular file", src)
	}
	return b.add(rpm.Entry{Path: dest, Mode: perm, Owner: o.User, Group: o.Group, Size: st.Size(), MTime: st.ModTime(),
		Flags: flags, Open: b.guard(dest, fileOpener(src))}, src)
}

// AddBytes adds a generated file.
func (b *Builder) AddBytes(dest string, content []byte, o Owner, perm fs.FileMode, flags rpm.FileFlag) error {
	return b.add(rpm.Entry{Path: dest, Mode: perm, Owner: o.User, Group: o.Group, Size: int64(len(content)),
		Flags: flags, Open: b.guard(dest, bytesOpener(content))}, "generated "+dest)
}

// OwnParents adds every missing directory between under and the entries
// below it (e.g. the __pycache__ directories byte-compilation creates).
func (b *Builder) OwnParents(under string, o Owner) error {
	var missing []string
	for p := range b.entries {
		if !strings.HasPrefix(p, under+"/") {
			continue
		}
		for d := path.Dir(p); d != under && strings.HasPrefix(d, under+"/"); d = path.Dir(d) {
			if _, ok := b.entries[d]; !ok {
				missing = append(missing, d)
			}
		}
	}
	sort.Strings(missing)
	for _, d := range missing {
		if _, ok := b.entries[d]; ok {
			continue
		}
		if err := b.AddDir(d, o, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether p is in the payload.
func (b *Builder) Has(p string) bool { _, ok := b.entries[p]; return ok }

// Entries returns the payload sorted by path.
func (b *Builder) Entries() []rpm.Entry {
	out := make([]rpm.Entry, 0, len(b.entries))
	for _, e := range b.entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (b *Builder) guard(dest string, open func() (io.ReadCloser, error)) func() (io.ReadCloser, error) {
	if b.Guard == nil {
		return open
	}
	return b.Guard.wrap(dest, open)
}

func fileOpener(p string) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return os.Open(p) }
}

func bytesOpener(c []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(c)), nil }
}
