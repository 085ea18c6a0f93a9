package repo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/rpmver"
)

// metadataFiles returns the locations repomd.xml names, by type.
func metadataFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := ParseRepomd(b)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, r := range md.Records {
		m[r.Type] = r.Location
	}
	return m
}

// fromScratch publishes a copy of dir's packages without any cache and
// returns its metadata file names: incremental publishes must give the
// same bytes.
func fromScratch(t testing.TB, dir string, o Options) map[string]string {
	t.Helper()
	fresh := t.TempDir()
	ms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
	for _, m := range ms {
		copyFile(t, m, filepath.Join(fresh, filepath.Base(m)))
		st, _ := os.Stat(m)
		os.Chtimes(filepath.Join(fresh, filepath.Base(m)), st.ModTime(), st.ModTime())
	}
	publish(t, fresh, o)
	return metadataFiles(t, fresh)
}

func TestIncremental(t *testing.T) {
	t.Parallel()
	for _, c := range []Compression{Gzip, Zstd, Xz} {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := Options{Compression: c}
			writeCorpus(t, dir, 0, 200, 1)
			res := publish(t, dir, o)
			if res.Read != 200 || len(res.Added) != 200 || res.Packages != 200 || res.Chunks < 2 {
				t.Fatalf("first publish: %+v", res)
			}
			if c := check(t, dir); c.Packages != 200 {
				t.Fatalf("check: %d packages", c.Packages)
			}

			// Nothing changed: nothing written.
			res = publish(t, dir, o)
			if !res.Unchanged || len(res.Written) != 0 || res.Read != 0 {
				t.Fatalf("unchanged publish: %+v", res)
			}

			// One package added: only it is read, one chunk rebuilt.
			extra := writeCorpus(t, t.TempDir(), 500, 501, 1)[0]
			copyFile(t, extra, filepath.Join(dir, filepath.Base(extra)))
			res = publish(t, dir, o)
			if res.Read != 1 || !slices.Equal(res.Added, []string{filepath.Base(extra)}) || res.Packages != 201 {
				t.Fatalf("add: %+v", res)
			}
			if c.members() && res.ChunksReused != res.Chunks-1 {
				t.Errorf("add: %d of %d chunks reused, want all but one", res.ChunksReused, res.Chunks)
			}
			check(t, dir)
			if got, want := metadataFiles(t, dir), fromScratch(t, dir, o); !equalOwn(got, want) {
				t.Errorf("after adding, incremental metadata differs from a full publish:\n%v\n%v", got, want)
			}

			// One removed: nothing read.
			os.Remove(filepath.Join(dir, "pkg00100-1.2-1.x86_64.rpm"))
			res = publish(t, dir, o)
			if res.Read != 0 || !slices.Equal(res.Removed, []string{"pkg00100-1.2-1.x86_64.rpm"}) || res.Packages != 200 {
				t.Fatalf("remove: %+v", res)
			}
			check(t, dir)
			if got, want := metadataFiles(t, dir), fromScratch(t, dir, o); !equalOwn(got, want) {
				t.Errorf("after removing, incremental metadata differs from a full publish:\n%v\n%v", got, want)
			}
		})
	}
}

func equalOwn(a, b map[string]string) bool {
	for _, k := range kindNames {
		if a[k] != b[k] || a[k] == "" {
			return false
		}
	}
	return true
}

// TestRebuiltSameName replaces a package by different bytes of the same
// size under the same name, with the mtime put back: the change is seen
// (ctime), and no stale checksum is served.
func TestRebuiltSameName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	paths := writeCorpus(t, dir, 0, 5, 1)
	publish(t, dir, Options{})
	victim := paths[2]
	st, _ := os.Stat(victim)
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-20] ^= 0xff // a payload byte: the header stays valid
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(victim, st.ModTime(), st.ModTime())
	res := publish(t, dir, Options{})
	if !slices.Equal(res.Changed, []string{filepath.Base(victim)}) || res.Read != 1 {
		t.Fatalf("rebuilt package not detected: %+v", res)
	}
	got := parseRepo(t, dir)
	p, err := ReadPackageFile(victim, filepath.Base(victim), ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.byPkgID()[p.PkgID] == nil {
		t.Errorf("repodata does not list the new checksum %s", p.PkgID)
	}
}

// TestRacy: a file rewritten within the racy window of the read is read
// again by the next publish even when size, mtime and ctime look the same.
func TestRacy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 3, 1)
	res := publish(t, dir, Options{racyWindow: time.Hour})
	if res.Read != 3 {
		t.Fatal(res)
	}
	res = publish(t, dir, Options{racyWindow: time.Hour})
	if res.Read != 3 || !res.Unchanged {
		t.Fatalf("racy files not read again, or output changed: %+v", res)
	}
	publish(t, dir, Options{}) // reads them, now not racy
	res = publish(t, dir, Options{})
	if res.Read != 0 {
		t.Fatalf("files read although not racy: %+v", res)
	}
}

func TestInvalidFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	paths := writeCorpus(t, dir, 0, 4, 1)
	publish(t, dir, Options{})
	before, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))

	good, _ := os.ReadFile(paths[0])
	gp, err := ReadPackageFile(paths[0], "x", ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty.rpm":     nil,
		"garbage.rpm":   []byte("this is not an rpm package at all, just text\n"),
		"truncated.rpm": good[:len(good)/2],
		"header.rpm":    flipAt(good, int(gp.HeaderStart+200)), // inside the main header: its digest fails
		"lead.rpm":      good[:100],
	}
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// --strict: the publish fails naming every file; nothing changes.
	_, err = Publish(context.Background(), dir, Options{Strict: true, NoSync: true, racyWindow: -1})
	if err == nil {
		t.Fatal("strict publish succeeded")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("strict error does not name %s: %v", name, err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml")); !bytes.Equal(before, after) {
		t.Error("strict publish changed repomd.xml")
	}

	res := publish(t, dir, Options{})
	if len(res.Skipped) != len(bad) {
		t.Errorf("skipped %v, want %d files", res.Skipped, len(bad))
	}
	for _, s := range res.Skipped {
		if !errors.Is(s.Err, ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", s.Path, s.Err)
		}
		t.Logf("skipped %s", s.Error())
	}
	if c := check(t, dir); c.Packages != 4 {
		t.Errorf("%d packages published, want 4", c.Packages)
	}
	if !res.Unchanged {
		t.Errorf("skipping invalid files changed the metadata: %+v", res)
	}
}

func flipAt(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x55
	return c
}

func TestLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 2, 1)
	unlock, err := lockRepo(context.Background(), filepath.Join(dir, ".rpmforge"), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Publish(context.Background(), dir, Options{NoWait: true, NoSync: true})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second publisher with NoWait: %v, want ErrLocked", err)
	}
	t.Logf("%v", err)
	done := make(chan error, 1)
	go func() {
		_, err := Publish(context.Background(), dir, Options{NoSync: true})
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("waiting publisher finished while the lock was held: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waiting publisher did not finish after the lock was released")
	}
	// A cancelled waiter gives up.
	unlock, _ = lockRepo(context.Background(), filepath.Join(dir, ".rpmforge"), true, nil)
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Publish(ctx, dir, Options{NoSync: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled waiter: %v", err)
	}
}

// TestGenerations: the files of the previous KeepGenerations-1 repomd.xml
// stay (a client holding an old repomd.xml gets no 404), older ones go;
// the files of a repomd.xml another tool wrote get the same grace; records
// other tools added (updateinfo) are carried over.
func TestGenerations(t *testing.T) {
	t.Parallel()
	needTool(t, "createrepo_c")
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 3, 1)
	createrepo(t, dir, dir)
	// modifyrepo would add updateinfo; add a record by hand.
	upd := []byte("<updates/>\n")
	os.WriteFile(filepath.Join(dir, "repodata", "updateinfo.xml"), upd, 0o644)
	b, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	b = bytes.Replace(b, []byte("</repomd>"), []byte(`  <data type="updateinfo">
    <checksum type="sha256">`+sha256hex(upd)+`</checksum>
    <location href="repodata/updateinfo.xml"/>
    <timestamp>1</timestamp>
    <size>11</size>
  </data>
</repomd>`), 1)
	os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), b, 0o644)
	gen0 := metadataFiles(t, dir)

	exists := func(loc string) bool {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(loc)))
		return err == nil
	}
	var gens []map[string]string
	for i := 0; i < 3; i++ {
		writeCorpus(t, dir, 10+i, 11+i, 1)
		publish(t, dir, Options{KeepGenerations: 2})
		gens = append(gens, metadataFiles(t, dir))
		if gens[i]["updateinfo"] != "repodata/updateinfo.xml" {
			t.Errorf("generation %d: updateinfo record not carried over: %v", i, gens[i])
		}
		check(t, dir)
	}
	// After 3 publishes with KeepGenerations 2: gen0 (createrepo_c's) and
	// gens[0] are gone, gens[1] and gens[2] are there.
	for _, k := range kindNames {
		if exists(gen0[k]) {
			t.Errorf("createrepo_c's %s still there after its grace period", gen0[k])
		}
		if exists(gens[0][k]) {
			t.Errorf("%s still there after its grace period", gens[0][k])
		}
		if !exists(gens[1][k]) || !exists(gens[2][k]) {
			t.Errorf("%s files of the kept generations removed", k)
		}
	}
	if !exists("repodata/updateinfo.xml") {
		t.Error("updateinfo.xml removed")
	}
}

// TestControlCharacterFileName: a package whose file list holds a control
// character cannot be represented in XML 1.0; it is refused, as by
// createrepo_c, and reported by name.
func TestControlCharacterFileName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 2, 1)
	md := rpm.Metadata{Name: "ctl", Version: "1", Release: "1", Arch: "noarch", Summary: "s", License: "MIT"}
	f, err := os.Create(filepath.Join(dir, "ctl-1-1.noarch.rpm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rpm.Write(context.Background(), f, md, []rpm.Entry{{Path: "/opt/a\x01b", Mode: 0o644}}, rpm.Options{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res := publish(t, dir, Options{})
	if res.Packages != 2 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Error(), "ctl-1-1.noarch.rpm") ||
		!strings.Contains(res.Skipped[0].Error(), "control character") || !errors.Is(res.Skipped[0].Err, ErrInvalid) {
		t.Errorf("got %d packages, skipped %v", res.Packages, res.Skipped)
	}
	check(t, dir)
}

func TestStrings(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"caf\xe9 cr\xe8me", "café crème"},
		{"\x93quoted\x94 \x01x", "quoted x"}, // CP-1252 quotes and C0 dropped
		{"ünï", "ünï"},
	} {
		if got := toUTF8(c.in); got != c.want {
			t.Errorf("toUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := cleanText("a\x07b\tc\n"); got != "a\uFFFDb\tc\n" {
		t.Errorf("cleanText: %q", got)
	}
	for _, c := range []struct{ in, e, v, r string }{
		{"1.0", "0", "1.0", ""},
		{"1.0-1", "0", "1.0", "1"},
		{"2:1.0-1.el9", "2", "1.0", "1.el9"},
		{":1.0", "0", "1.0", ""},
		{"1.0-1-2", "0", "1.0", "1-2"},
	} {
		e, v, r, ok := splitEVR(c.in)
		if !ok || e != c.e || v != c.v || r != c.r {
			t.Errorf("splitEVR(%q) = %q %q %q %v", c.in, e, v, r, ok)
		}
	}
	if _, _, _, ok := splitEVR("x:1.0"); ok {
		t.Error("splitEVR accepted a non-numeric epoch")
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"libc.so.6(GLIBC_2.4)(64bit)", "libc.so.6(GLIBC_2.34)(64bit)", 2},
		{"libc.so.6(GLIBC_2.34)(64bit)", "libc.so.6(GLIBC_2.4)(64bit)", 1},
		{"libc.so.6()(64bit)", "libc.so.6(GLIBC_2.2.5)(64bit)", 2},
		{"libc.so.6", "libc.so.6(GLIBC_2.2.5)(64bit)", 2},
	} {
		if got := compareLibcDep(c.a, c.b); got != c.want {
			t.Errorf("compareLibcDep(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0}, {"1.0", "1.1", -1}, {"1.10", "1.9", 1}, {"1.0~rc1", "1.0", -1},
		{"1.0^git1", "1.0", 1}, {"1.0^git1", "1.0.1", -1}, {"a", "1", -1}, {"2.34", "2.4", 1},
	} {
		if got := rpmver.Vercmp(c.a, c.b); got != c.want {
			t.Errorf("rpmver.Vercmp(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestDamagedCache: torn or deleted cache files cost time, not the
// publish: what they held is read again, and the result is what a publish
// from scratch gives.
func TestDamagedCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 150, 1)
	publish(t, dir, Options{})
	chunks, _ := filepath.Glob(filepath.Join(dir, ".rpmforge", "chunks", "*"))
	if len(chunks) < 1 {
		t.Fatalf("%d chunks", len(chunks))
	}
	// Tear every chunk: the next publish with a change reads everything
	// again; then a missing state.
	for _, c := range chunks {
		b, _ := os.ReadFile(c)
		os.WriteFile(c, b[:len(b)/2], 0o644)
	}
	writeCorpus(t, dir, 300, 301, 1)
	res := publish(t, dir, Options{})
	if res.Packages != 151 || res.Read == 0 {
		t.Fatalf("after tearing the cache: %+v", res)
	}
	check(t, dir)
	if got, want := metadataFiles(t, dir), fromScratch(t, dir, Options{}); !equalOwn(got, want) {
		t.Errorf("metadata differs from a publish from scratch")
	}
	os.Remove(filepath.Join(dir, ".rpmforge", "state"))
	res = publish(t, dir, Options{})
	// Without state, the repomd.xml found is not known to be ours: it is
	// written again, the metadata files are the same.
	if res.Read != 151 || !slices.Equal(res.Written, []string{repomdName}) {
		t.Errorf("without state: read %d, wrote %v", res.Read, res.Written)
	}
}
