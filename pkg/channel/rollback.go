package channel

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Rollback publishes, as a new revision of channel ch, the package set of
// revision to, or with to == 0 of the revision before the current state:
// before the head, or, when the head is itself a rollback, before the
// revision it went back to (so repeated rollbacks walk back in time). The
// new repomd.xml has fresh timestamps (yum 3 refuses one older than what
// it cached), so dnf distro-sync or downgrade brings hosts back.
func (r *Root) Rollback(ctx context.Context, ch string, to int) (*Result, error) {
	if err := r.checkChannel(ch); err != nil {
		return nil, err
	}
	unlock, err := r.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return r.change(ctx, ch, func(cur Set, h *history) (Set, Snapshot, error) {
		head := h.head()
		if head == nil {
			return nil, Snapshot{}, fmt.Errorf("channel %s has no history to roll back", ch)
		}
		var target *Snapshot
		if to != 0 {
			if target = h.find(to); target == nil {
				return nil, Snapshot{}, fmt.Errorf("channel %s has no revision %d (see rpmforge repo history)", ch, to)
			}
		} else {
			base := head.Revision
			if head.Action == ActionRollback {
				base = head.RollbackTo
			}
			for i := len(h.Snapshots) - 1; i >= 0; i-- {
				if s := &h.Snapshots[i]; s.Revision < base && !s.Pending {
					target = s
					break
				}
			}
			if target == nil {
				return nil, Snapshot{}, fmt.Errorf("channel %s has no revision before %d to roll back to", ch, base)
			}
		}
		if target.Set == head.Set && to != 0 {
			// Already there (such as a rollback re-run after an interruption): unchanged.
			return cur, Snapshot{}, nil
		}
		if target.Set == head.Set {
			return nil, Snapshot{}, fmt.Errorf("channel %s already publishes the package set of revision %d (revision %d)", ch, target.Revision, head.Revision)
		}
		set, err := loadSet(ctx, r.store, target.Set)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Snapshot{}, fmt.Errorf("channel %s: the package set of revision %d was pruned (prune keeps the newest %d snapshots of each channel, retain_snapshots); pick a newer one with --to", ch, target.Revision, r.Config.RetainSnapshots)
		}
		if err != nil {
			return nil, Snapshot{}, fmt.Errorf("channel %s: revision %d: %w", ch, target.Revision, err)
		}
		for _, p := range set {
			if _, err := r.store.Stat(ctx, p.PoolName()); err != nil {
				return nil, Snapshot{}, fmt.Errorf("channel %s: revision %d needs %s, whose pool object %s is gone: %w (add the package again, then roll back)", ch, target.Revision, p.NEVRA(), p.PoolName(), err)
			}
		}
		return set, Snapshot{Action: ActionRollback, RollbackTo: target.Revision}, nil
	})
}
