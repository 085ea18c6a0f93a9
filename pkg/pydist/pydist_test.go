package pydist

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/venv")

const testdata = "../../testdata/venv"

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Django", "django"},
		{"zope.interface", "zope-interface"},
		{"Foo__Bar", "foo-bar"},
		{"a-_.-b", "a-b"},
		{"typing_extensions", "typing-extensions"},
		{"trailing.", "trailing-"},
		{"", ""},
	} {
		if got := Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestScanGolden(t *testing.T) {
	for _, tc := range []struct{ name, dir string }{
		{"fixture", filepath.Join(testdata, "fixture/venv/lib/python3.11/site-packages")},
		{"pydist", filepath.Join(testdata, "pydist/site-packages")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dists, err := Scan(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(dists); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			golden := filepath.Join(testdata, "pydist-"+tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Scan(%s) differs from %s (rerun with -update and review the diff):\n%s", tc.dir, golden, got)
			}
		})
	}
}

func TestScanFixtureSpotChecks(t *testing.T) {
	dists, err := Scan(filepath.Join(testdata, "fixture/venv/lib/python3.11/site-packages"))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Dist{}
	var order []string
	for _, d := range dists {
		byName[Normalize(d.Name)] = d
		order = append(order, Normalize(d.Name))
	}
	if want := "asgiref django gunicorn pip psycopg2 pytz setuptools sqlparse"; strings.Join(order, " ") != want {
		t.Errorf("order = %q, want %q", strings.Join(order, " "), want)
	}
	dj := byName["django"]
	if dj.Name != "Django" || dj.Version != "3.2.25" || dj.License != "BSD-3-Clause" || dj.Kind != KindEggInfo ||
		dj.MetadataPath != "Django-3.2.25.egg-info/PKG-INFO" || dj.HomePage != "https://www.djangoproject.com/" {
		t.Errorf("django = %+v", dj)
	}
	if got := strings.Join(dj.RequiresDist, "|"); got != `argon2-cffi>=19.1.0; extra == "argon2"|bcrypt; extra == "bcrypt"` {
		t.Errorf("django RequiresDist = %q", got)
	}
	if pip := byName["pip"]; pip.Kind != KindDistInfo || pip.MetadataPath != "pip-23.0.1.dist-info/METADATA" || pip.Version != "23.0.1" {
		t.Errorf("pip = %+v", pip)
	}
}

func TestScanPydistSpotChecks(t *testing.T) {
	dists, err := Scan(filepath.Join(testdata, "pydist/site-packages"))
	if err != nil {
		t.Fatal(err)
	}
	find := func(path string) Dist {
		for _, d := range dists {
			if d.MetadataPath == path {
				return d
			}
		}
		t.Fatalf("no dist with MetadataPath %q in %+v", path, dists)
		return Dist{}
	}
	rpm := find("rpm-4.18.0.egg-info") // an egg-info FILE
	if rpm.Kind != KindEggInfo || rpm.Version != "4.18.0" || rpm.Author != "rpm-maint@lists.rpm.org" {
		t.Errorf("rpm = %+v (Author UNKNOWN should fall back to Author-email)", rpm)
	}
	m := find("Modern_Pkg-2.0.0.dist-info/METADATA")
	if m.Name != "Modern.Pkg" || m.LicenseExpression != "MIT OR Apache-2.0" || m.License != "" ||
		m.HomePage != "https://example.org/" || m.Author != "Jane Doe <jane@example.org>" ||
		m.Summary != "A package written by a PEP 639 era backend\nspanning two lines." {
		t.Errorf("modern = %#v", m)
	}
	if len(m.RequiresDist) != 2 || m.RequiresDist[1] != `rich; extra == "cli"` {
		t.Errorf("modern RequiresDist = %q", m.RequiresDist)
	}
	gpg := find("gpg-1.18.0-py3.11.egg-info")
	if gpg.License != "LGPL2.1+ (the library), GPL2+ (tests and examples)" {
		t.Errorf("gpg License = %q", gpg.License)
	}
	crypto := find("cryptography-38.0.4.dist-info/METADATA")
	if len(crypto.RequiresDist) != 20 || crypto.RequiresDist[0] != "sphinx (!=1.8.0,!=3.1.0,!=3.1.1,>=1.6.5) ; extra == 'docs'" {
		t.Errorf("cryptography RequiresDist = %q", crypto.RequiresDist)
	}
}

func TestParseMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Dist
	}{
		{"crlf and case-insensitive keys", "metadata-version: 2.1\r\nNAME: a\r\nversion: 1\r\nLICENSE: MIT\r\n\r\nbody: x\r\n",
			Dist{Name: "a", Version: "1", License: "MIT"}},
		{"no trailing newline", "Name: a\nVersion: 1", Dist{Name: "a", Version: "1"}},
		{"folded license keeps deeper indent", "Name: a\nVersion: 1\nLicense: Line one\n        Line two\n            indented\n",
			Dist{Name: "a", Version: "1", License: "Line one\nLine two\n    indented"}},
		{"tab continuation", "Name: a\nVersion: 1\nSummary: x\n\ty\n", Dist{Name: "a", Version: "1", Summary: "x\ny"}},
		{"UNKNOWN is empty", "Name: a\nVersion: 1\nHome-page: UNKNOWN\nLicense: UNKNOWN\n", Dist{Name: "a", Version: "1"}},
		{"Home-page wins over Project-URL", "Name: a\nVersion: 1\nProject-URL: Homepage, https://p\nHome-page: https://h\n",
			Dist{Name: "a", Version: "1", HomePage: "https://h"}},
		{"body ignored", "Name: a\nVersion: 1\n\nName: b\nnot a header at all\n", Dist{Name: "a", Version: "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMetadata(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestScanErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // relative path → content ("/" suffix: directory)
		want  []string          // substrings of the error
	}{
		{"missing version",
			map[string]string{"foo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: foo\n"},
			[]string{"foo-1.0.dist-info/METADATA", `missing "Version"`, "pip install --force-reinstall"}},
		{"missing name in egg-info file",
			map[string]string{"foo-1.0.egg-info": "Version: 1.0\n"},
			[]string{"foo-1.0.egg-info", `missing "Name"`}},
		{"malformed header line",
			map[string]string{"foo-1.0.dist-info/METADATA": "Name: foo\nVersion: 1.0\nthis is junk\n"},
			[]string{"foo-1.0.dist-info/METADATA:3", `"this is junk" is not a "Field: value" header`}},
		{"continuation first",
			map[string]string{"foo-1.0.dist-info/METADATA": "  Name: foo\n"},
			[]string{"METADATA:1", "continuation line before any field"}},
		{"dist-info without METADATA",
			map[string]string{"foo-1.0.dist-info/": ""},
			[]string{"foo-1.0.dist-info/METADATA", "missing"}},
		{"egg-info dir without PKG-INFO",
			map[string]string{"foo-1.0.egg-info/": ""},
			[]string{"foo-1.0.egg-info/PKG-INFO", "missing"}},
		{"dist-info file",
			map[string]string{"foo-1.0.dist-info": "Name: foo\n"},
			[]string{"foo-1.0.dist-info", "not a directory"}},
		{"bad requires.txt",
			map[string]string{"foo-1.0.egg-info/PKG-INFO": "Name: foo\nVersion: 1.0\n", "foo-1.0.egg-info/requires.txt": "a\n[extra\nb\n"},
			[]string{"foo-1.0.egg-info/requires.txt:2", "lacks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, tc.files)
			_, err := Scan(dir)
			if err == nil {
				t.Fatal("Scan succeeded, want error")
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %q does not match ErrMalformed", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := Scan(filepath.Join(t.TempDir(), "nope")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Scan(missing dir) = %v, want ErrNotExist", err)
	}
}

func TestRequiresTxt(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"x-1.egg-info/PKG-INFO": "Name: x\nVersion: 1\n",
		"x-1.egg-info/requires.txt": "base>=1\n# comment\n\n[:python_version < \"3.8\"]\nbackport\n" +
			"[tls:sys_platform == \"win32\"]\nwintls\n[url]\npkg @ https://example.org/p.whl\n",
	})
	dists, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"base>=1",
		`backport; python_version < "3.8"`,
		`wintls; (sys_platform == "win32") and extra == "tls"`,
		`pkg @ https://example.org/p.whl ; extra == "url"`,
	}
	if got := dists[0].RequiresDist; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("RequiresDist =\n%q\nwant\n%q", got, want)
	}
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if strings.HasSuffix(rel, "/") {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
