package channel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Prune keeps, in channel ch, the keep newest versions (by rpm's version
// comparison) of each package name and architecture, and publishes it.
// The pool is not touched: see CollectGarbage.
func (r *Root) Prune(ctx context.Context, ch string, keep int) (*Result, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, err
	}
	if keep < 1 {
		return nil, fmt.Errorf("channel: prune %s: keep %d: want at least 1", ch, keep)
	}
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return r.change(ctx, ch, func(cur Set, _ *history) (Set, Snapshot, error) {
		return pruneSet(cur, keep), Snapshot{Action: ActionPrune}, nil
	})
}

// pruneSet keeps the keep newest of each name and arch.
func pruneSet(set Set, keep int) Set {
	groups := map[string][]Package{}
	for _, p := range set {
		k := p.Name + "\x00" + p.Arch
		groups[k] = append(groups[k], p)
	}
	var out Set
	for _, g := range groups {
		slices.SortFunc(g, func(a, b Package) int { return compareEVR(b, a) })
		out = append(out, g[:min(keep, len(g))]...)
	}
	sortSet(out)
	return out
}

// GCOptions configure CollectGarbage.
type GCOptions struct {
	// Grace overrides the configuration's grace period (0: keep it).
	Grace time.Duration
	// RetainSnapshots overrides retain_snapshots (0: keep it).
	RetainSnapshots int
}

// GCResult describes a collection.
type GCResult struct {
	// Referenced is the number of pool objects retained snapshots use.
	Referenced int `json:"referenced"`
	// Waiting are the NEVRAs of unreferenced objects still in their grace
	// period.
	Waiting []string `json:"waiting"`
	// Removed are the NEVRAs of the objects removed from the pool, and
	// Freed their bytes.
	Removed []string `json:"removed"`
	Freed   int64    `json:"freed"`
	// Sets is the number of package sets removed (of snapshots no longer
	// retained).
	Sets int `json:"sets_removed"`
}

// CollectGarbage removes from the pool the objects no retained snapshot
// of any channel refers to (the newest retain_snapshots of each, and the
// current one) once they have been unreferenced for the grace period, and
// the package sets of snapshots no longer retained. Their history entries
// stay; rollback to them is no longer possible. Removed objects stay in
// the pool index so that their NEVRAs are never reused with other bytes.
func (r *Root) CollectGarbage(ctx context.Context, opts GCOptions) (*GCResult, error) {
	grace := r.Config.Grace.Duration
	if opts.Grace > 0 {
		grace = opts.Grace
	}
	retain := r.Config.RetainSnapshots
	if opts.RetainSnapshots > 0 {
		retain = opts.RetainSnapshots
	}
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &GCResult{}
	now := r.opts.Now().UTC().Truncate(time.Second)

	keepSets := map[string]bool{}
	used := map[string]bool{}
	for _, ch := range r.Config.Channels {
		h, err := loadHistory(ctx, r.store, ch)
		if err != nil {
			return nil, err
		}
		for i, s := range h.Snapshots {
			if i < len(h.Snapshots)-retain && !s.Pending {
				continue
			}
			if keepSets[s.Set] {
				continue
			}
			set, err := loadSet(ctx, r.store, s.Set)
			if errors.Is(err, fs.ErrNotExist) {
				continue // pruned by an earlier run with a smaller retention
			}
			if err != nil {
				return nil, fmt.Errorf("channel %s: revision %d: %w", ch, s.Revision, err)
			}
			keepSets[s.Set] = true
			for _, p := range set {
				used[p.SHA256] = true
			}
		}
	}
	res.Referenced = len(used)

	idx, err := loadPoolIndex(ctx, r.store)
	if err != nil {
		return nil, err
	}
	sums := make([]string, 0, len(idx.Objects))
	for sum := range idx.Objects {
		sums = append(sums, sum)
	}
	slices.Sort(sums)
	for _, sum := range sums {
		o := idx.Objects[sum]
		switch {
		case o.Removed != nil:
		case used[sum]:
			o.Unreferenced = nil
		case o.Unreferenced == nil:
			t := now
			o.Unreferenced = &t
			res.Waiting = append(res.Waiting, o.NEVRA())
		case now.Sub(*o.Unreferenced) < grace:
			res.Waiting = append(res.Waiting, o.NEVRA())
		default:
			if err := r.store.Remove(ctx, o.PoolName()); err != nil {
				return nil, fmt.Errorf("channel: removing %s: %w", o.PoolName(), err)
			}
			t := now
			o.Removed, o.Unreferenced = &t, nil
			res.Removed = append(res.Removed, o.NEVRA())
			res.Freed += o.Size
		}
	}
	if err := savePoolIndex(ctx, r.store, idx); err != nil {
		return nil, err
	}
	// Objects and sets nothing knows of (a run killed between writing them
	// and the index or history) and temporary files. The lock is held, so
	// no run is writing them now.
	for i := range 256 {
		pre := fmt.Sprintf("%02x", i)
		names, err := r.store.List(ctx, "pool/"+pre)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			sum, ok := strings.CutSuffix(n, ".rpm")
			if o := idx.Objects[sum]; ok && o != nil && o.Removed == nil {
				continue
			}
			if err := r.store.Remove(ctx, "pool/"+pre+"/"+n); err != nil {
				return nil, err
			}
		}
		names, err = r.store.List(ctx, stateDir+"/sets/"+pre)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if sum, ok := strings.CutSuffix(n, ".json"); ok && keepSets[sum] {
				continue
			}
			if err := r.store.Remove(ctx, stateDir+"/sets/"+pre+"/"+n); err != nil {
				return nil, err
			}
			res.Sets++
		}
	}
	if tmp, err := r.store.TempDir(); err == nil {
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
				os.Remove(filepath.Join(tmp, e.Name()))
			}
		}
	}
	return res, nil
}
