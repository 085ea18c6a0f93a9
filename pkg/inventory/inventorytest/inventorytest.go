// Package inventorytest makes test scenarios for the inventory code: RPMs
// with an embedded SBOM (written with pkg/rpm and pkg/sbom, so their
// Python components are real) and collector dumps of hosts running them.
// It is meant for tests only.
package inventorytest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdir"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sbom"
)

// RepoRoot is the root of this checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Testdata returns a path under testdata/.
func Testdata(elem ...string) string {
	return filepath.Join(append([]string{RepoRoot(), "testdata"}, elem...)...)
}

// Scenario is a set of inputs for `inventory hosts`.
type Scenario struct {
	Hosts    string            // hosts.toml: testdata's plus the web hosts
	Channels map[string]string // channel -> RPM directory ("stable": the signed test RPMs, "web": generated)
	Inputs   []string          // dumps and rpm databases, one per host
	EOL      string            // testdata/inventory/eol.toml
}

// RPMSpecs returns the --rpms values of the scenario, sorted.
func (s *Scenario) RPMSpecs() []string {
	return []string{"stable=" + s.Channels["stable"], "web=" + s.Channels["web"]}
}

// webshop versions and what their venvs hold.
var webshops = []struct {
	version string
	bump    map[string]string // component -> version different from the fixture venv's
}{
	{"2.0.0", nil},
	{"2.1.0", map[string]string{"django": "4.2.16", "asgiref": "3.7.2", "sqlparse": "0.5.0"}},
}

// New writes the scenario into dir: channel "web" with webshop 2.0.0 and
// 2.1.0 (SBOMs from testdata/venv/fixture, 2.1.0 with Django 4.2.16),
// dumps of web1 (webshop 2.0.0: behind) and web2 (2.1.0: current), and
// hosts.toml. Channel "stable" and hosts A to D come from testdata.
func New(t testing.TB, dir string) *Scenario {
	t.Helper()
	web := filepath.Join(dir, "web")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	venv := Testdata("venv", "fixture", "venv")
	comps, err := sbom.Scan(venv, filepath.Join(venv, "lib", "python3.11", "site-packages"), sbom.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []inventory.PublishedPackage
	for i, w := range webshops {
		cs := make([]sbom.Component, len(comps))
		copy(cs, comps)
		for j := range cs {
			if v, ok := w.bump[cs[j].Key()]; ok {
				cs[j].Version, cs[j].PURL = v, sbom.PyPIPURL(cs[j].Name, v)
			}
		}
		path := writeRPM(t, web, w.version, i, cs)
		p, err := rpmdir.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	s := &Scenario{
		Hosts:    filepath.Join(dir, "hosts.toml"),
		Channels: map[string]string{"stable": Testdata("rpmdb", "rpmforge", "rpms"), "web": web},
		EOL:      Testdata("inventory", "eol.toml"),
		Inputs: []string{
			Testdata("rpmdb", "rpmforge", "hostA.qa.tsv"),
			Testdata("rpmdb", "rpmforge", "hostB"), // the raw SQLite rpmdb
			Testdata("inventory", "dumps", "hostC.qa.tsv"),
			Testdata("inventory", "dumps", "hostd.example.com.tsv"),
		},
	}
	for i, p := range pkgs {
		name := fmt.Sprintf("web%d.example.com", i+1)
		dump := filepath.Join(dir, fmt.Sprintf("web%d.qa.tsv", i+1))
		writeDump(t, dump, name, p)
		s.Inputs = append(s.Inputs, dump)
	}
	hosts, err := os.ReadFile(Testdata("inventory", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	extra := ""
	for i := range pkgs {
		extra += fmt.Sprintf("\n[hosts.\"web%d.example.com\"]\naddress = \"10.30.0.%d\"\nvirtual = true\npublic = true\n"+
			"baseline = \"RHEL9-CIS-L1 v2.0\"\nos = \"Red Hat Enterprise Linux 9.4\"\nasset_type = \"Web server (VM)\"\n"+
			"hardware = \"KVM q35 virtual machine\"\nin_latest_scan = true\ndiagram_label = \"SHOP-%d\"\nfunction = \"ACME web shop\"\n"+
			"owner = \"ops@example.com\"\nchannel = \"web\"\n", i+1, 21+i, i+1)
	}
	if err := os.WriteFile(s.Hosts, append(hosts, extra...), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeRPM(t testing.TB, dir, version string, n int, comps []sbom.Component) string {
	t.Helper()
	built := time.Date(2026, 11, 20+n, 12, 0, 0, 0, time.UTC)
	commit := strings.Repeat(fmt.Sprintf("%x", 10+n), 40)
	md := rpm.Metadata{
		Name: "webshop", Version: version, Release: "1", Arch: "noarch", Summary: "ACME web shop (Django)",
		License: "BSD-3-Clause", Vendor: "ACME Inc.", URL: "https://shop.example.com",
		VCS: "git+https://git.example.com/acme/webshop#" + commit, BuildTime: built, Compression: "gzip",
	}
	doc := &sbom.Document{
		Package: sbom.Package{Name: md.Name, Version: md.Version, Release: md.Release, Arch: md.Arch, Vendor: md.Vendor,
			License: md.License, Summary: md.Summary, URL: md.URL, VCS: md.VCS, BuildTime: built},
		Tool:       sbom.Tool{Name: "rpmforge", Version: "test"},
		Components: comps,
	}
	entries := []rpm.Entry{
		dirEntry("/opt/webshop", built), fileEntry("/opt/webshop/manage.py", []byte("print('shop')\n"), built),
		dirEntry("/usr/share/rpmforge", built), dirEntry(sbom.Dir, built),
	}
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		data, err := doc.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fileEntry(sbom.InstallPath(md.Name, f), data, built))
	}
	path := filepath.Join(dir, fmt.Sprintf("webshop-%s-1.noarch.rpm", version))
	var buf bytes.Buffer
	if _, err := rpm.Write(context.Background(), &buf, md, entries, rpm.Options{TempDir: dir}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func dirEntry(p string, t time.Time) rpm.Entry {
	return rpm.Entry{Path: p, Mode: os.ModeDir | 0o755, MTime: t}
}

func fileEntry(p string, data []byte, t time.Time) rpm.Entry {
	return rpm.Entry{Path: p, Mode: 0o644, MTime: t, Size: int64(len(data)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// writeDump writes a collector dump of a host that has p installed.
func writeDump(t testing.TB, path, host string, p inventory.PublishedPackage) {
	t.Helper()
	none := func(s string) string {
		if s == "" {
			return "(none)"
		}
		return s
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n# host=%s\n# collected_at=2026-11-26T16:10:00Z\n# os_release=rhel 9.4\n# columns=%s\n",
		inventory.DumpMagic, host, strings.Join(inventory.DumpColumns, "\t"))
	fmt.Fprintf(&b, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Epoch, p.Version, p.Release, p.Arch,
		p.Vendor, p.License, p.BuildTime.Unix()+3600, p.BuildTime.Unix(), p.SIGMD5, p.SHA256Header, "(none)",
		fmt.Sprintf("%s-%s-%s.src.rpm", p.Name, p.Version, p.Release), none(p.VCS))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
