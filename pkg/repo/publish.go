package repo

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Signer signs repomd.xml; *sign.Key is one.
type Signer interface {
	// SignDetachedArmored writes an ASCII-armored detached signature of
	// what r yields to w (repomd.xml.asc).
	SignDetachedArmored(r io.Reader, w io.Writer) error
	// WritePublic writes the ASCII-armored public key.
	WritePublic(w io.Writer) error
	// Fingerprint identifies the key.
	Fingerprint() string
}

// Progress receives progress reports; the CLI's terminal progress is one.
type Progress interface {
	Step(name string)
	Bytes(done, total int64)
}

// DefaultChangelogLimit is createrepo_c's --changelog-limit default.
const DefaultChangelogLimit = 10

// ChangelogNone asks for no changelog entries at all.
const ChangelogNone = -2

// DefaultKeepGenerations is how many repomd.xml generations' files are kept.
const DefaultKeepGenerations = 3

// Options configure Publish. The zero value publishes gzip metadata with
// 10 changelog entries per package, unsigned, keeping 3 generations.
type Options struct {
	Compression Compression // "" means Gzip
	// ChangelogLimit is the number of newest changelog entries kept per
	// package: 0 means DefaultChangelogLimit, -1 all, ChangelogNone none.
	ChangelogLimit int
	// Database also writes the sqlite databases (primary_db, filelists_db,
	// other_db) that yum 3 prefers; dnf and zypper never download them.
	Database bool
	// Signer, if set, signs repomd.xml (repodata/repomd.xml.asc) and its
	// public key is published as KeyName at the root and as
	// repodata/repomd.xml.key (where zypper looks for it).
	Signer  Signer
	KeyName string // default "RPM-GPG-KEY"
	// KeepGenerations is how many repomd.xml generations, the new one
	// included, keep their files, so that a client or proxy holding an
	// older repomd.xml does not get 404s (default DefaultKeepGenerations;
	// minimum 1).
	KeepGenerations int
	// NoWait fails with ErrLocked instead of waiting for another publish.
	NoWait bool
	// Strict fails the publish when a file is not a valid package; by
	// default such files are reported in Result.Skipped and left out.
	Strict bool
	// StateDir holds the lock and the cache; default DIR/.rpmforge.
	StateDir string
	// Storage is where repodata is written; default the directory itself.
	Storage Storage
	// Revision is repomd.xml's <revision>; default the current Unix time.
	Revision string
	// NoSync skips fsync (tests only: a crash may then lose the repo).
	NoSync   bool
	Progress Progress
	// Workers is the number of packages read in parallel; default
	// GOMAXPROCS.
	Workers int
	// Exclude, if set, leaves out of the scan the package files (by href)
	// for which it returns true; they stay where they are. pkg/channel uses
	// it to keep a package the previous repomd.xml names in place until the
	// new repomd.xml has replaced it.
	Exclude func(href string) bool
	// Files, if not nil, are the packages to publish instead of those found
	// under the directory: objects in a bucket, a channel's pool objects.
	// Publish then needs no local directory (dir only names the
	// repository in messages) and StateDir must be set.
	Files []PackageFile

	// racyWindow overrides defaultRacyWindow (tests); negative disables.
	racyWindow time.Duration
}

// PackageFile is a package given to Publish (Options.Files) rather than found.
type PackageFile struct {
	Href  string // its location in the repository
	Size  int64
	Mtime time.Time // primary.xml's <time file>
	// ID changes whenever the bytes do (an object's ETag, its SHA-256):
	// a cached package with the same href, ID, size and mtime is not read
	// again.
	ID string
	// SHA256, if known, must be what is read.
	SHA256 string
	Open   func(ctx context.Context) (io.ReadCloser, error)
}

// Skipped is a file left out of the repository.
type Skipped struct {
	Path string
	Err  error
}

func (s Skipped) Error() string { return s.Path + ": " + s.Err.Error() }

// Result describes a publish.
type Result struct {
	Packages int // in the published repodata
	// Added, Changed and Removed list package hrefs against the previous
	// publish (when there was one).
	Added, Changed, Removed []string
	Read                    int // packages read (hashed and parsed) in this run
	Skipped                 []Skipped
	// Unchanged is set when nothing changed: no file was written.
	Unchanged    bool
	Revision     string
	Repomd       *Repomd
	Written      []string // files written, relative to the repository root
	Deleted      []string // files removed after their grace period
	Chunks       int      // chunks of packages in each metadata file
	ChunksReused int      // of which were taken from the cache as they were
}

func (o *Options) fill(dir string) error {
	var err error
	if o.Compression, err = ParseCompression(string(o.Compression)); err != nil {
		return err
	}
	if o.ChangelogLimit == 0 {
		o.ChangelogLimit = DefaultChangelogLimit
	}
	if o.ChangelogLimit < -2 {
		return fmt.Errorf("repo: changelog limit %d: want -1 (all) or more", o.ChangelogLimit)
	}
	if o.KeepGenerations == 0 {
		o.KeepGenerations = DefaultKeepGenerations
	}
	if o.KeepGenerations < 1 {
		return fmt.Errorf("repo: keep-generations %d: want at least 1", o.KeepGenerations)
	}
	if o.KeyName == "" {
		o.KeyName = "RPM-GPG-KEY"
	}
	if o.StateDir == "" {
		if o.Files != nil {
			return errors.New("repo: publishing listed files needs a state directory")
		}
		o.StateDir = filepath.Join(dir, ".rpmforge")
	}
	if o.Files != nil && o.Storage == nil {
		return errors.New("repo: publishing listed files needs a storage")
	}
	if o.Storage == nil {
		o.Storage = &DirStorage{Root: dir, NoSync: o.NoSync}
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.racyWindow == 0 {
		o.racyWindow = defaultRacyWindow
	}
	if o.Progress == nil {
		o.Progress = nopProgress{}
	}
	return nil
}

func (o *Options) readLimit() int {
	if o.ChangelogLimit == ChangelogNone {
		return 0
	}
	return o.ChangelogLimit
}

type nopProgress struct{}

func (nopProgress) Step(string)        {}
func (nopProgress) Bytes(int64, int64) {}

const repomdName = "repodata/repomd.xml"

// crashHook, set only by tests (in a child process they kill), is called at
// the named steps of a publish.
var crashHook func(step string)

func step(name string) {
	if crashHook != nil {
		crashHook(name)
	}
}

// Publish writes the repodata of the RPM packages under dir (searched
// recursively) so that yum, dnf and zypper can use dir as a repository.
//
// New metadata files get unique, content-addressed names; repomd.xml is
// replaced last, atomically, and signed when opts.Signer is set. The files
// of the previous opts.KeepGenerations-1 repomd.xml generations are kept.
// An exclusive lock serialises publishers of the same directory.
//
// What was read is cached in opts.StateDir: unchanged packages (same
// device, inode, size, mtime and ctime) are neither read nor rendered, and
// their compressed metadata is reused chunk by chunk. When nothing changed,
// nothing is written.
func Publish(ctx context.Context, dir string, opts Options) (*Result, error) {
	if err := opts.fill(dir); err != nil {
		return nil, err
	}
	if opts.Files == nil {
		if st, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("repo: %w", err)
		} else if !st.IsDir() {
			return nil, fmt.Errorf("repo: %s is not a directory", dir)
		}
	}
	unlock, err := lockRepo(ctx, opts.StateDir, opts.NoWait, func(holder string) {
		opts.Progress.Step("waiting for " + holder + " to finish publishing")
	})
	if err != nil {
		return nil, fmt.Errorf("repo: %s: %w", dir, err)
	}
	defer unlock()
	p := &publisher{dir: dir, opts: &opts, st: &stateDir{dir: opts.StateDir}, store: opts.Storage}
	res, err := p.run(ctx)
	if errors.Is(err, errBadChunk) {
		// A damaged cache chunk was removed before anything was written:
		// once more, reading the packages it held.
		p.built.Store(0)
		p.fused = nil
		res, err = p.run(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("repo: publish %s: %w", dir, err)
	}
	return res, nil
}

type publisher struct {
	dir   string
	opts  *Options
	st    *stateDir
	store Storage
	now   time.Time
	built atomic.Int64 // chunks built (not taken from the cache) in this run
	fused *fusedOut    // the metadata files assembled while reading, if done
}

// fusedOut is the metadata assembled while the packages were read,
// assuming n valid packages in the chunks of keys.
type fusedOut struct {
	n    int
	keys []string
	out  *[numKinds]*output
}

// item is one package of the new repodata.
type item struct {
	e     stateEntry
	key   [32]byte
	frags *[numKinds][]byte // freshly rendered; nil when cached
}

func (p *publisher) settings() string {
	fp := ""
	if p.opts.Signer != nil {
		fp = p.opts.Signer.Fingerprint()
	}
	return fmt.Sprintf("v%d compress=%s changelog=%d db=%t key=%s/%s", stateVersion, p.opts.Compression,
		p.opts.ChangelogLimit, p.opts.Database, fp, p.opts.KeyName)
}

// renderKey identifies a package's fragments: they depend on its content
// (pkgid), its location, mtime and size, and the changelog limit.
func (p *publisher) renderKey(pkgid, href string, mtimeNs, size int64) [32]byte {
	// The same bytes as fmt.Fprintf(h, "rpmforge-render-%d\x00%d\x00%s\x00%s\x00%d\x00%d", ...),
	// without its allocations (it runs for every package of every publish).
	var stack [256]byte
	b := append(stack[:0], "rpmforge-render-"...)
	b = strconv.AppendInt(b, stateVersion, 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, int64(p.opts.ChangelogLimit), 10)
	b = append(b, 0)
	b = append(b, pkgid...)
	b = append(b, 0)
	b = append(b, href...)
	b = append(b, 0)
	b = strconv.AppendInt(b, time.Unix(0, mtimeNs).Unix(), 10)
	b = append(b, 0)
	b = strconv.AppendInt(b, size, 10)
	return sha256.Sum256(b)
}

// keyIs reports whether hexKey(k) == s, without allocating.
func keyIs(k [32]byte, s string) bool {
	var h [64]byte
	hex.Encode(h[:], k[:])
	return string(h[:]) == s
}

func (p *publisher) run(ctx context.Context) (*Result, error) {
	p.now = time.Now()
	res := &Result{}
	o := p.opts
	var files []pkgFile
	var bad []Skipped
	if o.Files != nil {
		files = listedFiles(o.Files)
	} else {
		o.Progress.Step("scanning " + p.dir)
		var err error
		if files, bad, err = scanDir(p.dir); err != nil {
			return nil, err
		}
	}
	if o.Exclude != nil {
		files = slices.DeleteFunc(files, func(f pkgFile) bool { return o.Exclude(f.href) })
	}
	res.Skipped = append(res.Skipped, bad...)
	step("scanned")
	prev := p.st.load()
	settings := p.settings()
	byHref := make(map[string]*stateEntry, len(prev.Packages))
	for i := range prev.Packages {
		byHref[prev.Packages[i].Href] = &prev.Packages[i]
	}

	// Decide what must be read.
	items := make([]item, len(files))
	var toRead []int
	chunkOK := map[string]bool{}
	for i, f := range files {
		e := byHref[f.href]
		if e != nil && !e.Racy && e.Dev == f.dev && e.Ino == f.ino && e.Size == f.size &&
			e.Mtime == f.mtimeNs && e.Ctime == f.ctimeNs {
			key := p.renderKey(e.PkgID, f.href, f.mtimeNs, f.size)
			ok, seen := chunkOK[e.Chunk]
			if !seen {
				ok = p.st.hasChunk(e.Chunk)
				chunkOK[e.Chunk] = ok
			}
			if keyIs(key, e.Key) && ok {
				items[i] = item{e: *e, key: key}
				continue
			}
		}
		toRead = append(toRead, i)
	}

	// Chunks are cut at content-defined boundaries over the files found
	// (a package ends a chunk when its href hashes to 0 modulo chunkAvg), so
	// that adding or removing a package changes one chunk.
	spans := cutChunks(files)

	// Read new and changed packages in parallel, and build the chunks they
	// are in as soon as their packages are read (memory stays bounded).
	if len(toRead) > 0 {
		o.Progress.Step(fmt.Sprintf("reading %d packages", len(toRead)))
		if err := p.readAndBuild(ctx, files, items, spans, toRead, res); err != nil {
			return nil, err
		}
	}
	if o.Strict && len(res.Skipped) > 0 {
		msgs := make([]string, 0, len(res.Skipped))
		for _, s := range res.Skipped {
			msgs = append(msgs, s.Error())
		}
		return nil, fmt.Errorf("%d invalid files (strict: nothing was published): %s", len(res.Skipped), strings.Join(msgs, "; "))
	}
	step("read")
	// The files that could not be read are left out.
	groups, keys := p.groups(items, spans)
	var valid []*item
	for _, g := range groups {
		valid = append(valid, g...)
	}
	res.Packages = len(valid)
	res.Chunks = len(groups)
	diffPackages(prev, valid, res)

	current, currentSum, err := p.readCurrentRepomd(ctx)
	if err != nil {
		return nil, err
	}
	allCached := true
	for _, k := range keys {
		if ok, seen := chunkOK[k]; !(ok || !seen && p.st.hasChunk(k)) {
			allCached = false
			break
		}
	}
	if current != nil && prev.Repomd == currentSum && prev.Settings == settings && slices.Equal(prev.Chunks, keys) &&
		allCached && p.filesPresent(ctx, current) && p.signatureIntact(ctx, prev) {
		res.Unchanged = true
		res.Revision = current.Revision
		res.Repomd = current
		res.ChunksReused = len(groups)
		if res.Read > 0 {
			// Only the cache learnt something (a racy file read again).
			prev.Packages = entries(groups, keys)
			if err := p.st.save(prev, true); err != nil {
				return nil, err
			}
		}
		return res, nil
	}

	// Load or build the chunks and assemble the three metadata files.
	o.Progress.Step("writing metadata")
	var out *[numKinds]*output
	if f := p.fused; f != nil && f.n == len(valid) && slices.Equal(f.keys, keys) {
		out = f.out
	} else if out, err = p.assemble(ctx, groups, keys, len(valid), res); err != nil {
		return nil, err
	}
	res.ChunksReused = len(groups) - int(p.built.Load())
	step("chunks-written")
	newState := &state{Version: stateVersion, Settings: settings, Chunks: keys, Packages: entries(groups, keys)}

	// The three files are written (and synced) concurrently.
	recs := make([]Record, numKinds)
	var werr [numKinds]error
	var written [numKinds][]string
	var wg sync.WaitGroup
	for k := range numKinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r Result
			recs[k], werr[k] = p.writeData(ctx, kindNames[k], out[k], current, &r)
			written[k] = r.Written
		}()
	}
	wg.Wait()
	for k := range numKinds {
		if werr[k] != nil {
			return nil, werr[k]
		}
		res.Written = append(res.Written, written[k]...)
	}
	step("data-written")
	if o.Database {
		o.Progress.Step("writing sqlite databases")
		dbRecs, err := p.writeDatabases(ctx, valid, recs, current, res)
		if err != nil {
			return nil, err
		}
		recs = append(recs, dbRecs...)
	}
	// Carry over records other tools added (updateinfo, modules, comps).
	if current != nil {
		for _, r := range current.Records {
			if !ownRecord(r.Type) {
				recs = append(recs, r)
			}
		}
	}
	if current != nil && prev.Repomd == currentSum && prev.Settings == settings && sameRecords(current, recs) &&
		p.filesPresent(ctx, current) && p.signatureIntact(ctx, prev) {
		// The same metadata as published (the cache was rebuilt, or a
		// racy file read again): repomd.xml stays as it is.
		res.Unchanged, res.Revision, res.Repomd = true, current.Revision, current
		newState.Repomd, newState.Asc, newState.Generations = currentSum, prev.Asc, prev.Generations
		if err := p.st.save(newState, true); err != nil {
			return nil, err
		}
		return res, nil
	}
	rev := o.Revision
	if rev == "" {
		rev = fmt.Sprint(p.now.Unix())
	}
	md := &Repomd{Revision: rev, Records: recs}
	sum, ascSum, err := p.writeRepomd(ctx, md, res)
	if err != nil {
		return nil, err
	}
	res.Revision, res.Repomd = rev, md
	newState.Repomd, newState.Asc = sum, ascSum

	// Generations: the new one first, then the one we just replaced if we
	// did not write it (another tool did, or the state was lost), then
	// the older ones we remember.
	gen := recordFiles(md)
	gens := [][]string{gen}
	if current != nil && currentSum != prev.Repomd {
		gens = append(gens, recordFiles(current))
	}
	gens = append(gens, prev.Generations...)
	step("repomd-written")
	if err := p.collect(ctx, gens, res); err != nil {
		return nil, err
	}
	step("collected")
	newState.Generations = gens[:min(len(gens), o.KeepGenerations)]
	// The state is not synced: if it is lost, the next publish reads every
	// package again and forgets older generations (their files stay).
	if err := p.st.save(newState, true); err != nil {
		return nil, err
	}
	keep := map[string]bool{}
	for _, k := range keys {
		keep[k] = true
	}
	step("state-saved")
	p.st.gcChunks(keep)
	return res, nil
}

// sameRecords reports whether md has exactly the records recs (by type,
// location and checksum) plus records of other tools.
func sameRecords(md *Repomd, recs []Record) bool {
	n := 0
	for _, r := range md.Records {
		if ownRecord(r.Type) {
			n++
		}
	}
	if n != len(recs) {
		return false
	}
	for _, r := range recs {
		c := md.Record(r.Type)
		if c == nil || c.Location != r.Location || c.Checksum != r.Checksum || c.OpenChecksum != r.OpenChecksum {
			return false
		}
	}
	return true
}

func ownRecord(t string) bool {
	switch t {
	case "primary", "filelists", "other", "primary_db", "filelists_db", "other_db",
		"primary_zck", "filelists_zck", "other_zck":
		return true
	}
	return false
}

func recordFiles(md *Repomd) []string {
	var out []string
	for _, r := range md.Records {
		out = append(out, r.Location)
	}
	return out
}

// readCurrentRepomd reads the published repomd.xml, if any, and its SHA-256.
// An unparsable one is treated as absent (and replaced).
func (p *publisher) readCurrentRepomd(ctx context.Context) (*Repomd, string, error) {
	rc, err := p.store.Open(ctx, repomdName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, "", err
	}
	md, err := ParseRepomd(b)
	if err != nil {
		return nil, "", nil
	}
	s := sha256.Sum256(b)
	return md, hex.EncodeToString(s[:]), nil
}

// filesPresent checks that the files md names exist with their sizes.
func (p *publisher) filesPresent(ctx context.Context, md *Repomd) bool {
	for _, r := range md.Records {
		n, err := p.store.Stat(ctx, r.Location)
		if err != nil || n != r.Size {
			return false
		}
	}
	return true
}

// signatureIntact reports whether repomd.xml.asc is the one last written
// (or absent when publishing unsigned).
func (p *publisher) signatureIntact(ctx context.Context, prev *state) bool {
	b, err := readAll(ctx, p.store, repomdName+".asc")
	if p.opts.Signer == nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	if err != nil {
		return false
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]) == prev.Asc
}

// diffPackages fills Added, Changed and Removed.
func diffPackages(prev *state, items []*item, res *Result) {
	if len(prev.Packages) == 0 {
		for _, it := range items {
			res.Added = append(res.Added, it.e.Href)
		}
		return
	}
	old := make(map[string]string, len(prev.Packages))
	for _, e := range prev.Packages {
		old[e.Href] = e.PkgID
	}
	for _, it := range items {
		id, ok := old[it.e.Href]
		switch {
		case !ok:
			res.Added = append(res.Added, it.e.Href)
		case id != it.e.PkgID:
			res.Changed = append(res.Changed, it.e.Href)
		}
		delete(old, it.e.Href)
	}
	for h := range old {
		res.Removed = append(res.Removed, h)
	}
	slices.Sort(res.Removed)
}

var errChanged = errors.New("file changed while it was being read")

// defaultRacyWindow is how close to a file's last change a read is taken
// as possibly missing a rewrite of the same size within the timestamp
// granularity (coarse kernel clock ticks on ext4 and xfs, 1 s on some
// network file systems, 2 s on FAT): such a file is read again next time.
const defaultRacyWindow = 2 * time.Second

func (p *publisher) readOne(ctx context.Context, f pkgFile, buf, fileBuf *[]byte) (item, error) {
	if f.listed != nil {
		return p.readListed(ctx, f, buf, fileBuf)
	}
	// Raw system calls: os.Open would also try to register the file with
	// the poller, and io.ReadFull of size+1 bytes costs one more read than
	// needed; a file that grows meanwhile is told by the second fstat.
	fd, err := openRead(f.path)
	if err != nil {
		return item{}, &fs.PathError{Op: "open", Path: f.path, Err: err}
	}
	defer syscall.Close(fd)
	var st syscall.Stat_t
	if err := fstat(fd, &st); err != nil {
		return item{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	f = pkgFileFromStat(f.href, f.path, &st)
	mtime := time.Unix(0, f.mtimeNs).Unix()
	opts := ReadOptions{ChangelogLimit: p.opts.readLimit()}
	var pkg *Package
	switch {
	case f.size < 96 || f.size > wholeFileLimit:
		pkg, err = readPackageFrom(fdReader(fd), f.size, mtime, f.href, opts, nil)
	default:
		if int64(cap(*fileBuf)) < f.size {
			*fileBuf = make([]byte, f.size)
		}
		data := (*fileBuf)[:f.size]
		if err := readFull(fd, data); err != nil {
			if errors.Is(err, errChanged) {
				return item{}, err
			}
			return item{}, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		// The package is rendered below, before fileBuf is reused: its
		// strings may point into it.
		pkg, err = packageFromBytes(data, mtime, f.href, opts, true)
	}
	if err != nil {
		return item{}, err
	}
	if err := fstat(fd, &st); err != nil {
		return item{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	if g := pkgFileFromStat(f.href, f.path, &st); g != f {
		return item{}, fmt.Errorf("%w: %w", ErrInvalid, errChanged)
	}
	now, window := time.Now().UnixNano(), int64(p.opts.racyWindow)
	racy := now-f.mtimeNs < window || now-f.ctimeNs < window
	return p.render(f, pkg, racy, buf), nil
}

// render makes a read package's item: its fragments and cache entry.
func (p *publisher) render(f pkgFile, pkg *Package, racy bool, buf *[]byte) item {
	// The three fragments are rendered one after the other and copied
	// out in one allocation.
	var ends [numKinds]int
	*buf = (*buf)[:0]
	for k := range numKinds {
		*buf = appendKind(*buf, k, pkg)
		ends[k] = len(*buf)
	}
	all := bytes.Clone(*buf)
	var frags [numKinds][]byte
	start := 0
	for k := range numKinds {
		frags[k] = all[start:ends[k]:ends[k]]
		start = ends[k]
	}
	key := p.renderKey(pkg.PkgID, f.href, f.mtimeNs, f.size)
	return item{
		e: stateEntry{Href: f.href, Dev: f.dev, Ino: f.ino, Size: f.size, Mtime: f.mtimeNs, Ctime: f.ctimeNs,
			Racy: racy, PkgID: pkg.PkgID, Key: hexKey(key)},
		key: key, frags: &frags,
	}
}

// Chunking: a chunk ends after a package whose href hashes to 0 modulo
// chunkAvg, or when it reaches chunkMax packages.
const (
	chunkAvg = 64
	chunkMax = 256
)

type span struct{ start, end int }

// cutChunks cuts the files into chunks.
func cutChunks(files []pkgFile) []span {
	var out []span
	start := 0
	for i := range files {
		h := fnv.New32a()
		h.Write([]byte(files[i].href))
		if h.Sum32()%chunkAvg == 0 || i+1-start >= chunkMax || i == len(files)-1 {
			out = append(out, span{start, i + 1})
			start = i + 1
		}
	}
	return out
}

// groups returns, for each chunk, its packages that could be read (chunks
// left empty are dropped), and the chunks' keys.
func (p *publisher) groups(items []item, spans []span) ([][]*item, []string) {
	var groups [][]*item
	var keys []string
	for _, sp := range spans {
		var g []*item
		for i := sp.start; i < sp.end; i++ {
			if items[i].e.PkgID != "" {
				g = append(g, &items[i])
			}
		}
		if len(g) > 0 {
			groups = append(groups, g)
			keys = append(keys, p.chunkKey(g))
		}
	}
	return groups, keys
}

func (p *publisher) chunkKey(items []*item) string {
	h := sha256.New()
	fmt.Fprintf(h, "rpmforge-chunk-%d\x00%s\x00", stateVersion, p.opts.Compression)
	for _, it := range items {
		h.Write(it.key[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func entries(groups [][]*item, keys []string) []stateEntry {
	var out []stateEntry
	for ci, g := range groups {
		for i, it := range g {
			e := it.e
			e.Chunk, e.Pos = keys[ci], i
			out = append(out, e)
		}
	}
	return out
}

// oldChunks loads, once each, the cached chunks that hold the fragments of
// unchanged packages of chunks being rebuilt; a missing or damaged one is
// reported as errBadChunk, after which Publish runs again, reading what it
// held.
type oldChunks struct {
	st *stateDir
	mu sync.Mutex
	m  map[string]*chunk
}

func (o *oldChunks) get(key string) (*chunk, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.m[key]; ok {
		return c, nil
	}
	c, err := o.st.loadChunk(key)
	if err != nil {
		os.Remove(o.st.chunkPath(key))
		return nil, fmt.Errorf("cache: %w: %w", errBadChunk, err)
	}
	if o.m == nil {
		o.m = map[string]*chunk{}
	}
	o.m[key] = c
	return c, nil
}

func (o *oldChunks) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range o.m {
		c.release()
	}
	o.m = nil
}

// readAndBuild reads files[i] for i in toRead into items[i] with
// opts.Workers goroutines, and builds (and caches) each chunk holding a
// package read as soon as its packages are read, at most Workers+1 at a
// time, so that the rendered XML of only a few chunks is in memory.
// Invalid files are recorded in res.Skipped.
func (p *publisher) readAndBuild(ctx context.Context, files []pkgFile, items []item, spans []span, toRead []int, res *Result) error {
	var total, done int64
	needRead := make([]bool, len(files))
	for _, i := range toRead {
		total += files[i].size
		needRead[i] = true
	}
	var mu sync.Mutex
	var firstErr error
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	type task struct {
		i  int
		wg *sync.WaitGroup
	}
	work := make(chan task)
	var readers sync.WaitGroup
	for w := 0; w < p.opts.Workers; w++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			var buf, fileBuf []byte
			for t := range work {
				it, err := p.readOne(ctx, files[t.i], &buf, &fileBuf)
				mu.Lock()
				done += files[t.i].size
				p.opts.Progress.Bytes(done, total)
				switch {
				case err == nil:
					items[t.i] = it
					res.Read++
				case errors.Is(err, ErrInvalid) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, errChanged):
					res.Skipped = append(res.Skipped, Skipped{Path: files[t.i].path, Err: err})
				case firstErr == nil:
					firstErr = fmt.Errorf("%s: %w", files[t.i].path, err)
				}
				mu.Unlock()
				t.wg.Done()
			}
		}()
	}
	old := &oldChunks{st: p.st}
	defer old.release()
	sem := make(chan struct{}, p.opts.Workers+1)
	var builders sync.WaitGroup

	// When every package is read (a first publish, or the cache was
	// lost), the metadata files are assembled as the chunks are built, in
	// order, assuming that every package is valid (the head member holds
	// the count): no second pass loads the chunks again. run falls back
	// to assemble if a package turned out invalid. A chunk stays in memory
	// until it is assembled, so at most Workers+1 are.
	type built struct {
		c   *chunk // nil: the chunk is empty (all its packages invalid)
		err error
	}
	var slots []chan built
	var consumer sync.WaitGroup
	fused := len(toRead) == len(files) && p.opts.Compression.members()
	if fused {
		slots = make([]chan built, len(spans))
		for i := range slots {
			slots[i] = make(chan built, 1)
		}
		a := p.newAssembler(len(files))
		f := &fusedOut{}
		consumer.Add(1)
		go func() {
			defer consumer.Done()
			ok := true
			for i := range slots {
				r := <-slots[i]
				<-sem
				switch {
				case r.err != nil:
					ok = false
				case r.c != nil:
					if ok {
						a.add(r.c)
						f.keys = append(f.keys, r.c.key)
					}
					r.c.release()
				}
			}
			if !ok {
				return
			}
			if out, err := a.finish(); err == nil {
				f.n, f.out = len(files), out
				p.fused = f
			}
		}()
	}
	submitted := 0
submit:
	for _, sp := range spans {
		var wg sync.WaitGroup
		reads := 0
		for i := sp.start; i < sp.end; i++ {
			if needRead[i] {
				wg.Add(1)
				reads++
			}
		}
		if ctx.Err() != nil {
			break
		}
		if reads == 0 && !fused {
			// Nothing read: assemble loads or rebuilds this chunk.
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break submit
		}
		for i := sp.start; i < sp.end; i++ {
			if needRead[i] {
				work <- task{i, &wg}
			}
		}
		builders.Add(1)
		slot := submitted
		submitted++
		go func(sp span) {
			defer builders.Done()
			var r built
			defer func() {
				if fused {
					slots[slot] <- r
				} else {
					if r.c != nil {
						r.c.release()
					}
					<-sem
				}
			}()
			wg.Wait()
			g, keys := p.groups(items, []span{sp})
			if len(g) == 0 {
				return
			}
			c, reused, err := p.chunk(g[0], keys[0], old.get)
			if err != nil {
				fail(err)
				r.err = err
				return
			}
			if !reused {
				p.built.Add(1)
			}
			r.c = c
		}(sp)
	}
	if fused {
		for ; submitted < len(spans); submitted++ {
			sem <- struct{}{}
			slots[submitted] <- built{err: context.Canceled}
		}
	}
	close(work)
	readers.Wait()
	builders.Wait()
	consumer.Wait()
	if firstErr != nil {
		return firstErr
	}
	slices.SortFunc(res.Skipped, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
	return ctx.Err()
}

// output is one metadata file being assembled: its compressed parts (or,
// for xz, the whole compressed file) and the hash of its content.
type output struct {
	parts    []outPart
	size     int64
	hash     hash.Hash // of the compressed file
	openHash hash.Hash
	openSize int64
}

// outPart is a part of an output file: bytes in memory, or a compressed
// member in a cached chunk file, read again when the file is written (so
// that the compressed metadata is never all in memory).
type outPart struct {
	b        []byte
	path     string
	off, len int64
}

// assembler produces the three metadata files from the chunks, given in
// order: the head member (which holds the package count), the chunks'
// members (by reference into the cache files) or, for xz, one stream
// compressed whole, and the tail.
type assembler struct {
	p      *publisher
	out    [numKinds]*output
	xzIn   [numKinds]*io.PipeWriter
	xzDone [numKinds]chan error
	err    error
	// copyBuf is the one buffer streamChunk copies fragments through
	// (io.CopyN would allocate 32 KB per call: megabytes of garbage per
	// publish, which raise the heap's peak).
	copyBuf []byte
}

func (p *publisher) newAssembler(n int) *assembler {
	comp := p.opts.Compression
	a := &assembler{p: p}
	for k := range numKinds {
		a.out[k] = &output{hash: sha256.New(), openHash: sha256.New()}
		head := fileHead(k, n)
		a.out[k].openHash.Write(head)
		a.out[k].openSize += int64(len(head))
		if comp.members() {
			a.out[k].add(comp.compressMember(nil, head))
		} else {
			pr, pw := io.Pipe()
			a.xzIn[k], a.xzDone[k] = pw, make(chan error, 1)
			go func(k Kind) {
				var b bytes.Buffer
				w, err := comp.newStreamWriter(&b)
				if err == nil {
					_, err = io.Copy(w, pr)
					if cerr := w.Close(); err == nil {
						err = cerr
					}
				}
				pr.CloseWithError(err)
				if err == nil {
					a.out[k].add(b.Bytes())
				}
				a.xzDone[k] <- err
			}(k)
			a.xzIn[k].Write(head)
		}
	}
	return a
}

// add appends the next chunk (which the caller releases afterwards).
func (a *assembler) add(c *chunk) {
	if a.err != nil {
		return
	}
	for k := range numKinds {
		a.out[k].openHash.Write(c.u[k])
		a.out[k].openSize += int64(len(c.u[k]))
		if a.p.opts.Compression.members() {
			a.out[k].addSection(a.p.st.chunkPath(c.key), c.cOff[k], c.c[k])
		} else if _, err := a.xzIn[k].Write(c.u[k]); err != nil {
			a.err = err
		}
	}
}

// abort stops the xz compressors, if any.
func (a *assembler) abort(err error) {
	for k := range numKinds {
		if a.xzIn[k] != nil {
			a.xzIn[k].CloseWithError(err)
			<-a.xzDone[k]
			a.xzIn[k] = nil
		}
	}
}

// finish appends the tails and returns the files.
func (a *assembler) finish() (*[numKinds]*output, error) {
	if a.err != nil {
		a.abort(a.err)
		return nil, a.err
	}
	comp := a.p.opts.Compression
	for k := range numKinds {
		tail := fileTail(k)
		a.out[k].openHash.Write(tail)
		a.out[k].openSize += int64(len(tail))
		if comp.members() {
			a.out[k].add(comp.compressMember(nil, tail))
		} else {
			a.xzIn[k].Write(tail)
			a.xzIn[k].Close()
			err := <-a.xzDone[k]
			a.xzIn[k] = nil
			if err != nil {
				a.abort(err)
				return nil, err
			}
		}
	}
	return &a.out, nil
}

// assemble produces the three metadata files. Chunks are loaded from the
// cache or built (rendered fragments, compressed members) by parallel
// workers and consumed in order.
func (p *publisher) assemble(ctx context.Context, groups [][]*item, keys []string, n int, res *Result) (*[numKinds]*output, error) {
	a := p.newAssembler(n)
	defer a.abort(errors.New("aborted"))

	old := &oldChunks{st: p.st}
	defer old.release()

	type result struct {
		c      *chunk
		reused bool
		cached bool // in the cache as it is: streamed by the consumer
		err    error
	}
	slots := make([]chan result, len(groups))
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	sem := make(chan struct{}, p.opts.Workers+1) // bounds chunks in memory
	go func() {
		for i := range groups {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				for j := i; j < len(groups); j++ {
					slots[j] <- result{err: ctx.Err()}
				}
				return
			}
			go func(i int) {
				if p.st.hasChunk(keys[i]) {
					for _, it := range groups[i] {
						it.frags = nil
					}
					slots[i] <- result{cached: true}
					return
				}
				c, reused, err := p.chunk(groups[i], keys[i], old.get)
				slots[i] <- result{c: c, reused: reused, err: err}
			}(i)
		}
	}()
	var firstErr error
	rd := bufio.NewReaderSize(nil, 64<<10)
	for i := range groups {
		r := <-slots[i]
		<-sem
		if firstErr != nil {
			if r.c != nil {
				r.c.release()
			}
			continue
		}
		if r.err != nil {
			firstErr = r.err
			continue
		}
		if r.cached {
			// Cached chunks are streamed, not loaded whole: an
			// incremental publish holds no chunk in memory but those
			// it builds.
			if err := p.st.streamChunk(keys[i], a, rd); err != nil {
				if errors.Is(err, errBadChunk) || errors.Is(err, fs.ErrNotExist) {
					// Damaged or gone: Publish runs again, reading
					// what it held.
					os.Remove(p.st.chunkPath(keys[i]))
					err = fmt.Errorf("cache: %w: %w", errBadChunk, err)
				}
				firstErr = err
			}
			continue
		}
		if !r.reused {
			p.built.Add(1)
		}
		a.add(r.c)
		r.c.release()
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return a.finish()
}

func (o *output) add(b []byte) {
	o.parts = append(o.parts, outPart{b: b})
	o.size += int64(len(b))
	o.hash.Write(b)
}

// addSection adds b, found in a file at off, by reference.
func (o *output) addSection(path string, off int64, b []byte) {
	o.parts = append(o.parts, outPart{path: path, off: off, len: int64(len(b))})
	o.size += int64(len(b))
	o.hash.Write(b)
}

// reader yields the file; it fails at the end if the bytes read again
// from the cache are not those hashed (a cache file changed meanwhile).
func (o *output) reader() io.Reader {
	return &partsReader{parts: o.parts, h: sha256.New(), want: o.hash.Sum(nil)}
}

type partsReader struct {
	parts []outPart
	cur   io.Reader
	f     *os.File
	h     hash.Hash
	want  []byte
}

func (r *partsReader) Read(b []byte) (int, error) {
	for {
		if r.cur != nil {
			n, err := r.cur.Read(b)
			r.h.Write(b[:n])
			if err == io.EOF {
				r.cur = nil
				if r.f != nil {
					r.f.Close()
					r.f = nil
				}
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		if len(r.parts) == 0 {
			if !bytes.Equal(r.h.Sum(nil), r.want) {
				return 0, fmt.Errorf("cache: a chunk changed while repodata was written: %w", errBadChunk)
			}
			return 0, io.EOF
		}
		p := r.parts[0]
		r.parts = r.parts[1:]
		if p.path == "" {
			r.cur = bytes.NewReader(p.b)
			continue
		}
		f, err := os.Open(p.path)
		if err != nil {
			return 0, err
		}
		r.f, r.cur = f, io.NewSectionReader(f, p.off, p.len)
	}
}

// chunk returns the chunk of these items: from the cache, or built from
// fresh fragments and the fragments of unchanged packages in older chunks.
func (p *publisher) chunk(items []*item, key string, oldChunk func(string) (*chunk, error)) (*chunk, bool, error) {
	defer func() {
		for _, it := range items {
			it.frags = nil // rendered into the chunk
		}
	}()
	c, err := p.st.loadChunk(key)
	if err == nil {
		return c, true, nil
	}
	if errors.Is(err, errBadChunk) {
		// Damaged: remove it; Publish runs again, reading what it held.
		os.Remove(p.st.chunkPath(key))
		return nil, false, err
	}
	c = &chunk{key: key, keys: make([][32]byte, len(items)), lens: make([][numKinds]int, len(items))}
	all := make([][numKinds][]byte, len(items))
	for i, it := range items {
		c.keys[i] = it.key
		var frags [numKinds][]byte
		if it.frags != nil {
			frags = *it.frags
		} else {
			oc, err := oldChunk(it.e.Chunk)
			if err != nil {
				return nil, false, err
			}
			if it.e.Pos >= len(oc.keys) || oc.keys[it.e.Pos] != it.key {
				os.Remove(p.st.chunkPath(it.e.Chunk))
				return nil, false, fmt.Errorf("cache: chunk %s does not hold %s: %w", it.e.Chunk, it.e.Href, errBadChunk)
			}
			for k := range numKinds {
				frags[k] = oc.fragment(it.e.Pos, k)
			}
		}
		all[i] = frags
		for k := range numKinds {
			c.lens[i][k] = len(frags[k])
		}
	}
	// The fragments and members go into one reused buffer (c.release
	// returns it), with room for members of a quarter of the fragments'
	// size (XML compresses to a sixth or less); a bigger member is
	// allocated apart.
	total := 0
	for i := range all {
		for k := range numKinds {
			total += len(all[i][k])
		}
	}
	need := total + total/4
	bp := p.st.bufs.get(need)
	c.buf, c.bufs = bp, &p.st.bufs
	rest := (*bp)[:0:cap(*bp)]
	for k := range numKinds {
		n := len(rest)
		for i := range all {
			rest = append(rest, all[i][k]...)
		}
		c.u[k] = rest[n:len(rest):len(rest)]
	}
	if p.opts.Compression.members() {
		for k := range numKinds {
			free := rest[len(rest):]
			c.c[k] = p.opts.Compression.compressMember(free[:0:cap(free)], c.u[k])
			if len(c.c[k]) > 0 && cap(free) > 0 && unsafe.SliceData(c.c[k]) == unsafe.SliceData(free) {
				rest = rest[:len(rest)+len(c.c[k])]
			}
		}
	}
	c.index()
	if err := p.st.saveChunk(c); err != nil {
		return nil, false, err
	}
	return c, false, nil
}

// writeData stores one metadata file under its content-addressed name,
// unless it is already there.
func (p *publisher) writeData(ctx context.Context, kind string, o *output, current *Repomd, res *Result) (Record, error) {
	sum := hex.EncodeToString(o.hash.Sum(nil))
	name := "repodata/" + sum + "-" + kind + ".xml" + p.opts.Compression.ext()
	rec := Record{Type: kind, Checksum: sum, OpenChecksum: hex.EncodeToString(o.openHash.Sum(nil)),
		Location: name, Size: o.size, OpenSize: o.openSize, Timestamp: p.now.Unix()}
	return rec, p.putFile(ctx, name, o.size, o.reader(), current, &rec, res)
}

// putFile writes name unless a file of that (content-addressed) name and
// size exists; then the timestamp of the record that named it is kept.
func (p *publisher) putFile(ctx context.Context, name string, size int64, r io.Reader, current *Repomd, rec *Record, res *Result) error {
	if n, err := p.store.Stat(ctx, name); err == nil && n == size {
		if current != nil {
			for _, c := range current.Records {
				if c.Location == name {
					rec.Timestamp = c.Timestamp
				}
			}
		}
		return nil
	}
	if err := p.store.WriteFile(ctx, name, r); err != nil {
		return err
	}
	res.Written = append(res.Written, name)
	return nil
}

// writeRepomd signs and writes repomd.xml, last, and returns its SHA-256
// and that of its signature.
func (p *publisher) writeRepomd(ctx context.Context, md *Repomd, res *Result) (string, string, error) {
	data := md.Marshal()
	ascSum := ""
	if s := p.opts.Signer; s != nil {
		var key bytes.Buffer
		if err := s.WritePublic(&key); err != nil {
			return "", "", err
		}
		for _, name := range []string{p.opts.KeyName, "repodata/repomd.xml.key"} {
			if err := p.writeIfDifferent(ctx, name, key.Bytes(), res); err != nil {
				return "", "", err
			}
		}
		var sig bytes.Buffer
		if err := s.SignDetachedArmored(bytes.NewReader(data), &sig); err != nil {
			return "", "", fmt.Errorf("signing repomd.xml: %w", err)
		}
		as := sha256.Sum256(sig.Bytes())
		ascSum = hex.EncodeToString(as[:])
		if st, ok := p.store.(Stager); ok {
			// Both files are prepared first and switched back to back.
			if err := p.store.Sync(ctx); err != nil {
				return "", "", err
			}
			commitAsc, abortAsc, err := st.Stage(ctx, repomdName+".asc", &sig)
			if err != nil {
				return "", "", err
			}
			commitMd, abortMd, err := st.Stage(ctx, repomdName, bytes.NewReader(data))
			if err != nil {
				abortAsc()
				return "", "", err
			}
			if err := commitAsc(); err != nil {
				abortMd()
				return "", "", err
			}
			res.Written = append(res.Written, repomdName+".asc")
			step("asc-written")
			if err := commitMd(); err != nil {
				return "", "", err
			}
			if err := p.store.Sync(ctx); err != nil {
				return "", "", err
			}
			res.Written = append(res.Written, repomdName)
			s := sha256.Sum256(data)
			return hex.EncodeToString(s[:]), ascSum, nil
		}
		if err := p.store.WriteFile(ctx, repomdName+".asc", &sig); err != nil {
			return "", "", err
		}
		res.Written = append(res.Written, repomdName+".asc")
		step("asc-written")
	}
	// Everything repomd.xml names must be durable before it is.
	if err := p.store.Sync(ctx); err != nil {
		return "", "", err
	}
	if err := p.store.WriteFile(ctx, repomdName, bytes.NewReader(data)); err != nil {
		return "", "", err
	}
	if err := p.store.Sync(ctx); err != nil {
		return "", "", err
	}
	res.Written = append(res.Written, repomdName)
	if p.opts.Signer == nil {
		// A signature of an older repomd.xml would now be wrong.
		if _, err := p.store.Stat(ctx, repomdName+".asc"); err == nil {
			if err := p.store.Remove(ctx, repomdName+".asc"); err != nil {
				return "", "", err
			}
			res.Deleted = append(res.Deleted, repomdName+".asc")
		}
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:]), ascSum, nil
}

func (p *publisher) writeIfDifferent(ctx context.Context, name string, data []byte, res *Result) error {
	if rc, err := p.store.Open(ctx, name); err == nil {
		old, err := io.ReadAll(rc)
		rc.Close()
		if err == nil && bytes.Equal(old, data) {
			return nil
		}
	}
	if err := p.store.WriteFile(ctx, name, bytes.NewReader(data)); err != nil {
		return err
	}
	res.Written = append(res.Written, name)
	return nil
}

// collect removes the files of generations beyond KeepGenerations that no
// kept generation names, and temporary files left by killed publishes.
func (p *publisher) collect(ctx context.Context, gens [][]string, res *Result) error {
	keep := map[string]bool{}
	for _, g := range gens[:min(len(gens), p.opts.KeepGenerations)] {
		for _, f := range g {
			keep[f] = true
		}
	}
	var drop []string
	for _, g := range gens[min(len(gens), p.opts.KeepGenerations):] {
		for _, f := range g {
			if !keep[f] && strings.HasPrefix(f, "repodata/") && !strings.Contains(f[len("repodata/"):], "/") {
				drop = append(drop, f)
				keep[f] = true // once
			}
		}
	}
	names, err := p.store.List(ctx, "repodata")
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, tmpPrefix) {
			drop = append(drop, "repodata/"+n)
		}
	}
	for _, f := range drop {
		if err := p.store.Remove(ctx, f); err != nil {
			return err
		}
		res.Deleted = append(res.Deleted, f)
	}
	return nil
}
