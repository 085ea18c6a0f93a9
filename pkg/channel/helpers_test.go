package channel

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// Test keys committed under testdata/keys (see its README).
const (
	rsaFPR     = "CE74B1C663C360D54E02FE5A86B7BA63D3D10ECF"
	ed25519FPR = "A7729D9637A204565FEE91EC0E806AEBD6A059FD"
)

func keyPath(name, kind string) string {
	return filepath.Join("..", "..", "testdata", "keys", name+"."+kind+".asc")
}

func testKey(t testing.TB, name string) *sign.Key {
	t.Helper()
	k, err := sign.LoadFile(keyPath(name, "sec"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var buildTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// buildPkg writes a small noarch package NAME-VERSION-RELEASE into dir;
// body varies its bytes. s may be nil (unsigned).
func buildPkg(t testing.TB, dir, name, version, release, body string, s rpm.Signer) string {
	t.Helper()
	md := rpm.Metadata{
		Name: name, Version: version, Release: release, Arch: "noarch",
		Summary: "channel test package", License: "MIT", BuildTime: buildTime,
	}
	content := "this is " + name + " " + version + "-" + release + "\n" + body
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: fs.ModeDir | 0o755, MTime: buildTime},
		{Path: "/opt/" + name + "/version.txt", Mode: 0o644, MTime: buildTime, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }},
	}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{Signer: s, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-"+version+"-"+release+".noarch.rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// clock is a settable clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newRoot opens a root in a temporary directory with cfg as its
// rpmforge-channels.toml ("" for none).
func newRoot(t testing.TB, cfg string, opts Options) *Root {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "myrepo")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if cfg != "" {
		if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return reopen(t, dir, opts)
}

func reopen(t testing.TB, dir string, opts Options) *Root {
	t.Helper()
	opts.NoSync = true
	if opts.User == "" {
		opts.User = "tester"
	}
	r, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// nevras returns the NEVRAs of a channel's current packages.
func nevras(t testing.TB, r *Root, ch string) []string {
	t.Helper()
	pkgs, _, err := r.Packages(context.Background(), ch, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, p := range pkgs {
		out = append(out, p.NEVRA())
	}
	return out
}

var hrefRE = regexp.MustCompile(`<location href="([^"]*)"`)

// checkChannel verifies a channel as a client would: repo.Check, primary's
// hrefs inside the channel directory (zypper refuses ../ and xml:base),
// every href a file there, and the NEVRAs want.
func checkChannel(t testing.TB, r *Root, ch string, want ...string) {
	t.Helper()
	dir := filepath.Join(r.Dir, ch)
	res, err := repo.Check(context.Background(), &repo.DirStorage{Root: dir})
	if err != nil {
		t.Fatalf("%s: repo.Check: %v", ch, err)
	}
	if res.Packages != len(want) {
		t.Errorf("%s: %d packages published, want %d", ch, res.Packages, len(want))
	}
	primary := res.Repomd.Record("primary")
	f, err := os.Open(filepath.Join(dir, primary.Location))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(xml, []byte("xml:base")) {
		t.Errorf("%s: primary uses xml:base", ch)
	}
	var hrefs []string
	for _, m := range hrefRE.FindAllSubmatch(xml, -1) {
		h := string(m[1])
		hrefs = append(hrefs, h)
		if strings.Contains(h, "..") || strings.HasPrefix(h, "/") {
			t.Errorf("%s: href %q leaves the channel directory", ch, h)
		}
		if _, err := os.Stat(filepath.Join(dir, h)); err != nil {
			t.Errorf("%s: href %q: %v", ch, h, err)
		}
	}
	var wantHrefs []string
	for _, n := range want {
		wantHrefs = append(wantHrefs, "Packages/"+strings.TrimSuffix(n, ".noarch")+".noarch.rpm")
	}
	sort.Strings(hrefs)
	sort.Strings(wantHrefs)
	if strings.Join(hrefs, " ") != strings.Join(wantHrefs, " ") {
		t.Errorf("%s: hrefs %q, want %q", ch, hrefs, wantHrefs)
	}
	if got := nevras(t, r, ch); strings.Join(got, " ") != strings.Join(sorted(want), " ") {
		t.Errorf("%s: snapshot has %q, want %q", ch, got, want)
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// ok fails the test on an error: ok(t)(r.Add(...)).
func ok(t testing.TB) func(*Result, error) *Result {
	return func(res *Result, err error) *Result {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
}
