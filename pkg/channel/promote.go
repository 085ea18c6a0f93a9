package channel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// PromoteOptions configure Promote.
type PromoteOptions struct {
	// RequireKey refuses packages not signed by this key (fingerprint or
	// long key ID), besides the target channel's require_key.
	RequireKey string
}

// Promote makes the packages specs name in channel from part of channel
// to, and publishes to. Nothing is copied or re-signed: the target's
// snapshot refers to the same pool objects. A spec is NAME (the newest
// version in from), NAME-VERSION, NAME-VERSION-RELEASE or a NEVRA; with
// several architectures the newest of each is promoted. Each package's
// pool object is checked (SHA-256, digests, and signatures when a key is
// required) before the target changes.
func (r *Root) Promote(ctx context.Context, from, to string, specs []string, opts PromoteOptions) (*Result, error) {
	for _, ch := range []string{from, to} {
		if err := r.checkChannel(ch); err != nil {
			return nil, err
		}
	}
	if from == to {
		return nil, fmt.Errorf("channel: promote from %s to itself: name two different channels", from)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("channel: promote from %s to %s: name the packages to promote", from, to)
	}
	required, err := r.requiredKeys(to, opts.RequireKey)
	if err != nil {
		return nil, err
	}
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	_, src, err := r.current(ctx, from)
	if err != nil {
		return nil, err
	}
	var chosen Set
	for _, spec := range specs {
		ps, err := selectPackages(src, spec)
		if err != nil {
			return nil, fmt.Errorf("channel: promote from %s: %w", from, err)
		}
		chosen = append(chosen, ps...)
	}
	for _, p := range chosen {
		if err := r.verifyObject(ctx, p, required); err != nil {
			return nil, err
		}
	}
	return r.change(ctx, to, func(cur Set, _ *history) (Set, Snapshot, error) {
		have := cur.bySum()
		for _, p := range chosen {
			if have[p.SHA256] == nil {
				cur = append(cur, p)
				have[p.SHA256] = &p
			}
		}
		return cur, Snapshot{Action: ActionPromote, From: from}, nil
	})
}

// selectPackages returns the packages of set spec names: by exact name if
// any package has that name, else by NAME-VERSION[-RELEASE][.ARCH]; the
// newest of each architecture.
func selectPackages(set Set, spec string) (Set, error) {
	var match []Package
	for _, p := range set {
		if p.Name == spec {
			match = append(match, p)
		}
	}
	if len(match) == 0 {
		for _, p := range set {
			if matchSpec(&p, spec) {
				match = append(match, p)
			}
		}
	}
	if len(match) == 0 {
		var names []string
		for _, p := range set {
			if !slices.Contains(names, p.Name) {
				names = append(names, p.Name)
			}
		}
		have := "it is empty"
		if len(names) > 0 {
			if len(names) > 10 {
				names = append(names[:10], "...")
			}
			have = "it has " + strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("no package matches %q (%s; see rpmforge repo list)", spec, have)
	}
	newest := map[string]Package{}
	for _, p := range match {
		if n, ok := newest[p.Arch]; !ok || compareEVR(p, n) > 0 {
			newest[p.Arch] = p
		}
	}
	var out Set
	for _, p := range newest {
		out = append(out, p)
	}
	sortSet(out)
	return out, nil
}

// verifyObject checks a pool object against its recorded SHA-256 and its
// digests, and its signatures against the required keys.
func (r *Root) verifyObject(ctx context.Context, p Package, required []string) error {
	rc, err := r.store.Open(ctx, p.PoolName())
	if err != nil {
		return fmt.Errorf("channel: %s: pool object %s: %w (restore the pool from a backup)", p.NEVRA(), p.PoolName(), err)
	}
	defer rc.Close()
	h := sha256.New()
	rep, err := sign.Verify(io.TeeReader(fsutil.ContextReader(ctx, rc), h), r.keyring, sign.VerifyOptions{RequireSignature: len(required) > 0})
	if err != nil {
		return fmt.Errorf("channel: %s: reading %s: %w", p.NEVRA(), p.PoolName(), err)
	}
	if _, err := io.Copy(h, rc); err != nil {
		return fmt.Errorf("channel: %s: reading %s: %w", p.NEVRA(), p.PoolName(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != p.SHA256 {
		return fmt.Errorf("channel: %s: pool object %s has SHA-256 %s: it is damaged (restore it from a backup)", p.NEVRA(), p.PoolName(), got)
	}
	return checkReport(p.NEVRA(), rep, required)
}
