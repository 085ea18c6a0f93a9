package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rpmforge/rpmforge/internal/miniotest"
	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/s3store"
)

// big is a file larger than one read buffer, with random content.
var big = func() string {
	b := make([]byte, 1<<20+123)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return string(b)
}()

// fixture is a repository root: two channels, a pool, state, keys.
var fixture = map[string]string{
	"rpmforge-channels.toml":                 "name = \"test\"\n",
	"RPM-GPG-KEY-test":                       "-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
	"pool/ab/abcdef.rpm":                     big,
	"pool/cd/cdef01.rpm":                     "rpm two",
	"stable/Packages/two-1.0-1.x86_64.rpm":   "rpm two",
	"stable/repodata/1111-primary.xml.gz":    "primary stable",
	"stable/repodata/2222-filelists.xml.gz":  "filelists stable",
	"stable/repodata/repomd.xml":             "<repomd stable/>",
	"stable/repodata/repomd.xml.asc":         "sig stable",
	"stable/repodata/repomd.xml.key":         "key",
	"testing/repodata/3333-primary.xml.gz":   "primary testing",
	"testing/repodata/repomd.xml":            "<repomd testing/>",
	".rpmforge/pool.json":                    "{}",
	".rpmforge/channels/stable/history.json": "[]",
}

// skippedFiles are local to a root and never mirrored.
var skippedFiles = []string{
	".rpmforge/lock",
	".rpmforge/tmp/spool-1",
	".rpmforge/publish/stable/cache.json",
	"stable/repodata/.rpmforge-tmp-repomd.xml-42",
}

// symlinked is a channel package in symlink mode: a link into the pool.
const (
	symlinked       = "stable/Packages/one-1.0-1.x86_64.rpm"
	symlinkedTarget = "../../pool/ab/abcdef.rpm"
)

// want is what a mirror of the fixture holds.
func want() map[string]string {
	m := maps.Clone(fixture)
	m[symlinked] = big
	return m
}

func writeLocal(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// newSource makes a local root holding the fixture, a symlinked package
// and files that are not mirrored.
func newSource(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	writeLocal(t, root, fixture)
	for _, name := range skippedFiles {
		writeLocal(t, root, map[string]string{name: "local only"})
	}
	if err := os.Symlink(symlinkedTarget, filepath.Join(root, filepath.FromSlash(symlinked))); err != nil {
		t.Fatal(err)
	}
	return root
}

// readLocal returns every file under root (regular files and symlinks to
// them), skipped ones included, read independently of the package.
func readLocal(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		m[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readStore(t *testing.T, s *s3store.Store) map[string]string {
	t.Helper()
	ctx := context.Background()
	m := map[string]string{}
	err := s.Walk(ctx, "", func(o s3store.Object) error {
		rc, err := s.Open(ctx, o.Name)
		if err != nil {
			return err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		m[o.Name] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func diffTrees(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for _, name := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, name)
		case g != want[name]:
			t.Errorf("%s: %s differs: %d bytes, want %d", what, name, len(g), len(want[name]))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %s", what, name)
		}
	}
}

func dirTree(root string) *channel.DirStore { return channel.NewDirStore(root, channel.Hardlink, true) }

// side is one end of a sync under test.
type side struct {
	tree  Tree
	list  Lister
	read  func(t *testing.T) map[string]string // every stored file
	write func(t *testing.T, name, content string)
}

func dirSide(root string) side {
	return side{
		tree: dirTree(root), list: DirLister(root),
		read:  func(t *testing.T) map[string]string { return readLocal(t, root) },
		write: func(t *testing.T, name, c string) { writeLocal(t, root, map[string]string{name: c}) },
	}
}

func storeSide(s *s3store.Store) side {
	return side{
		tree: s, list: StoreLister(s),
		read: func(t *testing.T) map[string]string { return readStore(t, s) },
		write: func(t *testing.T, name, c string) {
			if err := s.WriteFile(context.Background(), name, strings.NewReader(c)); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// newStore starts MinIO (skipping t without the binary) and returns a
// function making stores under fresh prefixes of one bucket.
func newStore(t *testing.T) func(prefix string) *s3store.Store {
	t.Helper()
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "mirror")
	return func(prefix string) *s3store.Store {
		s, err := s3store.Open(context.Background(), "s3://mirror/"+prefix, s3store.Options{
			Client: srv.Client(), CacheDir: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func sync1(t *testing.T, src, dst side, opts Options) *Result {
	t.Helper()
	var progress []int
	total := -1
	opts.Progress = func(done, n int) { progress = append(progress, done); total = n }
	r, err := Sync(context.Background(), src.tree, src.list, dst.tree, dst.list, opts)
	if err != nil {
		t.Fatalf("Sync: %v", err)
	}
	n := len(r.Copied) + len(r.Unchanged) + len(r.Deleted)
	if len(progress) != n || total != n || (n > 0 && progress[n-1] != n) {
		t.Errorf("progress: %d calls, last total %d, for %d files", len(progress), total, n)
	}
	return r
}

func sortedNames(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// scenario runs the sequence every pair of stores must pass: first sync,
// second sync, a changed file, dry run, Delete.
func scenario(t *testing.T, src, dst side) {
	all := want()

	r := sync1(t, src, dst, Options{})
	if !slices.Equal(r.Copied, sortedNames(all)) || len(r.Unchanged) != 0 || len(r.Deleted) != 0 {
		t.Errorf("first sync: copied %q, unchanged %q, deleted %q; want all copied", r.Copied, r.Unchanged, r.Deleted)
	}
	var bytes int64
	for _, c := range all {
		bytes += int64(len(c))
	}
	if r.Bytes != bytes {
		t.Errorf("first sync: %d bytes, want %d", r.Bytes, bytes)
	}
	diffTrees(t, "after the first sync", dst.read(t), all)

	r = sync1(t, src, dst, Options{})
	if len(r.Copied) != 0 || !slices.Equal(r.Unchanged, sortedNames(all)) || r.Bytes != 0 {
		t.Errorf("second sync: copied %q, %d unchanged, %d bytes; want nothing copied", r.Copied, len(r.Unchanged), r.Bytes)
	}

	// Same size, other bytes: only the hash tells them apart.
	const changed = "stable/repodata/repomd.xml"
	src.write(t, changed, strings.ToUpper(all[changed]))
	all[changed] = strings.ToUpper(all[changed])
	// A destination file that differs in size.
	dst.write(t, "stable/repodata/1111-primary.xml.gz", "truncated")
	r = sync1(t, src, dst, Options{})
	if want := []string{"stable/repodata/1111-primary.xml.gz", changed}; !slices.Equal(r.Copied, want) {
		t.Errorf("changed files: copied %q, want %q", r.Copied, want)
	}
	diffTrees(t, "after the changed files", dst.read(t), all)

	extra := map[string]string{
		"old/repodata/repomd.xml":               "<repomd old/>",
		"old/repodata/9999-primary.xml.gz":      "primary old",
		"stable/Packages/gone-1.0-1.x86_64.rpm": "gone",
	}
	for name, c := range extra {
		dst.write(t, name, c)
	}
	dst.write(t, ".rpmforge/lock", "held by the destination")

	r = sync1(t, src, dst, Options{Delete: true, DryRun: true})
	if len(r.Copied) != 0 || !slices.Equal(r.Deleted, sortedNames(extra)) {
		t.Errorf("dry run: copied %q, deleted %q; want deleted %q", r.Copied, r.Deleted, sortedNames(extra))
	}
	withExtra := maps.Clone(all)
	maps.Copy(withExtra, extra)
	withExtra[".rpmforge/lock"] = "held by the destination"
	diffTrees(t, "after the dry run", dst.read(t), withExtra)

	r = sync1(t, src, dst, Options{})
	if len(r.Deleted) != 0 || len(r.Copied) != 0 {
		t.Errorf("without Delete: copied %q, deleted %q", r.Copied, r.Deleted)
	}
	r = sync1(t, src, dst, Options{Delete: true})
	if len(r.Copied) != 0 || !slices.Equal(r.Deleted, sortedNames(extra)) {
		t.Errorf("Delete: copied %q, deleted %q; want deleted %q", r.Copied, r.Deleted, sortedNames(extra))
	}
	all[".rpmforge/lock"] = "held by the destination" // never the source's, never removed
	diffTrees(t, "after Delete", dst.read(t), all)
}

func TestSyncDirToDir(t *testing.T) {
	src := dirSide(newSource(t))
	scenario(t, src, dirSide(t.TempDir()))
}

func TestSyncToNewDirectory(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "new", "root")
	r := sync1(t, dirSide(newSource(t)), dirSide(dst), Options{Delete: true})
	if len(r.Copied) != len(want()) {
		t.Errorf("copied %d files, want %d", len(r.Copied), len(want()))
	}
	diffTrees(t, "new destination", readLocal(t, dst), want())
	if fi, err := os.Lstat(filepath.Join(dst, filepath.FromSlash(symlinked))); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s in the destination: %v, %v; want a regular file", symlinked, fi, err)
	}
}

func TestSyncS3(t *testing.T) {
	store := newStore(t)
	local := newSource(t)

	t.Run("dir to s3", func(t *testing.T) {
		s := store("root")
		scenario(t, dirSide(local), storeSide(s))
		ops := s.Ops()
		if len(ops) == 0 {
			t.Fatal("no operations recorded")
		}
		// The last sync changed nothing: a final one writes nothing.
		sync1(t, dirSide(local), storeSide(s), Options{Delete: true})
		if ops := s.Ops(); len(ops) != 0 {
			t.Errorf("sync of an identical tree changed objects: %q", ops)
		}
	})

	t.Run("s3 round trip", func(t *testing.T) {
		s := store("deep/prefix")
		sync1(t, dirSide(newSource(t)), storeSide(s), Options{})
		diffTrees(t, "bucket", readStore(t, s), want())

		back := t.TempDir()
		r := sync1(t, storeSide(s), dirSide(back), Options{Delete: true})
		if len(r.Copied) != len(want()) {
			t.Errorf("copied %d files back, want %d", len(r.Copied), len(want()))
		}
		diffTrees(t, "round trip", readLocal(t, back), want())

		// And the copy back up again changes nothing.
		r = sync1(t, dirSide(back), storeSide(s), Options{Delete: true})
		if len(r.Copied)+len(r.Deleted) != 0 {
			t.Errorf("re-upload: copied %q, deleted %q", r.Copied, r.Deleted)
		}
	})

	t.Run("s3 to s3", func(t *testing.T) {
		a, b := store("a"), store("b")
		sync1(t, dirSide(newSource(t)), storeSide(a), Options{})
		storeSide(a).write(t, ".rpmforge/lock", "lease")
		sync1(t, storeSide(a), storeSide(b), Options{Delete: true})
		diffTrees(t, "s3 to s3", readStore(t, b), want())
	})
}

// recorder is a destination that records the start and end of every write.
type recorder struct {
	Tree
	mu     sync.Mutex
	events []string // "start NAME", "end NAME", "remove NAME"
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) WriteFile(ctx context.Context, name string, rd io.Reader) error {
	r.add("start " + name)
	defer r.add("end " + name)
	return r.Tree.WriteFile(ctx, name, rd)
}

func (r *recorder) Remove(ctx context.Context, name string) error {
	r.add("remove " + name)
	return r.Tree.Remove(ctx, name)
}

func TestOrder(t *testing.T) {
	src := newSource(t)
	// More files than workers, so that phases would overlap without the
	// barriers.
	for i := range 20 {
		writeLocal(t, src, map[string]string{
			fmt.Sprintf("pool/%02d/p%d.rpm", i, i):           strings.Repeat("x", i*1000),
			fmt.Sprintf("ch%d/repodata/repomd.xml", i%3):     fmt.Sprintf("repomd %d", i%3),
			fmt.Sprintf("ch%d/repodata/repomd.xml.asc", i%3): fmt.Sprintf("sig %d", i%3),
		})
	}
	dstRoot := t.TempDir()
	writeLocal(t, dstRoot, map[string]string{
		"gone/repodata/repomd.xml":     "old",
		"gone/repodata/repomd.xml.asc": "old sig",
		"gone/repodata/1-primary.xml":  "old primary",
	})
	rec := &recorder{Tree: dirTree(dstRoot)}
	if _, err := Sync(context.Background(), dirTree(src), DirLister(src), rec, DirLister(dstRoot), Options{Delete: true}); err != nil {
		t.Fatal(err)
	}

	pos := map[string]int{}
	for i, e := range rec.events {
		pos[e] = i
	}
	var lastOther, lastAsc, firstRemove = -1, -1, len(rec.events)
	for i, e := range rec.events {
		op, name, _ := strings.Cut(e, " ")
		switch {
		case op == "remove":
			firstRemove = min(firstRemove, i)
		case op == "end" && phase(name) == 0:
			lastOther = i
		case op == "end" && phase(name) == 1:
			lastAsc = i
		}
	}
	n := 0
	for i, e := range rec.events {
		op, name, _ := strings.Cut(e, " ")
		switch {
		case op == "start" && path.Base(name) == "repomd.xml":
			n++
			if i < lastOther || i < lastAsc {
				t.Errorf("%s written at %d, before the last other file (%d) or signature (%d) was complete", name, i, lastOther, lastAsc)
			}
			if _, signed := fixture[name+".asc"]; signed || strings.HasPrefix(name, "ch") {
				if end, ok := pos["end "+name+".asc"]; !ok || end > i {
					t.Errorf("%s written before its signature (%v)", name, ok)
				}
			}
		case op == "start" && phase(name) == 1 && i < lastOther:
			t.Errorf("%s written at %d, before the last other file (%d) was complete", name, i, lastOther)
		case op == "start" && i > firstRemove:
			t.Errorf("%s written after a removal", name)
		}
	}
	if n != 5 { // stable, testing, ch0, ch1, ch2
		t.Errorf("%d repomd.xml written, want 5", n)
	}
	removes := rec.events[firstRemove:]
	wantRemoves := []string{"remove gone/repodata/1-primary.xml", "remove gone/repodata/repomd.xml.asc", "remove gone/repodata/repomd.xml"}
	if !slices.Equal(removes, wantRemoves) {
		t.Errorf("removals %q, want %q", removes, wantRemoves)
	}
}

// corrupt is a destination that stores something other than it is given
// for one file.
type corrupt struct {
	Tree
	name string
}

func (c corrupt) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if name != c.name {
		return c.Tree.WriteFile(ctx, name, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	b[0] ^= 1
	return c.Tree.WriteFile(ctx, name, bytes.NewReader(b))
}

// short stores only the first bytes of one file, and says it succeeded.
type short struct {
	Tree
	name string
}

func (s short) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if name == s.name {
		r = io.LimitReader(r, 3)
	}
	return s.Tree.WriteFile(ctx, name, r)
}

// failing is a tree whose Open and WriteFile fail for one file.
type failing struct {
	Tree
	name string
}

var errBroken = errors.New("disk on fire")

func (f failing) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if name == f.name {
		return nil, errBroken
	}
	return f.Tree.Open(ctx, name)
}

func (f failing) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if name == f.name {
		return errBroken
	}
	return f.Tree.WriteFile(ctx, name, r)
}

// streaming hides that a source file is an *os.File (as an S3 body is).
type streaming struct{ Tree }

func (s streaming) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	rc, err := s.Tree.Open(ctx, name)
	return struct{ io.ReadCloser }{rc}, err
}

func TestSyncErrors(t *testing.T) {
	const pkg = "pool/cd/cdef01.rpm"
	tests := []struct {
		name     string
		src, dst func(Tree) Tree
		wantErr  []string // substrings
		wantIs   error
		early    bool // failed before the repomd.xml phases
	}{
		{"corrupted copy", nil, func(d Tree) Tree { return corrupt{d, pkg} }, []string{"verifying " + pkg + " in the destination", "SHA-256"}, nil, true},
		{"corrupted copy, streamed source", func(s Tree) Tree { return streaming{s} }, func(d Tree) Tree { return corrupt{d, pkg} }, []string{"verifying " + pkg + " in the destination"}, nil, true},
		{"short copy", func(s Tree) Tree { return streaming{s} }, func(d Tree) Tree { return short{d, pkg} }, []string{"verifying " + pkg + " in the destination", "(3 bytes)"}, nil, true},
		{"unreadable source", func(s Tree) Tree { return failing{s, pkg} }, nil, []string{"reading " + pkg + " from the source"}, errBroken, true},
		{"unwritable destination", nil, func(d Tree) Tree { return failing{d, pkg} }, []string{"writing " + pkg + " to the destination"}, errBroken, true},
		{"repomd.xml not writable", nil, func(d Tree) Tree { return failing{d, "stable/repodata/repomd.xml"} }, []string{"writing stable/repodata/repomd.xml to the destination"}, errBroken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srcRoot, dstRoot := newSource(t), t.TempDir()
			var src, dst Tree = dirTree(srcRoot), dirTree(dstRoot)
			if tt.src != nil {
				src = tt.src(src)
			}
			if tt.dst != nil {
				dst = tt.dst(dst)
			}
			_, err := Sync(context.Background(), src, DirLister(srcRoot), dst, DirLister(dstRoot), Options{})
			if err == nil {
				t.Fatal("Sync succeeded")
			}
			msg := err.Error()
			for _, s := range tt.wantErr {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not contain %q", msg, s)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q has more than one line", msg)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", msg, tt.wantIs)
			}
			// A failed phase stops the sync: no repomd.xml replaced.
			if tt.early {
				for name := range readLocal(t, dstRoot) {
					if path.Base(name) == "repomd.xml" || path.Base(name) == "repomd.xml.asc" {
						t.Errorf("%s written after a failed copy", name)
					}
				}
			}
		})
	}
}

func TestDeleteRefusesEmptySource(t *testing.T) {
	src, dstRoot := t.TempDir(), t.TempDir()
	writeLocal(t, dstRoot, fixture)
	_, err := Sync(context.Background(), dirTree(src), DirLister(src), dirTree(dstRoot), DirLister(dstRoot), Options{Delete: true})
	if err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("Sync from an empty source with Delete: %v", err)
	}
	diffTrees(t, "destination", readLocal(t, dstRoot), fixture)
}

func TestDirLister(t *testing.T) {
	ctx := context.Background()
	list := func(root string) (map[string]int64, error) { return collect(ctx, DirLister(root)) }

	root := newSource(t)
	got, err := list(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range skippedFiles {
		if _, ok := got[name]; ok {
			t.Errorf("%s listed", name)
		}
	}
	if got[symlinked] != int64(len(big)) {
		t.Errorf("%s: size %d, want the target's %d", symlinked, got[symlinked], len(big))
	}
	if len(got) != len(want()) {
		t.Errorf("%d files listed, want %d", len(got), len(want()))
	}

	if _, err := list(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing root: %v, want fs.ErrNotExist", err)
	}

	dangling := newSource(t)
	os.Symlink("nowhere", filepath.Join(dangling, "stable", "Packages", "x.rpm"))
	if _, err := list(dangling); err == nil || !strings.Contains(err.Error(), "x.rpm") {
		t.Errorf("dangling symlink: %v", err)
	}

	// A missing source is an error even though a missing destination is
	// an empty one.
	_, err = Sync(ctx, dirTree(root), DirLister(filepath.Join(root, "missing")), dirTree(t.TempDir()), DirLister(t.TempDir()), Options{})
	if err == nil || !strings.Contains(err.Error(), "source") {
		t.Errorf("missing source: %v", err)
	}
}
