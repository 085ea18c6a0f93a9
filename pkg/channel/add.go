package channel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// AddOptions configure Add.
type AddOptions struct {
	// RequireKey refuses packages not signed by this key (fingerprint or
	// long key ID), besides the channel's require_key.
	RequireKey string
}

// staged is a package copied under the root and verified.
type staged struct {
	pkg     Package
	tmp     string // local copy, in the store's TempDir
	source  string
	signers []string
}

// Add verifies the package files (their digests; their signatures when the
// channel or opts require a key), adds them to the pool and publishes
// channel ch with them. Nothing is added when one is refused. A NEVRA
// already in the pool with other bytes is refused: packages are never
// replaced, releases are bumped.
func (r *Root) Add(ctx context.Context, ch string, files []string, opts AddOptions) (*Result, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("channel: add to %s: no package files given", ch)
	}
	required, err := r.requiredKeys(ch, opts.RequireKey)
	if err != nil {
		return nil, err
	}
	// The expensive part, copying and verifying, happens before the lock.
	var pkgs []*staged
	var tmps []string
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	seen := map[string]bool{}
	for _, f := range files {
		s, err := r.stage(ctx, f, required)
		if s != nil {
			tmps = append(tmps, s.tmp)
		}
		if err != nil {
			return nil, err
		}
		if !seen[s.pkg.SHA256] {
			seen[s.pkg.SHA256] = true
			pkgs = append(pkgs, s)
		}
	}

	unlock, err := r.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := loadPoolIndex(ctx, r.store)
	if err != nil {
		return nil, err
	}
	nevras := idx.byNEVRA()
	var fresh []*staged
	idxChanged := false
	for _, s := range pkgs {
		nevra := s.pkg.NEVRA()
		if sum, ok := nevras[nevra]; ok && sum != s.pkg.SHA256 {
			o := idx.Objects[sum]
			if o == nil {
				return nil, fmt.Errorf("channel: %s: two files given are %s with different bytes; add one of them (nothing was added)", s.source, nevra)
			}
			return nil, fmt.Errorf("channel: %s: %s is already in the pool with other bytes (sha256 %s, added %s by %s): a package is never replaced; bump the release and rebuild (nothing was added)",
				s.source, nevra, sum[:16], o.Added.Format("2006-01-02 15:04"), o.AddedBy)
		}
		nevras[nevra] = s.pkg.SHA256
		o := idx.Objects[s.pkg.SHA256]
		if o != nil && o.Removed == nil {
			if _, err := r.store.Stat(ctx, s.pkg.PoolName()); err == nil {
				idxChanged = idxChanged || o.Unreferenced != nil
				o.Unreferenced = nil
				continue
			}
		}
		fresh = append(fresh, s)
	}
	for _, s := range fresh {
		if err := r.store.Ingest(ctx, s.tmp, s.pkg.PoolName()); err != nil {
			return nil, fmt.Errorf("channel: adding %s to the pool: %w", s.source, err)
		}
		idx.Objects[s.pkg.SHA256] = &PoolObject{Package: s.pkg, Added: r.opts.Now().UTC().Truncate(time.Second),
			AddedBy: r.opts.User, Source: filepath.Base(s.source), Signers: s.signers}
	}
	if idxChanged || len(fresh) > 0 {
		if err := savePoolIndex(ctx, r.store, idx); err != nil {
			return nil, err
		}
	}
	return r.change(ctx, ch, func(cur Set, _ *history) (Set, Snapshot, error) {
		have := cur.bySum()
		for _, s := range pkgs {
			if have[s.pkg.SHA256] == nil {
				cur = append(cur, s.pkg)
				have[s.pkg.SHA256] = &s.pkg
			}
		}
		return cur, Snapshot{Action: ActionAdd}, nil
	})
}

// requiredKeys returns the fingerprints a package must be signed by to
// enter channel ch: its require_key and extra (either may be "").
func (r *Root) requiredKeys(ch, extra string) ([]string, error) {
	var keys []string
	for _, k := range []string{r.Config.Channel[ch].RequireKey, extra} {
		if k == "" {
			continue
		}
		n := normFingerprint(k)
		if n == "" {
			return nil, fmt.Errorf("channel: required key %q: want a fingerprint (40 hex digits) or long key ID (16)", k)
		}
		if r.keyring.Len() == 0 {
			return nil, fmt.Errorf("channel: key %s is required but the keyring is empty: list its public key file under keyring in %s or pass --keyring FILE",
				k, filepath.Join(r.Dir, ConfigName))
		}
		keys = append(keys, n)
	}
	return keys, nil
}

// stage copies file under the root, hashing it, and verifies the copy: a
// package repo.Publish can describe, digests OK, and signed by every
// required key.
func (r *Root) stage(ctx context.Context, file string, required []string) (*staged, error) {
	tmpDir, err := r.store.TempDir()
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	in, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("channel: %s is not a regular file", file)
	}
	out, err := os.CreateTemp(tmpDir, tmpPrefix+"add-*.rpm")
	if err != nil {
		return nil, fmt.Errorf("channel: %w", err)
	}
	s := &staged{tmp: out.Name(), source: file}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), fsutil.ContextReader(ctx, in))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return s, fmt.Errorf("channel: copying %s: %w", file, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	rp, err := repo.ReadPackageFile(s.tmp, filepath.Base(file), repo.ReadOptions{ChangelogLimit: 0})
	if err != nil {
		return s, fmt.Errorf("channel: %s: %w (rebuild the package or fix the file)", file, err)
	}
	if rp.PkgID != sum {
		return s, fmt.Errorf("channel: %s changed while it was being added; try again", file)
	}
	if rp.Arch == "" || rp.Version == "" || rp.Release == "" {
		return s, fmt.Errorf("channel: %s: the package has no version, release or arch", file)
	}
	if strings.ContainsAny(rp.Name+rp.Version+rp.Release+rp.Arch, "/\x00") {
		return s, fmt.Errorf("channel: %s: '/' in the package's name, version, release or arch", file)
	}
	s.pkg = Package{Name: rp.Name, Version: rp.Version, Release: rp.Release, Arch: rp.Arch, SHA256: sum, Size: rp.SizePackage}
	if rp.Epoch != "" && rp.Epoch != "0" {
		s.pkg.Epoch = rp.Epoch
	}
	rep, err := sign.VerifyFile(s.tmp, r.keyring, sign.VerifyOptions{RequireSignature: len(required) > 0})
	if err != nil {
		return s, fmt.Errorf("channel: verifying %s: %w", file, err)
	}
	if err := checkReport(file, rep, required); err != nil {
		return s, err
	}
	s.signers = rep.Keys
	return s, nil
}

// checkReport turns a verification report into an error naming what
// failed.
func checkReport(what string, rep *sign.Report, required []string) error {
	if !rep.DigestsOK {
		return fmt.Errorf("channel: %s: %s (the file is damaged: rebuild or download it again)", what, rep.Summary())
	}
	for _, want := range required {
		if !rep.Signed {
			return fmt.Errorf("channel: %s is not signed; it must be signed by key %s (rpmforge sign --key FILE %s)", what, want, what)
		}
		if !slices.ContainsFunc(rep.Keys, func(k string) bool { return fingerprintMatches(k, want) }) {
			return fmt.Errorf("channel: %s is not signed by the required key %s: %s (sign it with that key; if it is, add the public key to the keyring)", what, want, rep.Summary())
		}
	}
	return nil
}
