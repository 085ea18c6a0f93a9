package sbom_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/pydist"
	"github.com/rpmforge/rpmforge/pkg/sbom"
	"github.com/rpmforge/rpmforge/pkg/sbom/sbomtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/inventory")

const (
	fixtureVenv = "../../testdata/venv/fixture/venv"
	goldenDir   = "../../testdata/inventory"
)

func fixtureSite() string { return filepath.Join(fixtureVenv, "lib/python3.11/site-packages") }

func epoch(n uint32) *uint32 { return &n }

func testPackage() sbom.Package {
	return sbom.Package{
		Name: "mysite", Epoch: epoch(1), Version: "1.0.0", Release: "1", Arch: "x86_64",
		Vendor: "ACME Inc.", License: "BSD-3-Clause", Summary: "test site", URL: "https://example.com/mysite",
		VCS:       "git+https://git.example.com/acme/mysite#0123456789abcdef0123456789abcdef01234567",
		BuildTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

func fixtureDoc(t *testing.T) *sbom.Document {
	t.Helper()
	comps, err := sbom.Scan(fixtureVenv, fixtureSite(), sbom.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &sbom.Document{Package: testPackage(), Tool: sbom.Tool{Name: "rpmforge", Version: "test"}, Components: comps}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join(goldenDir, name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/sbom -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update and review the diff):\n%s", file, got)
	}
}

func TestFixtureDocumentsValidateAndMatchGolden(t *testing.T) {
	doc := fixtureDoc(t)
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		t.Run(string(f), func(t *testing.T) {
			data, err := doc.Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := sbomtest.Validate(f, data); err != nil {
				t.Fatal(err)
			}
			again, err := fixtureDoc(t).Encode(f)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, again) {
				t.Error("two encodings of the same inputs differ")
			}
			golden(t, "sbom-fixture"+f.Ext(), data)
		})
	}
}

func TestFixtureComponents(t *testing.T) {
	doc := fixtureDoc(t)
	by := map[string]sbom.Component{}
	var names []string
	for _, c := range doc.Components {
		by[c.Key()] = c
		names = append(names, c.Key())
	}
	if got, want := strings.Join(names, " "), "asgiref django gunicorn pip psycopg2 pytz setuptools sqlparse"; got != want {
		t.Fatalf("components %q, want %q", got, want)
	}
	dj := by["django"]
	if dj.PURL != "pkg:pypi/django@3.2.25" || dj.License.Expression != "BSD-3-Clause" || dj.Supplier != "Django Software Foundation" {
		t.Errorf("django: %+v", dj)
	}
	// Django's egg-info has no installed-files.txt and its package is not in
	// the trimmed fixture: the files are its metadata directory only.
	if dj.FilesFrom != "top_level.txt" || dj.Files != 6 {
		t.Errorf("django files: %d from %s", dj.Files, dj.FilesFrom)
	}
	// Debian's requires.txt for Django lists extras only: no dependency.
	if len(dj.DependsOn) != 0 {
		t.Errorf("django depends on %q", dj.DependsOn)
	}
	// pip's RECORD lists files the trimmed fixture dropped: counted, not hashed.
	pip := by["pip"]
	if pip.FilesFrom != "RECORD" || pip.Missing == 0 || pip.Files < 3 {
		t.Errorf("pip: %d files, %d missing, from %s", pip.Files, pip.Missing, pip.FilesFrom)
	}
	ps := by["psycopg2"]
	if ps.Files != 5 || ps.License.Name != "LGPL with exceptions" {
		t.Errorf("psycopg2: %d files, licence %+v", ps.Files, ps.License)
	}
	if st := by["setuptools"]; st.License.Expression != "MIT" {
		t.Errorf("setuptools licence from its classifier: %+v", st.License)
	}
}

// A venv as pip leaves it: RECORD with hex digests, a stale entry, a console
// script outside site-packages, byte-code, an entry escaping the venv; an
// egg-info with installed-files.txt; a single-file egg-info.
func writeVenv(t *testing.T, dir string) (venv, site string) {
	t.Helper()
	venv = filepath.Join(dir, "venv")
	site = filepath.Join(venv, "lib/python3.11/site-packages")
	files := map[string]string{
		"bin/tool": "#!/build/venv/bin/python\nimport tool\n",
		"lib/python3.11/site-packages/tool/__init__.py":                          "VERSION = '1.0'\n",
		"lib/python3.11/site-packages/tool/__pycache__/__init__.cpython-311.pyc": "bytecode",
		"lib/python3.11/site-packages/tool-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: Tool\nVersion: 1.0\n" +
			"License-Expression: Apache-2.0\nRequires-Dist: helper (>=2)\nRequires-Dist: extra-only ; extra == 'x'\n",
		"lib/python3.11/site-packages/tool-1.0.dist-info/RECORD": "tool/__init__.py,md5=0123456789abcdef,16\n" +
			"tool/gone.py,sha256=AAAA,10\n" +
			"tool/__pycache__/__init__.cpython-311.pyc,,\n" +
			"../../../bin/tool,sha256=deadbeef,40\n" +
			"../../../../../etc/passwd,,\n" +
			"tool-1.0.dist-info/METADATA,,\ntool-1.0.dist-info/RECORD,,\n",
		"lib/python3.11/site-packages/helper-2.0.egg-info/PKG-INFO":            "Metadata-Version: 1.1\nName: helper\nVersion: 2.0\nLicense: UNKNOWN\n",
		"lib/python3.11/site-packages/helper-2.0.egg-info/installed-files.txt": "../helper.py\nPKG-INFO\n",
		"lib/python3.11/site-packages/helper.py":                               "def help(): pass\n",
		"lib/python3.11/site-packages/single-0.1.egg-info":                     "Metadata-Version: 1.0\nName: single\nVersion: 0.1\nLicense: Artistic License\n",
		"lib/python3.11/site-packages/single.py":                               "X = 1\n",
	}
	for rel, content := range files {
		p := filepath.Join(venv, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return venv, site
}

func TestScanHashesFilesAsPackaged(t *testing.T) {
	venv, site := writeVenv(t, t.TempDir())
	comps, err := sbom.Scan(venv, site, sbom.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]sbom.Component{}
	for _, c := range comps {
		by[c.Key()] = c
	}
	tool := by["tool"]
	if tool.Files != 4 || tool.Missing != 1 || tool.FilesFrom != "RECORD" {
		t.Errorf("tool: %d files, %d missing, from %s", tool.Files, tool.Missing, tool.FilesFrom)
	}
	if got := strings.Join(tool.DependsOn, ","); got != "helper" {
		t.Errorf("tool depends on %q (extras are left out)", got)
	}
	if tool.License.Expression != "Apache-2.0" {
		t.Errorf("tool licence %+v", tool.License)
	}
	if h := by["helper"]; h.Files != 3 || h.FilesFrom != "installed-files.txt" || !h.License.Unknown() {
		t.Errorf("helper: %d files from %s, licence %+v", h.Files, h.FilesFrom, h.License)
	}
	if s := by["single"]; s.Files != 2 || s.FilesFrom != "name" || s.License.Name != "Artistic License" {
		t.Errorf("single: %d files from %s, licence %+v", s.Files, s.FilesFrom, s.License)
	}

	// The hash follows the packaged content (relocation), not the disk.
	relocated, err := sbom.Scan(venv, site, sbom.ScanOptions{Open: func(rel string) (io.ReadCloser, error) {
		if rel == "bin/tool" {
			return io.NopCloser(strings.NewReader("#!/opt/app/venv/bin/python\nimport tool\n")), nil
		}
		return os.Open(filepath.Join(venv, rel))
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range relocated {
		if c.Key() == "tool" && c.SHA256 == tool.SHA256 {
			t.Error("the hash did not change with the packaged content of bin/tool")
		}
		if c.Key() == "helper" && c.SHA256 != by["helper"].SHA256 {
			t.Error("helper's hash changed though its files did not")
		}
	}

	// Digests given by Sum are used instead of reading: the correct ones
	// give the same components without opening those files, a wrong one
	// shows in its component's hash, files without one are read.
	var opened []string
	sumOpts := func(wrong string) sbom.ScanOptions {
		opened = nil
		return sbom.ScanOptions{
			Open: func(rel string) (io.ReadCloser, error) {
				opened = append(opened, rel)
				return os.Open(filepath.Join(venv, rel))
			},
			Sum: func(rel string) ([32]byte, bool) {
				if rel == "bin/tool" { // left to Open
					return [32]byte{}, false
				}
				data, err := os.ReadFile(filepath.Join(venv, rel))
				if rel == wrong {
					data = append(data, '!')
				}
				return sha256.Sum256(data), err == nil
			},
		}
	}
	summed, err := sbom.Scan(venv, site, sumOpts(""))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := mustJSON(t, summed), mustJSON(t, comps); !bytes.Equal(a, b) {
		t.Errorf("with Sum:\n%s\nwithout:\n%s", a, b)
	}
	if len(opened) != 1 || opened[0] != "bin/tool" {
		t.Errorf("with Sum, opened %q; want only bin/tool", opened)
	}
	siteRel, _ := filepath.Rel(venv, site)
	wrongSum, err := sbom.Scan(venv, site, sumOpts(filepath.ToSlash(filepath.Join(siteRel, tool.MetadataPath))))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range wrongSum {
		if c.Key() == "tool" && c.SHA256 == tool.SHA256 {
			t.Error("a different digest from Sum did not change tool's hash")
		}
	}

	// The same venv elsewhere gives the same document.
	venv2, site2 := writeVenv(t, t.TempDir())
	comps2, err := sbom.Scan(venv2, site2, sbom.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(comps)
	b, _ := json.Marshal(comps2)
	if !bytes.Equal(a, b) {
		t.Errorf("scans of two copies differ:\n%s\n%s", a, b)
	}
	doc := &sbom.Document{Package: testPackage(), Components: comps}
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		data, err := doc.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := sbomtest.Validate(f, data); err != nil {
			t.Errorf("%v\n%s", err, data)
		}
	}
}

func TestResolveLicense(t *testing.T) {
	for _, tc := range []struct {
		d    pydist.Dist
		want sbom.License
	}{
		{pydist.Dist{LicenseExpression: "MIT OR Apache-2.0"}, sbom.License{Expression: "MIT OR Apache-2.0"}},
		{pydist.Dist{LicenseExpression: "not a licence", License: "MIT"}, sbom.License{Expression: "MIT"}},
		{pydist.Dist{License: "BSD-3-Clause OR Apache-2.0"}, sbom.License{Expression: "BSD-3-Clause OR Apache-2.0"}},
		{pydist.Dist{License: "mit"}, sbom.License{Expression: "MIT"}},
		{pydist.Dist{License: "Apache 2.0"}, sbom.License{Expression: "Apache-2.0"}},
		{pydist.Dist{License: "BSD", Classifiers: []string{"License :: OSI Approved :: BSD License"}}, sbom.License{Name: "BSD"}},
		{pydist.Dist{Classifiers: []string{"License :: OSI Approved :: MIT License"}}, sbom.License{Expression: "MIT"}},
		{pydist.Dist{Classifiers: []string{"License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)"}},
			sbom.License{Expression: "LGPL-2.0-or-later"}},
		{pydist.Dist{Classifiers: []string{"License :: OSI Approved :: Apache Software License", "License :: OSI Approved :: BSD License"}},
			sbom.License{Name: "Apache Software License; BSD License"}},
		{pydist.Dist{License: "Copyright (c) 2020 someone\n\nPermission is hereby granted...", Classifiers: []string{"License :: OSI Approved :: BSD License"}},
			sbom.License{Name: "BSD License"}},
		{pydist.Dist{}, sbom.License{}},
	} {
		if got := sbom.ResolveLicense(tc.d); got != tc.want {
			t.Errorf("ResolveLicense(%+v) = %+v, want %+v", tc.d, got, tc.want)
		}
	}
}

func TestPURLs(t *testing.T) {
	p := testPackage()
	if got, want := p.PURL(), "pkg:rpm/acme-inc/mysite@1.0.0-1?arch=x86_64&epoch=1"; got != want {
		t.Errorf("PURL = %q, want %q", got, want)
	}
	p.Epoch, p.Vendor = nil, ""
	if got, want := p.PURL(), "pkg:rpm/mysite@1.0.0-1?arch=x86_64"; got != want {
		t.Errorf("PURL = %q, want %q", got, want)
	}
	if got, want := sbom.PyPIPURL("Zope.Interface", "5.0"), "pkg:pypi/zope-interface@5.0"; got != want {
		t.Errorf("PyPIPURL = %q, want %q", got, want)
	}
}

func TestParseCycloneDXRoundTrip(t *testing.T) {
	doc := fixtureDoc(t)
	data, err := doc.CycloneDX()
	if err != nil {
		t.Fatal(err)
	}
	comps, err := sbom.ParseCycloneDX(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != len(doc.Components) {
		t.Fatalf("parsed %d components, wrote %d", len(comps), len(doc.Components))
	}
	for _, c := range comps {
		if c.Key() == "django" && (c.Version != "3.2.25" || c.License.Expression != "BSD-3-Clause" || c.SHA256 == "") {
			t.Errorf("django parsed as %+v", c)
		}
	}
	if _, err := sbom.ParseCycloneDX([]byte(`{"bomFormat":"SPDX"}`)); err == nil {
		t.Error("a non-CycloneDX document parsed")
	}
}

// The validator is not a no-op: documents breaking the schemas fail.
func TestSchemasRejectInvalidDocuments(t *testing.T) {
	doc := fixtureDoc(t)
	cdx, _ := doc.CycloneDX()
	bad := bytes.Replace(cdx, []byte(`"type": "library"`), []byte(`"type": "liberry"`), 1)
	if err := sbomtest.Validate(sbom.CycloneDX, bad); err == nil {
		t.Error("a CycloneDX component of type liberry validated")
	}
	spdx, _ := doc.SPDX()
	bad = bytes.Replace(spdx, []byte(`"primaryPackagePurpose": "LIBRARY"`), []byte(`"primaryPackagePurpose": "BOOK"`), 1)
	if err := sbomtest.Validate(sbom.SPDX, bad); err == nil {
		t.Error("an SPDX package with purpose BOOK validated")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
