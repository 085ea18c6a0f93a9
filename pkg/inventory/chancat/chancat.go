// Package chancat is the inventory Catalog of a channel root: what each
// channel publishes at its current (or a past) revision, read from the pool
// objects themselves (header digests, signing key, embedded SBOM), with when
// each package entered the channel and from where it was promoted.
package chancat

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdir"
)

// Catalog implements inventory.Catalog over a channel root.
type Catalog struct {
	ctx      context.Context
	root     *channel.Root
	channels []string
	rev      int // 0: current

	mu   sync.Mutex
	read map[string]inventory.PublishedPackage // by pool SHA-256: each object is read once
}

// New returns the catalog of root. only limits it to one channel (""
// for all); rev > 0 gives the baseline as it was at that revision (it
// needs a single channel, since revisions are per channel).
func New(ctx context.Context, root *channel.Root, only string, rev int) (*Catalog, error) {
	chs := root.Config.Channels
	if only != "" {
		if !slices.Contains(chs, only) {
			return nil, fmt.Errorf("chancat: %s has no channel %q (channels: %v)", root.Dir, only, chs)
		}
		chs = []string{only}
	}
	if rev != 0 && len(chs) != 1 {
		return nil, fmt.Errorf("chancat: a revision (--at %d) needs one channel (--channel)", rev)
	}
	return &Catalog{ctx: ctx, root: root, channels: chs, rev: rev, read: map[string]inventory.PublishedPackage{}}, nil
}

// Channels implements inventory.Catalog, in promotion order.
func (c *Catalog) Channels() []string { return slices.Clone(c.channels) }

// Packages implements inventory.Catalog.
func (c *Catalog) Packages(ch string) ([]inventory.PublishedPackage, error) {
	if !slices.Contains(c.channels, ch) {
		return nil, nil
	}
	objs, snap, err := c.root.Packages(c.ctx, ch, c.rev)
	if err != nil {
		return nil, fmt.Errorf("chancat: %w", err)
	}
	hist, err := c.root.History(c.ctx, ch)
	if err != nil {
		return nil, fmt.Errorf("chancat: %w", err)
	}
	upTo := 0
	if snap != nil {
		upTo = snap.Revision
	}
	out := make([]inventory.PublishedPackage, 0, len(objs))
	for _, o := range objs {
		p, err := c.object(o)
		if err != nil {
			return nil, err
		}
		p.Channel = ch
		p.PublishedAt, p.PromotedFrom = entered(hist, upTo, o.Package)
		out = append(out, p)
	}
	return out, nil
}

// object reads a pool object once per catalog.
func (c *Catalog) object(o channel.PoolObject) (inventory.PublishedPackage, error) {
	c.mu.Lock()
	p, ok := c.read[o.SHA256]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	name := o.PoolName()
	rc, err := c.root.Store().Open(c.ctx, name)
	if err != nil {
		return p, fmt.Errorf("chancat: pool object %s of %s: %w", name, o.NEVRA(), err)
	}
	defer rc.Close()
	p, err = rpmdir.ReadPackage(rc, c.root.Dir+"/"+name)
	if err != nil {
		return p, fmt.Errorf("chancat: %w", err)
	}
	if p.SHA256 != o.SHA256 {
		return p, fmt.Errorf("chancat: pool object %s has sha256 %s, not %s: the pool is damaged", name, p.SHA256, o.SHA256)
	}
	c.mu.Lock()
	c.read[o.SHA256] = p
	c.mu.Unlock()
	return p, nil
}

// entered finds the latest snapshot up to revision upTo that brought p into
// the channel: its time, and the channel it was promoted from ("" when
// added directly or brought back by a rollback).
func entered(hist []channel.Snapshot, upTo int, p channel.Package) (time.Time, string) {
	n := p.NEVRA()
	for i := len(hist) - 1; i >= 0; i-- {
		s := hist[i]
		if s.Pending || (upTo > 0 && s.Revision > upTo) || !slices.Contains(s.Added, n) {
			continue
		}
		if s.Action == channel.ActionPromote {
			return s.Time, s.From
		}
		return s.Time, ""
	}
	return time.Time{}, ""
}
