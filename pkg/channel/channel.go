package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// Options configure a Root.
type Options struct {
	// Config is the root's configuration; nil reads rpmforge-channels.toml.
	Config *Config
	// Store holds the root; nil means a DirStore of the directory.
	Store Store
	// Signer signs the repomd.xml of the channels this Root publishes and
	// is published as their RPM-GPG-KEY-<name>; *sign.Key is one.
	Signer repo.Signer
	// KeyringFiles are public key files package signatures are checked
	// against, besides the configuration's keyring and the Signer's key.
	KeyringFiles []string
	// AllowUnsigned publishes a channel whose previous snapshot was signed
	// without a Signer (hosts with repo_gpgcheck=1 then refuse it).
	AllowUnsigned bool
	// User is recorded as who made a change; default DefaultUser().
	User string
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// NoWait fails (ErrLocked) instead of waiting for another rpmforge.
	NoWait bool
	// NoSync skips fsync (tests and benchmarks only).
	NoSync   bool
	Progress repo.Progress
}

// Root is a repository root: one pool, several channels.
type Root struct {
	Dir     string
	Config  *Config
	store   Store
	opts    Options
	keyring *sign.KeyRing
}

// Open opens the repository root dir (made on the first change).
func Open(dir string, opts Options) (*Root, error) {
	cfg := opts.Config
	if cfg == nil {
		var err error
		if cfg, err = LoadConfig(dir); err != nil {
			return nil, err
		}
	}
	if opts.Store == nil {
		opts.Store = NewDirStore(dir, cfg.Link, opts.NoSync)
	}
	if opts.User == "" {
		opts.User = DefaultUser()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	kr := &sign.KeyRing{}
	for _, f := range cfg.Keyring {
		if !filepath.IsAbs(f) {
			f = filepath.Join(dir, f)
		}
		if err := kr.ReadKeyFile(f); err != nil {
			return nil, fmt.Errorf("channel: keyring in %s: %w", filepath.Join(dir, ConfigName), err)
		}
	}
	for _, f := range opts.KeyringFiles {
		if err := kr.ReadKeyFile(f); err != nil {
			return nil, fmt.Errorf("channel: %w", err)
		}
	}
	if k, ok := opts.Signer.(*sign.Key); ok {
		kr.AddKey(k)
	}
	return &Root{Dir: dir, Config: cfg, store: opts.Store, opts: opts, keyring: kr}, nil
}

// DefaultUser is who changes are recorded as: $RPMFORGE_USER, else
// user@host.
func DefaultUser() string {
	if u := os.Getenv("RPMFORGE_USER"); u != "" {
		return u
	}
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return name
}

// Store returns the root's store.
func (r *Root) Store() Store { return r.store }

// Result describes a change of a channel.
type Result struct {
	Channel string
	// Snapshot is the new revision; nil when nothing changed.
	Snapshot *Snapshot
	// Recovered is a snapshot an interrupted run had recorded and that
	// was published first.
	Recovered *Snapshot
	// Publish is the publish of the new revision.
	Publish *repo.Result
}

func (r *Root) checkChannel(ch string) error {
	if !r.Config.HasChannel(ch) {
		return fmt.Errorf("channel: unknown channel %q: the channels of %s are %s (edit %s to change them)",
			ch, r.Dir, strings.Join(r.Config.Channels, ", "), filepath.Join(r.Dir, ConfigName))
	}
	return nil
}

func (r *Root) lock(ctx context.Context, exclusive bool) (func(), error) {
	return r.store.Lock(ctx, exclusive, r.opts.NoWait)
}

// current returns a channel's history and the package set of its head.
func (r *Root) current(ctx context.Context, ch string) (*history, Set, error) {
	h, err := loadHistory(ctx, r.store, ch)
	if err != nil {
		return nil, nil, err
	}
	head := h.head()
	if head == nil {
		return h, Set{}, nil
	}
	set, err := loadSet(ctx, r.store, head.Set)
	if err != nil {
		return nil, nil, fmt.Errorf("channel %s: revision %d: %w", ch, head.Revision, err)
	}
	return h, set, nil
}

// change makes a new snapshot of channel ch with the package set next
// computes from the current one, and publishes it. The caller holds the
// exclusive lock. A snapshot interrupted earlier is published first.
//
// The order makes every crash safe: the package set, then the history with
// the snapshot marked pending, then the package links and the repodata
// (repomd.xml last, by repo.Publish), then the history again. Until
// repomd.xml is replaced clients see the previous revision; a pending
// snapshot is published by the next change.
func (r *Root) change(ctx context.Context, ch string, next func(cur Set, h *history) (Set, Snapshot, error)) (*Result, error) {
	res := &Result{Channel: ch}
	h, cur, err := r.current(ctx, ch)
	if err != nil {
		return nil, err
	}
	head := h.head()
	if err := r.checkSigner(ch, h); err != nil {
		return nil, err
	}
	if head != nil && head.Pending {
		if _, err := r.publish(ctx, ch, nil, cur, head); err != nil {
			return nil, fmt.Errorf("channel %s: publishing revision %d, left pending by an interrupted run: %w", ch, head.Revision, err)
		}
		head.Pending = false
		if err := saveHistory(ctx, r.store, h); err != nil {
			return nil, err
		}
		rec := *head
		res.Recovered = &rec
	}
	set, snap, err := next(slices.Clone(cur), h)
	if err != nil {
		return nil, err
	}
	sortSet(set)
	files := make(map[string]string, len(set))
	for _, p := range set {
		if other, dup := files[p.FileName()]; dup {
			return nil, fmt.Errorf("channel %s: %s and %s would have the same file name %s (they differ in epoch only): bump the release of one", ch, other, p.NEVRA(), p.FileName())
		}
		files[p.FileName()] = p.NEVRA()
	}
	snap.Added, snap.Removed = diffSets(cur, set)
	if len(snap.Added) == 0 && len(snap.Removed) == 0 {
		return res, nil
	}
	sum, err := saveSet(ctx, r.store, set)
	if err != nil {
		return nil, fmt.Errorf("channel %s: %w", ch, err)
	}
	now := r.opts.Now().UTC().Truncate(time.Second)
	snap.Revision, snap.Time, snap.User, snap.Set, snap.Packages, snap.Pending = 1, now, r.opts.User, sum, len(set), true
	if head != nil {
		snap.Revision = head.Revision + 1
	}
	if r.opts.Signer != nil {
		snap.SignedBy = r.opts.Signer.Fingerprint()
	}
	h.Snapshots = append(h.Snapshots, snap)
	if err := saveHistory(ctx, r.store, h); err != nil {
		return nil, err
	}
	s := h.head()
	pub, err := r.publish(ctx, ch, cur, set, s)
	if err != nil {
		// Undo: the previous revision published again, the snapshot out.
		// If that fails too, the snapshot stays pending.
		prev := h.Snapshots[:len(h.Snapshots)-1]
		undo := &Snapshot{Time: now}
		if head != nil {
			undo = &prev[len(prev)-1]
		}
		// Not cancelled with ctx: an interrupted command is undone.
		uctx := context.WithoutCancel(ctx)
		if _, uerr := r.publish(uctx, ch, nil, cur, undo); uerr == nil {
			h.Snapshots = prev
			if saveHistory(uctx, r.store, h) == nil {
				return nil, fmt.Errorf("channel %s: %w (nothing was changed)", ch, err)
			}
		}
		return nil, fmt.Errorf("channel %s: %w (revision %d is recorded as pending: the next change of %s publishes it first, a rollback undoes it)", ch, err, s.Revision, ch)
	}
	s.Pending = false
	if err := saveHistory(ctx, r.store, h); err != nil {
		return nil, err
	}
	res.Snapshot, res.Publish = s, pub
	return res, nil
}

// checkSigner refuses to publish unsigned a channel that was signed.
func (r *Root) checkSigner(ch string, h *history) error {
	head := h.head()
	if head == nil || head.SignedBy == "" || r.opts.AllowUnsigned {
		return nil
	}
	if r.opts.Signer == nil {
		return fmt.Errorf("channel %s is signed by key %s: pass its private key (--sign-key FILE or $RPMFORGE_SIGNING_KEY), or --allow-unsigned to publish it unsigned (hosts with repo_gpgcheck=1 will refuse it)", ch, head.SignedBy)
	}
	return nil
}

// diffSets lists the NEVRAs added and removed from a to b.
func diffSets(a, b Set) (added, removed []string) {
	am, bm := a.bySum(), b.bySum()
	for _, p := range b {
		if am[p.SHA256] == nil {
			added = append(added, p.NEVRA())
		}
	}
	for _, p := range a {
		if bm[p.SHA256] == nil {
			removed = append(removed, p.NEVRA())
		}
	}
	return added, removed
}

// publish makes channel ch's tree hold the packages of set (from old, or
// from whatever is there when old is nil) and publishes its repodata.
func (r *Root) publish(ctx context.Context, ch string, old, set Set, snap *Snapshot) (*repo.Result, error) {
	dir, stale, remove, err := r.materialize(ctx, ch, old, set, old == nil)
	if err != nil {
		return nil, err
	}
	// The packages leaving the channel stay until the new repomd.xml has
	// replaced the one naming them (a crash in between must not leave
	// published metadata naming missing files), those of the previous
	// revision one generation longer (a client that fetched the previous
	// repomd.xml just before gets them); the scan skips them.
	excluded := make(map[string]bool, len(stale))
	for _, n := range stale {
		excluded[PackagesDir+"/"+n] = true
	}
	stateDir, err := r.store.CacheDir(stateDir + "/publish/" + ch)
	if err != nil {
		return nil, err
	}
	rev := strconv.FormatInt(snap.Time.Unix(), 10)
	if t := r.opts.Now().Unix(); t > snap.Time.Unix() {
		rev = strconv.FormatInt(t, 10)
	}
	opts := repo.Options{
		Compression:     repo.Compression(r.Config.Compress),
		Database:        r.Config.Database,
		Signer:          r.opts.Signer,
		KeyName:         r.Config.KeyName(),
		KeepGenerations: r.Config.KeepGenerations,
		Strict:          true,
		StateDir:        stateDir,
		Storage:         prefixStorage{r.store, ch + "/"},
		Revision:        rev,
		NoSync:          r.opts.NoSync,
		Progress:        r.opts.Progress,
		Exclude:         func(href string) bool { return excluded[href] },
	}
	if dir == "" {
		// No local tree: the packages are the set's, read (when the
		// publish cache lacks them) from their pool objects.
		if opts.Files, err = r.listedFiles(ctx, set, snap); err != nil {
			return nil, err
		}
		dir = ch
	}
	res, err := repo.Publish(ctx, dir, opts)
	if err != nil {
		return nil, err
	}
	for _, n := range remove {
		if err := r.store.Remove(ctx, ch+"/"+PackagesDir+"/"+n); err != nil {
			return nil, fmt.Errorf("channel %s: %w", ch, err)
		}
	}
	if res.Packages != len(set) {
		return nil, fmt.Errorf("published %d packages, the snapshot has %d (files in %s not managed by rpmforge? remove them)", res.Packages, len(set), dir)
	}
	snap.Repomd = res.Revision
	return res, nil
}

// listedFiles describes the packages of set for repo.Publish in a store
// without local files. A package's time is when it entered the pool, the
// same in every channel.
func (r *Root) listedFiles(ctx context.Context, set Set, snap *Snapshot) ([]repo.PackageFile, error) {
	idx, err := loadPoolIndex(ctx, r.store)
	if err != nil {
		return nil, err
	}
	files := make([]repo.PackageFile, 0, len(set))
	for _, p := range set {
		mtime := snap.Time
		if o := idx.Objects[p.SHA256]; o != nil && !o.Added.IsZero() {
			mtime = o.Added
		}
		pool := p.PoolName()
		files = append(files, repo.PackageFile{
			Href: p.Href(), Size: p.Size, Mtime: mtime, ID: "sha256:" + p.SHA256, SHA256: p.SHA256,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return r.store.Open(ctx, pool) },
		})
	}
	return files, nil
}

// materialize makes the package files of channel ch those of set: links to
// the pool objects are added. It returns the files of Packages/ that are
// not in set (stale), and those of them to remove once the new repomd.xml
// is in place: with full, all (the directory is reconciled with set
// whatever it holds, after a crash); otherwise those not in old either
// (old's stay one generation longer) and only the difference between old
// and set is linked. dir is the channel's local directory, "" when the
// store has none.
func (r *Root) materialize(ctx context.Context, ch string, old, set Set, full bool) (dir string, stale, remove []string, err error) {
	dir, err = r.store.LocalDir(ch)
	switch {
	case errors.Is(err, ErrNotLocal):
		dir = ""
	case err != nil:
		return "", nil, nil, err
	default:
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, nil, fmt.Errorf("channel %s: %w", ch, err)
		}
	}
	want := make(map[string]*Package, len(set))
	for i := range set {
		want[set[i].FileName()] = &set[i]
	}
	var add []*Package
	have, err := r.store.List(ctx, ch+"/"+PackagesDir)
	if err != nil {
		return "", nil, nil, fmt.Errorf("channel %s: %w", ch, err)
	}
	keep := make(map[string]bool, len(old))
	for _, p := range old {
		keep[p.FileName()] = true
	}
	for _, n := range have {
		if want[n] == nil {
			stale = append(stale, n)
			if full || !keep[n] {
				remove = append(remove, n)
			}
		}
	}
	if full {
		present := map[string]bool{}
		for _, n := range have {
			p := want[n]
			if p == nil {
				continue
			}
			if size, err := r.store.Stat(ctx, ch+"/"+p.Href()); err == nil && size == p.Size {
				present[n] = true
			}
		}
		for i := range set {
			if !present[set[i].FileName()] {
				add = append(add, &set[i])
			}
		}
	} else {
		oldm := old.bySum()
		for i := range set {
			if oldm[set[i].SHA256] == nil {
				add = append(add, &set[i])
			}
		}
	}
	for _, p := range add {
		if err := r.store.Link(ctx, p.PoolName(), ch+"/"+p.Href()); err != nil {
			return "", nil, nil, fmt.Errorf("channel %s: %s: %w", ch, p.NEVRA(), err)
		}
	}
	return dir, stale, remove, nil
}

// History returns channel ch's snapshots, oldest first.
func (r *Root) History(ctx context.Context, ch string) ([]Snapshot, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, err
	}
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	h, err := loadHistory(ctx, r.store, ch)
	if err != nil {
		return nil, err
	}
	return h.Snapshots, nil
}

// Packages returns the packages of channel ch at revision rev (0: the
// current one) and that snapshot (nil when the channel has none).
func (r *Root) Packages(ctx context.Context, ch string, rev int) ([]PoolObject, *Snapshot, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, nil, err
	}
	unlock, err := r.lock(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	h, err := loadHistory(ctx, r.store, ch)
	if err != nil {
		return nil, nil, err
	}
	s := h.head()
	if rev != 0 {
		if s = h.find(rev); s == nil {
			return nil, nil, fmt.Errorf("channel %s has no revision %d (see rpmforge repo history)", ch, rev)
		}
	}
	if s == nil {
		return []PoolObject{}, nil, nil
	}
	set, err := loadSet(ctx, r.store, s.Set)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("channel %s: the package set of revision %d was pruned (prune keeps the sets of the newest %d snapshots, retain_snapshots)", ch, s.Revision, r.Config.RetainSnapshots)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("channel %s: %w", ch, err)
	}
	idx, err := loadPoolIndex(ctx, r.store)
	if err != nil {
		return nil, nil, err
	}
	out := make([]PoolObject, len(set))
	for i, p := range set {
		if o := idx.Objects[p.SHA256]; o != nil {
			out[i] = *o
		}
		out[i].Package = p
	}
	return out, s, nil
}
