package repo

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestConformance compares, field by field, the package entries Publish
// writes with those createrepo_c --no-database writes for the same files:
// packages pkg/rpm wrote (the test corpus: glibc symbol versions, file
// requires, scriptlet requires, weak and rich dependencies, epochs, ghosts,
// directories, symlinks, changelogs sharing dates, XML metacharacters and
// UTF-8) and packages rpmbuild built (testdata/repo/tricky.spec, a source
// package included, and the specs of the other test suites), in
// subdirectories. Only repomd.xml's timestamps and revision differ by
// design. Packages whose texts hold control characters createrepo_c refuses
// outright; Publish keeps them, with U+FFFD in place of the characters.
func TestConformance(t *testing.T) {
	needTool(t, "createrepo_c")
	t.Parallel()
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 60, 1)
	var built []string
	for _, spec := range []string{
		"../../testdata/repo/tricky.spec",
		"../../testdata/rpm/demo.spec",
	} {
		built = append(built, rpmbuildAll(t, spec)...)
	}
	built = append(built, rpmbuildAll(t, "../../testdata/testroot/t.spec", "ver 1")...)
	for _, p := range built {
		sub := "built"
		if strings.HasSuffix(p, ".src.rpm") {
			sub = "SRPMS"
		}
		copyFile(t, p, filepath.Join(dir, sub, filepath.Base(p)))
	}
	t.Logf("compared fields: %s", fieldNames())

	for _, limit := range []int{DefaultChangelogLimit, 2, -1} {
		crOut := t.TempDir()
		args := []string{}
		if limit != DefaultChangelogLimit {
			args = append(args, "--changelog-limit", itoa(limit))
		}
		createrepo(t, dir, crOut, args...)
		publish(t, dir, Options{ChangelogLimit: limit})

		want := parseRepo(t, crOut)
		got := parseRepo(t, dir)
		check(t, dir)
		gotByID := got.byPkgID()
		for _, w := range want.packages {
			g := gotByID[w.Checksum.Value]
			if g == nil {
				t.Errorf("limit %d: %s (%s) missing", limit, w.Location.Href, w.Checksum.Value)
				continue
			}
			for _, d := range comparePackages(g, w) {
				t.Errorf("limit %d: %s: %s", limit, w.Location.Href, d)
			}
			delete(gotByID, w.Checksum.Value)
		}
		// The order is createrepo_c's: by file name, then directory.
		var wantOrder, gotOrder []string
		for _, w := range want.packages {
			wantOrder = append(wantOrder, w.Location.Href)
		}
		for _, g := range got.packages {
			if !slices.ContainsFunc(want.packages, func(w *xPackage) bool { return w.Checksum.Value == g.Checksum.Value }) {
				continue
			}
			gotOrder = append(gotOrder, g.Location.Href)
		}
		if !slices.Equal(gotOrder, wantOrder) {
			t.Errorf("limit %d: package order\ngot  %v\nwant %v", limit, gotOrder, wantOrder)
		}
		// What is left: the packages createrepo_c refused.
		var extra []string
		for _, g := range gotByID {
			extra = append(extra, g.Location.Href)
			if !strings.Contains(g.Description, "\uFFFD") {
				t.Errorf("%s: extra package without replaced control characters: %q", g.Location.Href, g.Description)
			}
		}
		slices.Sort(extra)
		wantExtra := []string{"built/tricky-ctl-2.0~rc1-1.x86_64.rpm", "pkg00010-1.3-1.x86_64.rpm", "pkg00024-1.3-1.x86_64.rpm",
			"pkg00038-1.3-1.x86_64.rpm", "pkg00052-1.3-1.x86_64.rpm"}
		if !slices.Equal(extra, wantExtra) {
			t.Errorf("limit %d: packages only rpmforge lists: %v, want %v", limit, extra, wantExtra)
		}
		t.Logf("limit %d: %d packages equal field by field, %d refused by createrepo_c", limit, len(want.packages), len(extra))
		// Clean the repodata so the next round starts afresh.
		os.RemoveAll(filepath.Join(dir, "repodata"))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
