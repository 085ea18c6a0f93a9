package channel

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/repo"
)

func TestAddPromoteRollback(t *testing.T) {
	ctx := context.Background()
	key := testKey(t, "rsa4096")
	r := newRoot(t, "", Options{Signer: key})
	src := t.TempDir()
	v1 := buildPkg(t, src, "hello", "1.0", "1", "", key)
	v2 := buildPkg(t, src, "hello", "2.0", "1", "", key)

	res := ok(t)(r.Add(ctx, "dev", []string{v1}, AddOptions{}))
	if res.Snapshot == nil || res.Snapshot.Revision != 1 || res.Snapshot.Action != ActionAdd || res.Snapshot.SignedBy != rsaFPR {
		t.Fatalf("add: snapshot %+v", res.Snapshot)
	}
	ok(t)(r.Promote(ctx, "dev", "staging", []string{"hello"}, PromoteOptions{}))
	ok(t)(r.Promote(ctx, "staging", "prod", []string{"hello"}, PromoteOptions{RequireKey: rsaFPR}))
	for _, ch := range []string{"dev", "staging", "prod"} {
		checkChannel(t, r, ch, "hello-1.0-1.noarch")
		for _, f := range []string{"repodata/repomd.xml.asc", "RPM-GPG-KEY-myrepo", "repodata/repomd.xml.key"} {
			if _, err := os.Stat(filepath.Join(r.Dir, ch, f)); err != nil {
				t.Errorf("%s: %v", ch, err)
			}
		}
	}
	// Promotion copies nothing: every channel's file is the pool object.
	pool, err := filepath.Glob(filepath.Join(r.Dir, "pool", "*", "*.rpm"))
	if err != nil || len(pool) != 1 {
		t.Fatalf("pool: %v %v", pool, err)
	}
	pst, _ := os.Stat(pool[0])
	for _, ch := range []string{"dev", "staging", "prod"} {
		st, err := os.Stat(filepath.Join(r.Dir, ch, "Packages", "hello-1.0-1.noarch.rpm"))
		if err != nil {
			t.Fatal(err)
		}
		if !os.SameFile(st, pst) {
			t.Errorf("%s: package is not the pool object", ch)
		}
	}
	if n := pst.Sys().(*syscall.Stat_t).Nlink; n != 4 {
		t.Errorf("pool object has %d links, want 4", n)
	}
	// Promoting what is there already changes nothing.
	res = ok(t)(r.Promote(ctx, "staging", "prod", []string{"hello"}, PromoteOptions{}))
	if res.Snapshot != nil {
		t.Errorf("promoting again made revision %d", res.Snapshot.Revision)
	}

	ok(t)(r.Add(ctx, "dev", []string{v2}, AddOptions{}))
	ok(t)(r.Promote(ctx, "dev", "staging", []string{"hello-2.0"}, PromoteOptions{}))
	before := readRepomd(t, r, "prod")
	time.Sleep(1100 * time.Millisecond) // so that fresh timestamps differ
	ok(t)(r.Promote(ctx, "staging", "prod", []string{"hello"}, PromoteOptions{}))
	checkChannel(t, r, "prod", "hello-1.0-1.noarch", "hello-2.0-1.noarch")
	checkChannel(t, r, "dev", "hello-1.0-1.noarch", "hello-2.0-1.noarch")

	time.Sleep(1100 * time.Millisecond)
	res = ok(t)(r.Rollback(ctx, "prod", 0))
	if s := res.Snapshot; s.Revision != 3 || s.Action != ActionRollback || s.RollbackTo != 1 ||
		strings.Join(s.Removed, " ") != "hello-2.0-1.noarch" || len(s.Added) != 0 {
		t.Errorf("rollback snapshot %+v", s)
	}
	checkChannel(t, r, "prod", "hello-1.0-1.noarch")
	after := readRepomd(t, r, "prod")
	// The same metadata as revision 1, with fresher timestamps (yum 3
	// refuses a repomd.xml older than the one it cached).
	if a, b := after.Record("primary"), before.Record("primary"); a.Checksum != b.Checksum {
		t.Errorf("primary after rollback %s, revision 1 had %s", a.Checksum, b.Checksum)
	} else if a.Timestamp <= b.Timestamp {
		t.Errorf("primary timestamp after rollback %d, revision 1 had %d", a.Timestamp, b.Timestamp)
	}
	if after.Revision <= before.Revision {
		t.Errorf("repomd revision %s after rollback, %s before", after.Revision, before.Revision)
	}
	// A second rollback walks further back: nothing before revision 1.
	if _, err := r.Rollback(ctx, "prod", 0); err == nil || !strings.Contains(err.Error(), "no revision before 1") {
		t.Errorf("second rollback: %v", err)
	}
	// Roll forward to revision 2 by name.
	ok(t)(r.Rollback(ctx, "prod", 2))
	checkChannel(t, r, "prod", "hello-1.0-1.noarch", "hello-2.0-1.noarch")

	hist, err := r.History(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, s := range hist {
		acts = append(acts, s.Action+":"+s.User)
		if s.Pending || s.Repomd == "" || s.Set == "" {
			t.Errorf("snapshot %+v", s)
		}
	}
	if got := strings.Join(acts, " "); got != "promote:tester promote:tester rollback:tester rollback:tester" {
		t.Errorf("history %s", got)
	}
	if hist[1].From != "staging" {
		t.Errorf("promote from %q", hist[1].From)
	}
	// Listing an old revision.
	pk, s, err := r.Packages(ctx, "prod", 1)
	if err != nil || len(pk) != 1 || s.Revision != 1 || pk[0].AddedBy != "tester" || len(pk[0].Signers) != 1 {
		t.Errorf("packages of revision 1: %+v %+v %v", pk, s, err)
	}
}

func readRepomd(t testing.TB, r *Root, ch string) *repo.Repomd {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, ch, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := repo.ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

func TestAddRefusesNEVRAWithOtherBytes(t *testing.T) {
	ctx := context.Background()
	r := newRoot(t, "", Options{})
	a := buildPkg(t, t.TempDir(), "hello", "1.0", "1", "a", nil)
	b := buildPkg(t, t.TempDir(), "hello", "1.0", "1", "b", nil)
	ok(t)(r.Add(ctx, "dev", []string{a}, AddOptions{}))
	_, err := r.Add(ctx, "staging", []string{b}, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "hello-1.0-1.noarch is already in the pool with other bytes") ||
		!strings.Contains(err.Error(), "bump the release") {
		t.Fatalf("got %v", err)
	}
	// The same bytes again: fine, and nothing changes.
	res := ok(t)(r.Add(ctx, "dev", []string{a}, AddOptions{}))
	if res.Snapshot != nil {
		t.Errorf("adding the same package again made revision %d", res.Snapshot.Revision)
	}
	if h, _ := r.History(ctx, "staging"); len(h) != 0 {
		t.Errorf("staging changed: %+v", h)
	}
	// A damaged file is refused with what to do.
	data, _ := os.ReadFile(a)
	data[len(data)-10] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.rpm")
	os.WriteFile(bad, data, 0o644)
	if _, err := r.Add(ctx, "dev", []string{bad}, AddOptions{}); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged package: %v", err)
	}
	if _, err := r.Add(ctx, "qa", []string{a}, AddOptions{}); err == nil || !strings.Contains(err.Error(), `unknown channel "qa"`) {
		t.Errorf("unknown channel: %v", err)
	}
}

func TestRequireKey(t *testing.T) {
	ctx := context.Background()
	cfg := `keyring = ["` + mustAbs(t, keyPath("rsa4096", "pub")) + `", "` + mustAbs(t, keyPath("ed25519", "pub")) + `"]
[channel.prod]
require_key = "` + rsaFPR + `"
`
	r := newRoot(t, cfg, Options{})
	src := t.TempDir()
	unsigned := buildPkg(t, src, "plain", "1", "1", "", nil)
	byEd := buildPkg(t, src, "edpkg", "1", "1", "", testKey(t, "ed25519"))
	byRSA := buildPkg(t, src, "rsapkg", "1", "1", "", testKey(t, "rsa4096"))
	ok(t)(r.Add(ctx, "dev", []string{unsigned, byEd, byRSA}, AddOptions{}))

	for _, tc := range []struct {
		spec, to, require, want string
	}{
		{"plain", "prod", "", "plain-1-1.noarch is not signed; it must be signed by key " + rsaFPR},
		{"edpkg", "prod", "", "edpkg-1-1.noarch is not signed by the required key " + rsaFPR},
		{"rsapkg", "staging", ed25519FPR, "rsapkg-1-1.noarch is not signed by the required key " + ed25519FPR},
		{"rsapkg", "staging", "D3D10ECF", "want a fingerprint"},
	} {
		_, err := r.Promote(ctx, "dev", tc.to, []string{tc.spec}, PromoteOptions{RequireKey: tc.require})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("promote %s to %s: %v, want %q", tc.spec, tc.to, err, tc.want)
		}
	}
	ok(t)(r.Promote(ctx, "dev", "prod", []string{"rsapkg"}, PromoteOptions{}))
	ok(t)(r.Promote(ctx, "dev", "staging", []string{"edpkg"}, PromoteOptions{RequireKey: "0E806AEBD6A059FD"}))
	// add into prod checks the key too.
	if _, err := r.Add(ctx, "prod", []string{unsigned}, AddOptions{}); err == nil || !strings.Contains(err.Error(), "is not signed") {
		t.Errorf("add unsigned to prod: %v", err)
	}
	checkChannel(t, r, "prod", "rsapkg-1-1.noarch")
	checkChannel(t, r, "staging", "edpkg-1-1.noarch")
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPromoteSelection(t *testing.T) {
	ctx := context.Background()
	r := newRoot(t, "", Options{})
	src := t.TempDir()
	var files []string
	for _, v := range [][2]string{{"1.9", "1"}, {"1.10", "1"}, {"1.10", "2"}, {"1.2", "5"}} {
		files = append(files, buildPkg(t, src, "app", v[0], v[1], "", nil))
	}
	files = append(files, buildPkg(t, src, "app-extra", "0.1", "1", "", nil))
	ok(t)(r.Add(ctx, "dev", files, AddOptions{}))
	for _, tc := range []struct{ spec, want string }{
		{"app", "app-1.10-2.noarch"}, // newest by rpm's comparison, not by string
		{"app-1.9", "app-1.9-1.noarch"},
		{"app-1.10-1", "app-1.10-1.noarch"},
		{"app-1.2-5.noarch", "app-1.2-5.noarch"},
		{"app-extra", "app-extra-0.1-1.noarch"},
	} {
		res := ok(t)(r.Promote(ctx, "dev", "staging", []string{tc.spec}, PromoteOptions{}))
		if res.Snapshot == nil || strings.Join(res.Snapshot.Added, " ") != tc.want {
			t.Errorf("promote %s: %+v, want %s", tc.spec, res.Snapshot, tc.want)
		}
	}
	if _, err := r.Promote(ctx, "dev", "staging", []string{"app-3"}, PromoteOptions{}); err == nil ||
		!strings.Contains(err.Error(), `no package matches "app-3" (it has app, app-extra`) {
		t.Errorf("no match: %v", err)
	}
	if _, err := r.Promote(ctx, "prod", "staging", []string{"app"}, PromoteOptions{}); err == nil ||
		!strings.Contains(err.Error(), "it is empty") {
		t.Errorf("from an empty channel: %v", err)
	}
}

func TestPruneAndCollectGarbage(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	r := newRoot(t, "grace = \"1h\"\nretain_snapshots = 2\n", Options{Now: clk.now})
	src := t.TempDir()
	var files []string
	for _, v := range []string{"1.9", "1.10", "1.2", "2.0~rc1"} {
		files = append(files, buildPkg(t, src, "app", v, "1", "", nil))
	}
	ok(t)(r.Add(ctx, "dev", files, AddOptions{})) // rev 1
	ok(t)(r.Promote(ctx, "dev", "staging", []string{"app-1.9"}, PromoteOptions{}))
	res := ok(t)(r.Prune(ctx, "dev", 2)) // rev 2
	if got := strings.Join(res.Snapshot.Removed, " "); got != "app-1.2-1.noarch app-1.9-1.noarch" {
		t.Errorf("pruned %s", got)
	}
	checkChannel(t, r, "dev", "app-1.10-1.noarch", "app-2.0~rc1-1.noarch")

	// Revision 1 is retained (2 snapshots): nothing is unreferenced but
	// 1.2, which only revision 1 holds... which is retained. So nothing.
	gc, err := r.CollectGarbage(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(gc.Waiting)+len(gc.Removed) != 0 || gc.Referenced != 4 {
		t.Errorf("gc 1: %+v", gc)
	}
	ok(t)(r.Prune(ctx, "dev", 1)) // rev 3: revision 1 is no longer retained
	gc, err = r.CollectGarbage(ctx, GCOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 1.9 is still in staging; 1.2 is referenced by nothing retained.
	if strings.Join(gc.Waiting, " ") != "app-1.2-1.noarch" || len(gc.Removed) != 0 || gc.Sets != 1 {
		t.Errorf("gc 2: %+v", gc)
	}
	clk.t = clk.t.Add(59 * time.Minute)
	if gc, _ = r.CollectGarbage(ctx, GCOptions{}); len(gc.Removed) != 0 {
		t.Errorf("removed within the grace period: %+v", gc)
	}
	clk.t = clk.t.Add(2 * time.Minute)
	if gc, _ = r.CollectGarbage(ctx, GCOptions{}); strings.Join(gc.Removed, " ") != "app-1.2-1.noarch" || gc.Freed == 0 {
		t.Errorf("gc 3: %+v", gc)
	}
	if pool, _ := filepath.Glob(filepath.Join(r.Dir, "pool", "*", "*.rpm")); len(pool) != 3 {
		t.Errorf("pool holds %d objects, want 3", len(pool))
	}
	// Revision 1's set is gone: rollback to it says so.
	if _, err := r.Rollback(ctx, "dev", 1); err == nil || !strings.Contains(err.Error(), "revision 1 was pruned") {
		t.Errorf("rollback to a pruned revision: %v", err)
	}
	// Its history entry stays.
	if h, _ := r.History(ctx, "dev"); len(h) != 3 || h[0].Packages != 4 {
		t.Errorf("history %+v", h)
	}
	// The removed NEVRA can be added again with the same bytes, not others.
	other := buildPkg(t, t.TempDir(), "app", "1.2", "1", "other", nil)
	if _, err := r.Add(ctx, "dev", []string{other}, AddOptions{}); err == nil || !strings.Contains(err.Error(), "other bytes") {
		t.Errorf("re-adding a removed NEVRA with other bytes: %v", err)
	}
	ok(t)(r.Add(ctx, "dev", []string{files[2]}, AddOptions{}))
	checkChannel(t, r, "dev", "app-1.2-1.noarch", "app-2.0~rc1-1.noarch")
}

var errInjected = errors.New("injected failure")

func TestCrashLeavesValidMetadata(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "root")
	fs := &failingStore{DirStore: NewDirStore(dir, Hardlink, true)}
	r := reopen(t, dir, Options{Store: fs})
	src := t.TempDir()
	v1 := buildPkg(t, src, "hello", "1", "1", "", nil)
	v2 := buildPkg(t, src, "hello", "2", "1", "", nil)
	v3 := buildPkg(t, src, "hello", "3", "1", "", nil)
	ok(t)(r.Add(ctx, "dev", []string{v1}, AddOptions{}))

	// The publish fails, the undo works: nothing changed.
	fs.failRepomd = 1
	_, err := r.Add(ctx, "dev", []string{v2}, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("failed add: %v", err)
	}
	checkChannel(t, r, "dev", "hello-1-1.noarch")
	if h, _ := r.History(ctx, "dev"); len(h) != 1 {
		t.Errorf("history has %d snapshots", len(h))
	}

	// Interrupted (^C): undone too, although the context is cancelled.
	cctx, cancel := context.WithCancel(ctx)
	fs.cancel = cancel
	_, err = r.Add(cctx, "dev", []string{v2}, AddOptions{})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("interrupted add: %v", err)
	}
	checkChannel(t, r, "dev", "hello-1-1.noarch")

	// The publish and the undo fail (a crash): the snapshot is pending,
	// clients still get valid metadata of revision 1.
	fs.failRepomd, fs.failRemove = 1, 1
	_, err = r.Add(ctx, "dev", []string{v2}, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "revision 2 is recorded as pending") {
		t.Fatalf("failed add: %v", err)
	}
	res, err := repo.Check(ctx, &repo.DirStorage{Root: filepath.Join(dir, "dev")})
	if err != nil {
		t.Fatalf("metadata after the crash: %v", err)
	}
	if res.Packages != 1 {
		t.Errorf("metadata after the crash has %d packages", res.Packages)
	}
	// The next change publishes revision 2 first.
	res2 := ok(t)(r.Add(ctx, "dev", []string{v3}, AddOptions{}))
	if res2.Recovered == nil || res2.Recovered.Revision != 2 || res2.Snapshot.Revision != 3 {
		t.Errorf("recovered %+v, snapshot %+v", res2.Recovered, res2.Snapshot)
	}
	checkChannel(t, r, "dev", "hello-1-1.noarch", "hello-2-1.noarch", "hello-3-1.noarch")
	h, _ := r.History(ctx, "dev")
	for _, s := range h {
		if s.Pending {
			t.Errorf("revision %d still pending", s.Revision)
		}
	}

	// A crash between the links and repomd.xml with a removal: the channel
	// directory is reconciled with the pending snapshot. (The packages
	// leaving stay until the new repomd.xml is in place, so for the undo to
	// need a link, and fail, one is lost first.)
	os.Remove(filepath.Join(dir, "dev", "Packages", "hello-1-1.noarch.rpm"))
	fs.failRepomd, fs.failLink = 1, 1
	if _, err := r.Prune(ctx, "dev", 1); err == nil || !strings.Contains(err.Error(), "revision 4 is recorded as pending") {
		t.Fatalf("failed prune: %v", err)
	}
	if _, err := repo.Check(ctx, &repo.DirStorage{Root: filepath.Join(dir, "dev")}); err != nil {
		t.Fatalf("metadata after the crash: %v", err)
	}
	os.Remove(filepath.Join(dir, "dev", "Packages", "hello-3-1.noarch.rpm"))
	os.WriteFile(filepath.Join(dir, "dev", "Packages", "stray.rpm"), []byte("x"), 0o644)
	res2 = ok(t)(r.Promote(ctx, "dev", "prod", []string{"hello"}, PromoteOptions{}))
	if res2.Recovered != nil {
		t.Errorf("promote recovered %s, not its channel", res2.Channel)
	}
	res2 = ok(t)(r.Rollback(ctx, "dev", 3))
	if res2.Recovered == nil || res2.Recovered.Revision != 4 {
		t.Errorf("recovered %+v", res2.Recovered)
	}
	checkChannel(t, r, "dev", "hello-1-1.noarch", "hello-2-1.noarch", "hello-3-1.noarch")
}

// failingStore fails the next failRepomd writes of a repomd.xml, the next
// failRemove removals of packages and the next failLink links.
type failingStore struct {
	*DirStore
	failRepomd, failRemove, failLink int
	// cancel, if set, is called instead of the next write of a repomd.xml
	// (an interrupted command).
	cancel func()
}

func (f *failingStore) Remove(ctx context.Context, name string) error {
	if strings.Contains(name, "/Packages/") && f.failRemove > 0 {
		f.failRemove--
		return errInjected
	}
	return f.DirStore.Remove(ctx, name)
}

func (f *failingStore) Link(ctx context.Context, pool, name string) error {
	if f.failLink > 0 {
		f.failLink--
		return errInjected
	}
	return f.DirStore.Link(ctx, pool, name)
}

func (f *failingStore) WriteFile(ctx context.Context, name string, r io.Reader) error {
	if strings.HasSuffix(name, "repodata/repomd.xml") && f.cancel != nil {
		f.cancel()
		f.cancel = nil
		return ctx.Err()
	}
	if strings.HasSuffix(name, "repodata/repomd.xml") && f.failRepomd > 0 {
		f.failRepomd--
		return errInjected
	}
	return f.DirStore.WriteFile(ctx, name, r)
}

func TestLinkModes(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []LinkMode{Symlink, Copy} {
		t.Run(string(mode), func(t *testing.T) {
			r := newRoot(t, "link = \""+string(mode)+"\"\n", Options{})
			v1 := buildPkg(t, t.TempDir(), "hello", "1", "1", "", nil)
			ok(t)(r.Add(ctx, "dev", []string{v1}, AddOptions{}))
			ok(t)(r.Promote(ctx, "dev", "prod", []string{"hello"}, PromoteOptions{}))
			checkChannel(t, r, "prod", "hello-1-1.noarch")
			p := filepath.Join(r.Dir, "prod", "Packages", "hello-1-1.noarch.rpm")
			st, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			switch mode {
			case Symlink:
				target, _ := os.Readlink(p)
				if st.Mode()&os.ModeSymlink == 0 || !strings.HasPrefix(target, "../../pool/") {
					t.Errorf("%s: mode %v, target %q", p, st.Mode(), target)
				}
			case Copy:
				if !st.Mode().IsRegular() || st.Sys().(*syscall.Stat_t).Nlink != 1 {
					t.Errorf("%s: not a copy", p)
				}
			}
			// Rollback removes the link (or copy) and keeps the pool object.
			ok(t)(r.Add(ctx, "prod", []string{buildPkg(t, t.TempDir(), "other", "1", "1", "", nil)}, AddOptions{}))
			ok(t)(r.Rollback(ctx, "prod", 0))
			checkChannel(t, r, "prod", "hello-1-1.noarch")
		})
	}
}

func TestSignedChannelNeedsKey(t *testing.T) {
	ctx := context.Background()
	r := newRoot(t, "", Options{Signer: testKey(t, "ed25519")})
	ok(t)(r.Add(ctx, "dev", []string{buildPkg(t, t.TempDir(), "a", "1", "1", "", nil)}, AddOptions{}))
	r2 := reopen(t, r.Dir, Options{})
	_, err := r2.Add(ctx, "dev", []string{buildPkg(t, t.TempDir(), "b", "1", "1", "", nil)}, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "channel dev is signed by key "+ed25519FPR+": pass its private key") {
		t.Fatalf("unsigned publish of a signed channel: %v", err)
	}
	// Other channels are not affected.
	ok(t)(r2.Add(ctx, "staging", []string{buildPkg(t, t.TempDir(), "b", "1", "1", "", nil)}, AddOptions{}))
	r3 := reopen(t, r.Dir, Options{AllowUnsigned: true})
	ok(t)(r3.Add(ctx, "dev", []string{buildPkg(t, t.TempDir(), "c", "1", "1", "", nil)}, AddOptions{}))
	if _, err := os.Stat(filepath.Join(r.Dir, "dev", "repodata", "repomd.xml.asc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale signature: %v", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct{ cfg, want string }{
		{"channels = [\"dev\", \"pool\"]", `"pool" is not a valid channel name`},
		{"channels = [\"dev\", \"dev\"]", `"dev" is listed twice`},
		{"chanels = [\"dev\"]", "unknown key chanels"},
		{"link = \"reflink\"", "want hardlink, symlink or copy"},
		{"grace = \"1 day\"", "grace"},
		{"[channel.qa]\nrequire_key = \"" + rsaFPR + "\"", "[channel.qa]: not in channels"},
		{"[channel.prod]\nrequire_key = \"xyz\"", "require_key = \"xyz\""},
		{"compress = \"lz4\"", "compress"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ConfigName), []byte(tc.cfg), 0o644)
		_, err := LoadConfig(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ConfigName) {
			t.Errorf("%q: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	dir := filepath.Join(t.TempDir(), "acme")
	os.MkdirAll(dir, 0o755)
	c, err := LoadConfig(dir)
	if err != nil || c.Name != "acme" || strings.Join(c.Channels, ",") != "dev,staging,prod" || c.Link != Hardlink ||
		c.Grace.Duration != DefaultGrace || c.KeyName() != "RPM-GPG-KEY-acme" {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

// TestConfigExample parses the documented example configuration.
func TestConfigExample(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "channel", ConfigName))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, ConfigName), b, 0o644)
	c, err := LoadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "acme" || c.Channel["prod"].RequireKey != rsaFPR || c.Grace.Duration != DefaultGrace ||
		c.RetainSnapshots != DefaultRetainSnapshots || c.KeepGenerations != 3 || len(c.Keyring) != 1 {
		t.Errorf("%+v", c)
	}
}

func TestAddRefusesConflictsInOneCall(t *testing.T) {
	ctx := context.Background()
	r := newRoot(t, "", Options{})
	a := buildPkg(t, t.TempDir(), "hello", "1.0", "1", "a", nil)
	b := buildPkg(t, t.TempDir(), "hello", "1.0", "1", "b", nil)
	_, err := r.Add(ctx, "dev", []string{a, b}, AddOptions{})
	if err == nil || !strings.Contains(err.Error(), "two files given are hello-1.0-1.noarch with different bytes") {
		t.Fatalf("got %v", err)
	}
	// The same package twice is fine.
	res := ok(t)(r.Add(ctx, "dev", []string{a, a}, AddOptions{}))
	if len(res.Snapshot.Added) != 1 {
		t.Errorf("added %v", res.Snapshot.Added)
	}
	if ents, _ := os.ReadDir(filepath.Join(r.Dir, ".rpmforge", "tmp")); len(ents) != 0 {
		t.Errorf("temporary files left: %v", ents)
	}
}
