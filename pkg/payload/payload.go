// Package payload assembles the list of files an RPM carries: scanned trees
// mapped to their install paths, generated files, and the directories the
// package owns. Entries hold metadata only and open their contents lazily,
// and the entries of scanned trees are spooled to a temp file as compact
// records, so a venv of any size costs next to no memory per file, and none
// per byte.
package payload

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/scan"
)

// Builder collects entries keyed by install path; adding a path twice is an
// error naming both sources (reported by Source, which sees them all).
//
// A venv has 100k files and more, so the files of trees (AddTree,
// AddTreeFunc) are not kept in memory: each tree's entries, sorted, are
// appended to a spool file as compact records, and Source merges the trees
// and the few entries added one by one, in path order, every time the
// writer reads it. Their contents are opened by Open, from the tree.
type Builder struct {
	extras []extra  // entries added one by one (and trees' files with their own Open)
	sorted bool     // extras are sorted (prepare)
	trees  []*tree  // Entry.Ref-1
	seq    int      // insertion order of extras and trees
	names  []string // owners and groups of spooled records
	nameIx map[string]uint32

	spool    *os.File
	spoolW   *bufio.Writer
	spoolOff int64

	files fsutil.DirOpener // Open's: trees are read in path order

	// Clamp, when non-zero, is SOURCE_DATE_EPOCH: no mtime is later, and
	// generated files get exactly this time.
	Clamp time.Time
	// Now is the mtime of generated files without Clamp.
	Now time.Time
	// Guard, when set, wraps every file reader (see NewGuard).
	Guard *Guard
	// TempDir holds the spool file ("" = os.TempDir()).
	TempDir string
}

type extra struct {
	e   rpm.Entry
	seq int
	src string // where it came from, for errors
}

// tree is one AddTree call: where its files come from and go to, and where
// its records are in the spool file.
type tree struct {
	dest     string            // install path of the tree's root
	root     string            // the scanned root on disk (scan.File.Abs = root + "/" + Rel)
	override map[string][]byte // TreeOptions.Override
	seq      int
	off, end int64 // its records in the spool file
	n        int
}

// New returns an empty Builder.
func New(clamp, now time.Time) *Builder {
	return &Builder{nameIx: map[string]uint32{}, Clamp: clamp, Now: now}
}

// Close removes the spool file.
func (b *Builder) Close() error {
	b.files.Close()
	if b.spool == nil {
		return nil
	}
	err := b.spool.Close()
	os.Remove(b.spool.Name())
	b.spool, b.spoolW = nil, nil
	return err
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

func checkPath(e *rpm.Entry, source func() string) error {
	if !path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path {
		return fmt.Errorf("payload: %s: install path %q is not absolute and clean", source(), e.Path)
	}
	return nil
}

// add adds an entry one by one.
func (b *Builder) add(e rpm.Entry, source string) error {
	if err := checkPath(&e, func() string { return source }); err != nil {
		return err
	}
	e.MTime = b.mtime(e.MTime)
	b.seq++
	b.extras = append(b.extras, extra{e: e, seq: b.seq, src: source})
	b.sorted = false
	return nil
}

// source names where e came from, for errors.
func (b *Builder) source(e *rpm.Entry, seq int) string {
	if e.Ref > 0 && seq == b.trees[e.Ref-1].seq {
		t := b.trees[e.Ref-1]
		return t.root + "/" + t.rel(e)
	}
	for i := range b.extras {
		if x := &b.extras[i]; x.seq == seq {
			return x.src
		}
	}
	return e.Path
}

// rel returns e's path relative to its tree's dest.
func (t *tree) rel(e *rpm.Entry) string { return e.Path[len(t.dest)+1:] }

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

// AddTree maps a scanned tree to dest (its own directory included). files
// come from scan.Walk: every directory above a file is listed.
func (b *Builder) AddTree(dest string, files []scan.File, opt TreeOptions) error {
	sorted := slices.IsSortedFunc(files, func(x, y scan.File) int { return strings.Compare(x.Rel, y.Rel) })
	if !sorted {
		files = slices.Clone(files)
		slices.SortStableFunc(files, func(x, y scan.File) int { return strings.Compare(x.Rel, y.Rel) })
	}
	return b.AddTreeFunc(dest, func(yield func(scan.File) error) error {
		for _, f := range files {
			if err := yield(f); err != nil {
				return err
			}
		}
		return nil
	}, opt)
}

// AddTreeFunc is AddTree with the files handed over by walk, sorted by Rel
// (scan.WalkFunc), so that no list of them is ever in memory. The tree's
// Override may be set later with SetOverride, up to Source.
func (b *Builder) AddTreeFunc(dest string, walk func(yield func(scan.File) error) error, opt TreeOptions) (err error) {
	if err := b.AddDir(dest, opt.Owner, 0o755); err != nil {
		return err
	}
	if err := b.openSpool(); err != nil {
		return err
	}
	b.seq++
	b.sorted = false // the spool file needs a flush
	t := &tree{dest: dest, override: opt.Override, seq: b.seq, off: b.spoolOff, root: "\x00"}
	b.trees = append(b.trees, t)
	ref := uint32(len(b.trees))
	user, group := b.name(opt.Owner.User), b.name(opt.Owner.Group)
	var prev string
	var rec []byte
	err = walk(func(f scan.File) error {
		if t.n > 0 && f.Rel <= prev {
			return fmt.Errorf("payload: %s: tree files not sorted (%s after %s)", dest, f.Rel, prev)
		}
		prev = f.Rel
		if t.n == 0 && t.root == "\x00" {
			t.root = ""
			if strings.HasSuffix(f.Abs, "/"+f.Rel) {
				t.root = strings.TrimSuffix(f.Abs, "/"+f.Rel)
			}
		}
		e := rpm.Entry{Path: path.Join(dest, f.Rel), Mode: normMode(f.Mode), Owner: opt.Owner.User, Group: opt.Owner.Group, MTime: f.MTime}
		// Spooled entries name their tree (for Open, sizes of overridden
		// files and error messages): their paths must derive from it, as
		// for every file scan.Walk lists.
		if !isJoin(f.Abs, t.root, f.Rel) || !isJoin(e.Path, dest, f.Rel) {
			return b.addTreeExtra(dest, e, f, opt)
		}
		e.Ref = ref
		if err := checkPath(&e, func() string { return f.Abs }); err != nil {
			return err
		}
		switch {
		case f.IsDir():
		case f.Link != "":
			e.Link = treeLink(dest, f.Link, opt)
		default:
			e.Size = f.Size // or the override's, when read back
		}
		e.MTime = b.mtime(e.MTime)
		rec = appendRecord(rec[:0], &e, user, group)
		n, err := b.spoolW.Write(rec)
		b.spoolOff += int64(n)
		t.n++
		if err != nil {
			return fmt.Errorf("payload: spool file: %w", err)
		}
		return nil
	})
	t.end = b.spoolOff
	return err
}

// treeLink is the target a tree's symlink gets in the package: one naming
// the build root (opt.BuildRoot) points at the same place under dest.
func treeLink(dest, link string, opt TreeOptions) string {
	if opt.BuildRoot != "" && (link == opt.BuildRoot || strings.HasPrefix(link, opt.BuildRoot+"/")) {
		return dest + strings.TrimPrefix(link, opt.BuildRoot)
	}
	return link
}

// addTreeExtra adds a file of a tree whose paths do not derive from it
// (not from scan.Walk) as an entry of its own.
func (b *Builder) addTreeExtra(dest string, e rpm.Entry, f scan.File, opt TreeOptions) error {
	switch {
	case f.IsDir():
	case f.Link != "":
		e.Link = treeLink(dest, f.Link, opt)
	default:
		if content, ok := opt.Override[f.Rel]; ok {
			e.Size = int64(len(content))
			e.Open = b.guard(e.Path, bytesOpener(content))
		} else {
			e.Size = f.Size
			e.Open = b.guard(e.Path, fileOpener(f.Abs))
		}
	}
	return b.add(e, f.Abs)
}

// SetOverride sets the Override of the tree added at dest (relocation
// finishes after the venv's walk).
func (b *Builder) SetOverride(dest string, override map[string][]byte) error {
	for _, t := range b.trees {
		if t.dest == dest {
			t.override = override
			return nil
		}
	}
	return fmt.Errorf("payload: no tree at %s", dest)
}

func (b *Builder) openSpool() error {
	if b.spool != nil {
		return nil
	}
	f, err := os.CreateTemp(b.TempDir, "rpmforge-entries-*")
	if err != nil {
		return fmt.Errorf("payload: spool file: %w", err)
	}
	b.spool, b.spoolW = f, bufio.NewWriterSize(f, 64<<10)
	return nil
}

func (b *Builder) name(s string) uint32 {
	if i, ok := b.nameIx[s]; ok {
		return i
	}
	i := uint32(len(b.names))
	b.names = append(b.names, s)
	b.nameIx[s] = i
	return i
}

// isJoin reports whether p is dir + "/" + rel, without building it.
func isJoin(p, dir, rel string) bool {
	return len(p) == len(dir)+1+len(rel) && p[len(dir)] == '/' && p[:len(dir)] == dir && p[len(dir)+1:] == rel
}

// A record is an entry of a tree: path, mode, owner and group (indexes of
// Builder.names), mtime (Unix seconds, UTC; 1<<63 for none), size, link,
// flags, ref.
func appendRecord(b []byte, e *rpm.Entry, user, group uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(e.Path)))
	b = append(b, e.Path...)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	b = binary.AppendUvarint(b, uint64(user))
	b = binary.AppendUvarint(b, uint64(group))
	if e.MTime.IsZero() {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, 1)
		b = binary.AppendVarint(b, e.MTime.Unix())
	}
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendUvarint(b, uint64(len(e.Link)))
	b = append(b, e.Link...)
	b = binary.AppendUvarint(b, uint64(e.Flags))
	b = binary.AppendUvarint(b, uint64(e.Ref))
	return b
}

// recordReader reads back the records of one tree.
type recordReader struct {
	r     *bufio.Reader
	b     *Builder
	t     *tree
	left  int
	buf   []byte
	owner string // last owner and group, to share their strings
	group string
}

func (b *Builder) records(t *tree) *recordReader {
	return &recordReader{r: bufio.NewReaderSize(io.NewSectionReader(b.spool, t.off, t.end-t.off), 64<<10), b: b, t: t, left: t.n}
}

var errRecord = errors.New("payload: spool file: corrupt record")

func (rr *recordReader) next(e *rpm.Entry) (bool, error) {
	if rr.left == 0 {
		return false, nil
	}
	rr.left--
	uv := func() uint64 {
		v, err := binary.ReadUvarint(rr.r)
		if err != nil {
			panic(errRecord)
		}
		return v
	}
	str := func() string {
		n := uv()
		if n > 1<<20 {
			panic(errRecord)
		}
		if cap(rr.buf) < int(n) {
			rr.buf = make([]byte, n)
		}
		buf := rr.buf[:n]
		if _, err := io.ReadFull(rr.r, buf); err != nil {
			panic(errRecord)
		}
		return string(buf)
	}
	name := func(last *string) string {
		i := uv()
		if i >= uint64(len(rr.b.names)) {
			panic(errRecord)
		}
		if s := rr.b.names[i]; s != *last {
			*last = s
		}
		return *last
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				if r != errRecord {
					panic(r)
				}
				err = errRecord
			}
		}()
		*e = rpm.Entry{}
		e.Path = str()
		e.Mode = fs.FileMode(uv())
		e.Owner = name(&rr.owner)
		e.Group = name(&rr.group)
		if uv() == 1 {
			v, verr := binary.ReadVarint(rr.r)
			if verr != nil {
				panic(errRecord)
			}
			e.MTime = time.Unix(v, 0).UTC()
		}
		size, serr := binary.ReadVarint(rr.r)
		if serr != nil {
			panic(errRecord)
		}
		e.Size = size
		e.Link = str()
		e.Flags = rpm.FileFlag(uv())
		e.Ref = uint32(uv())
	}()
	if err != nil {
		return false, err
	}
	if e.Mode.IsRegular() && rr.t.override != nil {
		if c, ok := rr.t.override[rr.t.rel(e)]; ok {
			e.Size = int64(len(c))
		}
	}
	return true, nil
}

// Open opens the contents of a regular file of a tree (Entry.Ref set), for
// rpm.Options.Open: the relocated content if the tree overrides it, else
// the file on disk.
func (b *Builder) Open(e *rpm.Entry) (io.ReadCloser, error) {
	if e.Ref == 0 || int(e.Ref) > len(b.trees) {
		return nil, fmt.Errorf("payload: %s: not a file of a tree", e.Path)
	}
	t := b.trees[e.Ref-1]
	rel := t.rel(e)
	var rc io.ReadCloser
	if content, ok := t.override[rel]; ok {
		rc = io.NopCloser(bytes.NewReader(content))
	} else {
		f, err := b.files.Open(t.root + "/" + rel)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	if b.Guard != nil {
		return b.Guard.reader(e.Path, rc), nil
	}
	return rc, nil
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
// A tree lists every directory above its files, so only the directories
// above the entries added one by one and above the trees are candidates.
func (b *Builder) OwnParents(under string, o Owner) error {
	cand := map[string]bool{}
	above := func(p string) {
		if !strings.HasPrefix(p, under+"/") {
			return
		}
		for d := path.Dir(p); d != under && strings.HasPrefix(d, under+"/"); d = path.Dir(d) {
			cand[d] = true
		}
	}
	for i := range b.extras {
		above(b.extras[i].e.Path)
	}
	for _, t := range b.trees {
		above(t.dest + "/x")
	}
	if len(cand) == 0 {
		return nil
	}
	// Drop the candidates present.
	if err := b.prepare(); err != nil {
		return err
	}
	err := b.each(func(_ int, e *rpm.Entry, _ int) error {
		delete(cand, e.Path)
		return nil
	}, false)
	if err != nil {
		return err
	}
	missing := make([]string, 0, len(cand))
	for d := range cand {
		missing = append(missing, d)
	}
	sort.Strings(missing)
	for _, d := range missing {
		if err := b.AddDir(d, o, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Has reports whether p is in the payload.
func (b *Builder) Has(p string) bool {
	found := false
	errFound := errors.New("found")
	if b.prepare() != nil {
		return false
	}
	b.each(func(_ int, e *rpm.Entry, _ int) error {
		if e.Path == p {
			found = true
			return errFound
		}
		return nil
	}, false)
	return found
}

// each merges the trees and the extras in path order, calling fn with each
// entry kept (the first added of directories added twice) and the
// insertion order of its source. With check, it reports any other path
// added twice.
//
// It only reads the Builder, so that the rpm writer may run it on two
// goroutines at once; prepare must have run since the last addition.
func (b *Builder) each(fn func(i int, e *rpm.Entry, seq int) error, check bool) error {
	if !b.sorted {
		return errors.New("payload: internal error: entries not prepared")
	}
	type head struct {
		e   rpm.Entry
		seq int
		ok  bool
		rr  *recordReader // nil for the extras
		x   int           // next extra
	}
	heads := make([]*head, 0, len(b.trees)+1)
	advance := func(h *head) error {
		if h.rr == nil {
			if h.x < len(b.extras) {
				h.e, h.seq, h.ok = b.extras[h.x].e, b.extras[h.x].seq, true
				h.x++
			} else {
				h.ok = false
			}
			return nil
		}
		ok, err := h.rr.next(&h.e)
		h.ok = ok
		return err
	}
	xh := &head{}
	heads = append(heads, xh)
	for _, t := range b.trees {
		heads = append(heads, &head{rr: b.records(t), seq: t.seq})
	}
	for _, h := range heads {
		if err := advance(h); err != nil {
			return err
		}
	}
	i := 0
	var kept rpm.Entry
	keptSeq := 0
	have := false
	for {
		// The smallest path; of equal ones, the first added.
		var m *head
		for _, h := range heads {
			if !h.ok {
				continue
			}
			if m == nil {
				m = h
				continue
			}
			if c := strings.Compare(h.e.Path, m.e.Path); c < 0 || c == 0 && h.seq < m.seq {
				m = h
			}
		}
		if m == nil {
			break
		}
		if have && m.e.Path == kept.Path {
			if !(kept.Mode.IsDir() && m.e.Mode.IsDir()) && check {
				return fmt.Errorf("payload: adding %s at %s: already present from %s (rename one or drop it in rpmforge.toml)",
					b.source(&m.e, m.seq), m.e.Path, b.source(&kept, keptSeq))
			}
			// the same directory from two trees: the first one stays
		} else {
			if have {
				if err := fn(i, &kept, keptSeq); err != nil {
					return err
				}
				i++
			}
			kept, keptSeq, have = m.e, m.seq, true
		}
		if err := advance(m); err != nil {
			return err
		}
	}
	if have {
		return fn(i, &kept, keptSeq)
	}
	return nil
}

// prepare flushes the spool file and sorts the extras, for each.
func (b *Builder) prepare() error {
	if b.spoolW != nil {
		if err := b.spoolW.Flush(); err != nil {
			return fmt.Errorf("payload: spool file: %w", err)
		}
	}
	if !b.sorted {
		slices.SortStableFunc(b.extras, func(x, y extra) int {
			if c := strings.Compare(x.e.Path, y.e.Path); c != 0 {
				return c
			}
			return x.seq - y.seq
		})
		b.sorted = true
	}
	return nil
}

// Source returns the payload for rpm.WriteSource, in path order, after
// checking that no path was added twice (but directories).
func (b *Builder) Source() (rpm.Source, error) {
	n := 0
	if err := b.prepare(); err != nil {
		return nil, err
	}
	if err := b.each(func(int, *rpm.Entry, int) error { n++; return nil }, true); err != nil {
		return nil, err
	}
	return &source{b: b, n: n}, nil
}

type source struct {
	b *Builder
	n int
}

func (s *source) Len() int { return s.n }

func (s *source) Each(fn func(i int, e *rpm.Entry) error) error {
	return s.b.each(func(i int, e *rpm.Entry, _ int) error { return fn(i, e) }, false)
}

// Entries returns the payload sorted by path, in memory.
func (b *Builder) Entries() ([]rpm.Entry, error) {
	var out []rpm.Entry
	if err := b.prepare(); err != nil {
		return nil, err
	}
	err := b.each(func(_ int, e *rpm.Entry, _ int) error { out = append(out, *e); return nil }, true)
	return out, err
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
