package repo

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
	"github.com/rpmforge/rpmforge/pkg/rpm"
)

// hostileName has every XML metacharacter, quotes and spaces.
const hostileName = `a b&c<d>e"f'g`

// writeHostilePackage writes a small package named name to path whose
// payload holds files with XML metacharacters and non-ASCII UTF-8 (pkg/rpm
// refuses non-UTF-8 paths).
func writeHostilePackage(t testing.TB, path, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	md := rpm.Metadata{Name: name, Version: "1", Release: "1", Arch: "noarch",
		Summary: `summary & <b>"x"</b> 'y'`, License: "MIT"}
	content := []byte("x\n")
	open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(content)), nil }
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: 0o755 | os.ModeDir},
		{Path: "/opt/" + name + "/" + hostileName, Mode: 0o644, Size: int64(len(content)), Open: open},
		{Path: "/opt/" + name + "/café crème", Mode: 0o644, Size: int64(len(content)), Open: open},
	}
	if _, err := rpm.Write(context.Background(), f, md, entries, rpm.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestHostileNames: a repository whose directory, subdirectory and package
// file names carry spaces, &, <, >, and quotes, and packages whose payload
// paths carry them and non-UTF-8 bytes, publish as well-formed, escaped
// metadata that parses back to the same names; dnf (unless -short) reads
// it and installs from it.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "re po &<>\"'")
	files := map[string]string{ // href -> package name
		"x &<>\"' y-1-1.noarch.rpm":         "hostile1",
		"sub dir &'\"/z <1>-1-1.noarch.rpm": "hostile2",
		"plain-1-1.noarch.rpm":              "hostile3",
	}
	for href, name := range files {
		writeHostilePackage(t, filepath.Join(dir, filepath.FromSlash(href)), name)
	}
	res := publish(t, dir, Options{})
	if res.Packages != len(files) || len(res.Skipped) != 0 {
		t.Fatalf("published %d, skipped %v", res.Packages, res.Skipped)
	}
	check(t, dir)
	r := parseRepo(t, dir)
	seen := map[string]bool{}
	for _, p := range r.packages {
		name, ok := files[p.Location.Href]
		if !ok || name != p.Name {
			t.Errorf("location %q for %s: not one of the files", p.Location.Href, p.Name)
		}
		seen[p.Location.Href] = true
		if p.Summary != `summary & <b>"x"</b> 'y'` {
			t.Errorf("summary %q", p.Summary)
		}
		var paths []string
		for _, f := range p.Filelists.Files {
			paths = append(paths, f.Path)
		}
		all := strings.Join(paths, "\n")
		if !strings.Contains(all, "/"+hostileName) || !strings.Contains(all, "/café crème") {
			t.Errorf("%s: filelists %q lack the hostile paths", p.Name, paths)
		}
	}
	if len(seen) != len(files) {
		t.Errorf("locations %v, want %d files", seen, len(files))
	}
	// The raw XML escapes what must be escaped.
	b, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	if err := wellFormed(b); err != nil {
		t.Fatal(err)
	}

	if testing.Short() {
		return
	}
	needTool(t, "dnf")
	// dnf is given the repository through a plain-named link (testroot
	// does not escape its file:// URL); the hrefs keep their characters.
	link := filepath.Join(t.TempDir(), "repo")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	root := testroot.New(t)
	must(t)(root.Dnf(link, "makecache"))
	out := must(t)(root.Dnf(link, "repoquery", "--location", "hostile*"))
	for href := range files {
		if !strings.Contains(out, strings.ReplaceAll(href, " ", "%20")) && !strings.Contains(out, href) {
			t.Errorf("repoquery --location lacks %q:\n%s", href, out)
		}
	}
	must(t)(root.Dnf(link, "install", "hostile1", "hostile2"))
	out = must(t)(root.RPM("-ql", "hostile1", "hostile2"))
	if strings.Count(out, hostileName) != 2 {
		t.Errorf("rpm -ql after install:\n%s", out)
	}
}

// TestNonUTF8FileName: a package file whose name is not UTF-8 is skipped
// with an error naming it: createrepo_c would publish it under its Latin-1
// reading, an href that names no file.
func TestNonUTF8FileName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeHostilePackage(t, filepath.Join(dir, "caf\xe9-1-1.noarch.rpm"), "latin1")
	writeHostilePackage(t, filepath.Join(dir, "ok-1-1.noarch.rpm"), "ok")
	res := publish(t, dir, Options{})
	if res.Packages != 1 || len(res.Skipped) != 1 || !errors.Is(res.Skipped[0].Err, ErrInvalid) ||
		!strings.Contains(res.Skipped[0].Error(), "caf\xe9-1-1.noarch.rpm") || !strings.Contains(res.Skipped[0].Error(), "not UTF-8") {
		t.Errorf("%d packages, skipped %v", res.Packages, res.Skipped)
	}
	r := parseRepo(t, dir)
	for _, p := range r.packages {
		if _, err := os.Stat(filepath.Join(dir, p.Location.Href)); err != nil {
			t.Errorf("published location %q does not name a file: %v", p.Location.Href, err)
		}
	}
	check(t, dir)
}

// TestBadPackagesWithHostileNames: 0-byte, truncated and garbage .rpm files
// whose names have spaces and metacharacters are reported by name and
// skipped; --strict fails naming them and leaves the metadata alone.
func TestBadPackagesWithHostileNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeHostilePackage(t, filepath.Join(dir, "good-1-1.noarch.rpm"), "good")
	publish(t, dir, Options{})
	before, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
	good, _ := os.ReadFile(filepath.Join(dir, "good-1-1.noarch.rpm"))
	bad := map[string][]byte{
		"zero &<>'\" .rpm":    nil,
		"trunc ated &.rpm":    good[:len(good)-10],
		"gar bage \"'<>&.rpm": bytes.Repeat([]byte("\xed\xab\xee\xdb garbage"), 100),
		"lead only <x>.rpm":   good[:96],
		"header only & y.rpm": good[:200],
	}
	for name, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Publish(context.Background(), dir, Options{Strict: true, NoSync: true, racyWindow: -1})
	if err == nil {
		t.Fatal("strict publish succeeded")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("strict error does not name %q: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("strict error is not one line: %q", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml")); !bytes.Equal(before, after) {
		t.Error("strict publish changed repomd.xml")
	}
	res := publish(t, dir, Options{})
	if len(res.Skipped) != len(bad) || res.Packages != 1 || !res.Unchanged {
		t.Errorf("skipped %v, %d packages, unchanged %v", res.Skipped, res.Packages, res.Unchanged)
	}
	for _, s := range res.Skipped {
		if !errors.Is(s.Err, ErrInvalid) || strings.Contains(s.Error(), "\n") {
			t.Errorf("%q", s.Error())
		}
	}
	if c := check(t, dir); c.Packages != 1 {
		t.Errorf("%d packages published", c.Packages)
	}
}

// allocDuring returns the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHugeCountClaims: metadata and cache files claiming billions of
// packages cost what their bytes cost, not what they claim, and an
// incremental publish over them recovers.
func TestHugeCountClaims(t *testing.T) {
	const limit = 4 << 20
	// primary.xml as Check reads it.
	for _, doc := range []string{
		`<metadata packages="9223372036854775807"><package><checksum>ab</checksum></package></metadata>`,
		`<metadata packages="4294967296"></metadata>`,
	} {
		var err error
		if n := allocDuring(func() { _, err = packageIDs(Primary, []byte(doc)) }); n > limit {
			t.Errorf("packageIDs allocated %d bytes for %q", n, doc)
		}
		if err == nil || !strings.Contains(err.Error(), "packages=") {
			t.Errorf("packageIDs(%q): %v, want a count mismatch", doc, err)
		}
	}
	// The state file: counts of chunks, packages, generations.
	for _, body := range [][]byte{
		binary.AppendUvarint(binary.AppendUvarint(nil, stateVersion), 1<<62),
		binary.AppendUvarint(append(binary.AppendUvarint(nil, stateVersion), 0, 0, 0, 0), 1<<40),
	} {
		var err error
		if n := allocDuring(func() { _, err = unmarshalState(withCRC(stateMagic, body)) }); n > limit {
			t.Errorf("unmarshalState allocated %d bytes", n)
		}
		if err == nil {
			t.Error("unmarshalState accepted a huge count")
		}
	}
	// A chunk claiming 2^40 packages.
	var err error
	if n := allocDuring(func() { _, err = unmarshalChunk("k", withCRC(chunkMagic, binary.AppendUvarint(nil, 1<<40))) }); n > limit {
		t.Errorf("unmarshalChunk allocated %d bytes", n)
	}
	if err == nil {
		t.Error("unmarshalChunk accepted a huge count")
	}

	// A published repository whose state, repomd.xml and primary claim
	// huge counts: the next publish replaces them.
	dir := t.TempDir()
	writeCorpus(t, dir, 0, 3, 1)
	publish(t, dir, Options{})
	stateFile := filepath.Join(dir, ".rpmforge", "state")
	if err := os.WriteFile(stateFile, withCRC(stateMagic, binary.AppendUvarint(binary.AppendUvarint(nil, stateVersion), 1<<62)), 0o644); err != nil {
		t.Fatal(err)
	}
	md := `<?xml version="1.0"?><repomd><data type="primary"><location href="repodata/primary.xml"/><size>99999999999</size><open-size>99999999999</open-size></data></repomd>`
	if err := os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "repodata", "primary.xml"), []byte(`<metadata packages="99999999999"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	var res *Result
	if n := allocDuring(func() { res = publish(t, dir, Options{}) }); n > 256<<20 {
		t.Errorf("publish allocated %d bytes", n)
	}
	if res.Packages != 3 {
		t.Errorf("%d packages", res.Packages)
	}
	if c := check(t, dir); c.Packages != 3 {
		t.Errorf("check: %d packages", c.Packages)
	}
}
