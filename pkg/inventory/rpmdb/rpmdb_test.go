package rpmdb

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gorpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

const testdata = "../../../testdata/rpmdb"

func fileSum(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// The expected values are those of testdata/rpmdb/README.md.
func TestReadGoRpmdbFixtures(t *testing.T) {
	for _, tc := range []struct {
		path, backend, first string
		count                int
		vendor, license      string
	}{
		{"go-rpmdb/bdb-el8-libuuid/Packages", BDB, "libuuid-2.32.1-42.el8_8.x86_64", 1, "Red Hat, Inc.", "BSD"},
		{"go-rpmdb/ndb-sle15-bci/Packages.db", NDB, "system-user-root-20190513-3.3.1.noarch", 35, "SUSE LLC <https://www.suse.com/>", ""},
		{"go-rpmdb/sqlite-cbl-mariner-2.0/rpmdb.sqlite", SQLite, "mariner-release-2.0-4.cm2.noarch", 129, "Microsoft Corporation", "MIT"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			path := filepath.Join(testdata, tc.path)
			before := fileSum(t, path)
			h, err := Read(path, "")
			if err != nil {
				t.Fatal(err)
			}
			if h.Backend != tc.backend || len(h.Packages) != tc.count {
				t.Fatalf("backend %s with %d packages, want %s with %d", h.Backend, len(h.Packages), tc.backend, tc.count)
			}
			var first *inventory.Installed
			for i, p := range h.Packages {
				if p.NEVRA() == tc.first {
					first = &h.Packages[i]
				}
			}
			if first == nil {
				t.Fatalf("%s not among the packages", tc.first)
			}
			if first.Vendor != tc.vendor || (tc.license != "" && first.License != tc.license) {
				t.Errorf("%s: vendor %q licence %q", tc.first, first.Vendor, first.License)
			}
			if after := fileSum(t, path); after != before {
				t.Errorf("%s changed while being read", path)
			}
			// The same packages as go-rpmdb's own reader (on a copy).
			cp := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := copyFile(path, cp); err != nil {
				t.Fatal(err)
			}
			db, err := gorpmdb.Open(cp)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			theirs, err := db.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{}
			for _, p := range theirs {
				want[p.Name+"-"+inventory.FormatEVR(p.EpochNum(), p.Version, p.Release)+"."+p.Arch] = true
			}
			for _, p := range h.Packages {
				if !want[p.NEVRA()] {
					t.Errorf("%s not listed by go-rpmdb", p.NEVRA())
				}
			}
			if len(want) != len(h.Packages) {
				t.Errorf("go-rpmdb lists %d packages, Read %d", len(want), len(h.Packages))
			}
		})
	}
}

func TestReadBDBDetails(t *testing.T) {
	h, err := Read(filepath.Join(testdata, "go-rpmdb/bdb-el8-libuuid"), "el8")
	if err != nil {
		t.Fatal(err)
	}
	p := h.Packages[0]
	if h.Name != "el8" || p.Name != "libuuid" || p.SourceRPM != "util-linux-2.32.1-42.el8_8.src.rpm" {
		t.Errorf("got host %s, %+v", h.Name, p)
	}
	if want := time.Date(2023, 10, 4, 18, 37, 53, 0, time.UTC); !p.InstallTime.Equal(want) {
		t.Errorf("install time %v, want %v", p.InstallTime, want)
	}
	if want := "RSA/SHA256, Mon Apr  3 18:10:39 2023, Key ID 199e2f91fd431d51"; p.Signature != want || p.SigningKey != "199e2f91fd431d51" {
		t.Errorf("signature %q (key %s), want %q", p.Signature, p.SigningKey, want)
	}
}

func TestReadRpmforgeHosts(t *testing.T) {
	for _, tc := range []struct {
		host, mysite, sigmd5 string
	}{
		{"hostA", "1:1.2.3-1.el9", "33f54a60f13561288c7e450c0c6c248a"},
		{"hostB", "1:1.2.4-1.el9", "573f99686a54f13d6b989cbb813e5b28"},
	} {
		dir := filepath.Join(testdata, "rpmforge", tc.host)
		h, err := Read(dir, "")
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != tc.host || h.Backend != SQLite || len(h.Packages) != 2 {
			t.Fatalf("%s: %+v", tc.host, h)
		}
		hello, mysite := h.Packages[0], h.Packages[1]
		if mysite.Name != "mysite-app" || mysite.EVR() != tc.mysite || mysite.SIGMD5 != tc.sigmd5 || mysite.Vendor != "ACME Inc." {
			t.Errorf("%s: %+v", tc.host, mysite)
		}
		if mysite.SigningKey != "00dff9487b320186" || !strings.HasPrefix(mysite.Signature, "RSA/SHA512, ") {
			t.Errorf("%s: mysite-app signature %q", tc.host, mysite.Signature)
		}
		if !strings.HasPrefix(mysite.VCS, "git+https://git.example.com/acme/mysite#") || mysite.SHA256Header == "" {
			t.Errorf("%s: VCS %q SHA256HEADER %q", tc.host, mysite.VCS, mysite.SHA256Header)
		}
		// hello-tool was signed with rpmsign --rpmv3: the true key, not go-rpmdb's misreading.
		if hello.Name != "hello-tool" || hello.SigningKey != "00dff9487b320186" || hello.Epoch != 0 {
			t.Errorf("%s: %+v", tc.host, hello)
		}
	}
	// hostA's SHA256HEADER as the dump shows it.
	h, _ := Read(filepath.Join(testdata, "rpmforge/hostA/rpmdb.sqlite"), "")
	if got, want := h.Packages[1].SHA256Header, "c67f00d020ee8abc838769f468e47a218a0e04c6ae8cdfe92b8c99896aebcdef"; got != want {
		t.Errorf("SHA256HEADER %s, want %s", got, want)
	}
}

func TestSQLiteWALIsCopiedNotTouched(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(testdata, "rpmforge/hostA/rpmdb.sqlite")
	db := filepath.Join(dir, "rpmdb.sqlite")
	if err := copyFile(src, db); err != nil {
		t.Fatal(err)
	}
	// An empty -wal (as a host leaves it between transactions) stays as it is.
	if err := os.WriteFile(db+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir, "h"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(db + "-wal"); err != nil || st.Size() != 0 {
		t.Errorf("-wal after Read: %v %v", st, err)
	}
	if _, err := os.Stat(db + "-shm"); err == nil {
		t.Error("Read created a -shm beside the original")
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "Packages")
	os.WriteFile(junk, []byte("this is not a database at all"), 0o644)
	if _, err := Read(junk, ""); err == nil || !strings.Contains(err.Error(), "not a Berkeley DB, SQLite or NDB") {
		t.Errorf("junk: %v", err)
	}
	if _, err := Read(t.TempDir(), ""); err == nil || !strings.Contains(err.Error(), "no [rpmdb.sqlite") {
		t.Errorf("empty dir: %v", err)
	}
	if _, err := Decode([]byte{0, 0, 0, 9, 0, 0, 0, 1}); err == nil {
		t.Error("a truncated header decoded")
	}
}

func TestHostName(t *testing.T) {
	for in, want := range map[string]string{
		filepath.Join(testdata, "rpmforge/hostA/rpmdb.sqlite"):                  "hostA",
		filepath.Join(testdata, "rpmforge/hostA"):                               "hostA",
		filepath.Join(testdata, "go-rpmdb/bdb-el8-libuuid/Packages"):            "bdb-el8-libuuid",
		"/nonexistent/web1/var/lib/rpm":                                         "web1",
		filepath.Join(testdata, "go-rpmdb/sqlite-cbl-mariner-2.0/rpmdb.sqlite"): "sqlite-cbl-mariner-2.0",
	} {
		if got := HostName(in); got != want {
			t.Errorf("HostName(%s) = %s, want %s", in, got, want)
		}
	}
}
