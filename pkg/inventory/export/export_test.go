package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/inventory/export"
	"github.com/rpmforge/rpmforge/pkg/inventory/inventorytest"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdb"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdir"
	"github.com/rpmforge/rpmforge/pkg/sbom"
	"github.com/rpmforge/rpmforge/pkg/sbom/sbomtest"
)

var (
	update       = flag.Bool("update", false, "rewrite testdata/inventory/golden")
	serialNumber = regexp.MustCompile(`"serialNumber": "urn:uuid:[^"]+"`)
)

type fixture struct {
	rep  *inventory.Report
	meta export.Meta
	tmp  string
	pkgs []inventory.PublishedPackage
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	tmp := t.TempDir()
	s := inventorytest.New(t, tmp)
	hosts, err := inventory.LoadHosts(s.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	var data []*inventory.HostData
	for _, in := range s.Inputs {
		var d *inventory.HostData
		if st, _ := os.Stat(in); st.IsDir() {
			d, err = rpmdb.Read(in, "")
		} else {
			d, err = inventory.ReadDump(in)
		}
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d)
	}
	cat := rpmdir.New(s.Channels)
	rep, err := inventory.Analyze(hosts, data, cat, inventory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eol, err := inventory.LoadEOL(s.EOL)
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []inventory.PublishedPackage
	for _, ch := range cat.Channels() {
		p, _ := cat.Packages(ch)
		pkgs = append(pkgs, p...)
	}
	meta := export.Meta{Generated: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC), Tool: "rpmforge test", Version: "test", EOL: eol}
	return &fixture{rep: rep, meta: meta, tmp: tmp, pkgs: pkgs}
}

// golden compares with testdata/inventory/golden/name, the temp dir and the
// checkout replaced by $TMP and $ROOT.
func (f *fixture) golden(t *testing.T, name string, got []byte) {
	t.Helper()
	got = bytes.ReplaceAll(got, []byte(f.tmp), []byte("$TMP"))
	got = bytes.ReplaceAll(got, []byte(inventorytest.RepoRoot()), []byte("$ROOT"))
	// The generated webshop RPMs' digests follow pkg/rpm's exact bytes,
	// which are not what these files are about.
	for _, p := range f.pkgs {
		if p.Name != "webshop" {
			continue
		}
		for _, d := range [][2]string{{p.SHA256, "SHA256"}, {p.SIGMD5, "SIGMD5"}, {p.SHA256Header, "SHA256HEADER"}, {p.SHA256[:12], "SHA256-12"}} {
			got = bytes.ReplaceAll(got, []byte(d[0]), []byte("$"+p.NEVRA()+"-"+d[1]))
		}
	}
	got = serialNumber.ReplaceAll(got, []byte(`"serialNumber": "urn:uuid:$SERIAL"`))
	file := inventorytest.Testdata("inventory", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(file), 0o755)
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/inventory/export -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (rerun with -update and review the diff):\n%s", name, file, got)
	}
}

func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestFedRAMP(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	warnings, err := export.FedRAMP(&buf, f.rep, export.PerApplication, f.meta)
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	if len(recs[0]) != 25 || recs[0][0] != "UNIQUE ASSET IDENTIFIER" || recs[0][24] != "End-of-Life" ||
		recs[0][15] != "Software/ Database Name & Version" || recs[0][20] != "VLAN/ Network ID" {
		t.Errorf("header %q", recs[0])
	}
	// hostA is complete; hostB, C and D lack mandatory columns: one warning each, naming the host.
	if len(warnings) != 3 {
		t.Fatalf("warnings %q", warnings)
	}
	if w := warnings[0]; !strings.Contains(w, "host hostb.example.com") || !strings.Contains(w, "Hardware Make/Model (hardware)") ||
		!strings.Contains(w, "In Latest Scan") || strings.Contains(w, "Diagram Label") {
		t.Errorf("hostB warning %q", w)
	}
	for _, w := range warnings {
		if strings.Contains(w, "hosta.example.com") || strings.Contains(w, "web1") {
			t.Errorf("warning for a complete host: %q", w)
		}
	}
	var mysite []string
	for _, r := range recs {
		if r[0] == "ASSET-0001" && strings.HasPrefix(r[15], "mysite-app") {
			mysite = r
		}
	}
	if mysite == nil || mysite[15] != "mysite-app 1:1.2.3-1.el9" || mysite[24] != "2027-06-30" || mysite[2] != "Yes" || mysite[3] != "No" ||
		!strings.Contains(mysite[18], "behind by 1 release (1:1.2.4-1.el9 available)") || mysite[23] != "mysite Django app (test)" {
		t.Errorf("hostA mysite-app row %q", mysite)
	}
	f.golden(t, "hosts.fedramp.csv", buf.Bytes())

	buf.Reset()
	if _, err := export.FedRAMP(&buf, f.rep, export.PerPython, f.meta); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range readCSV(t, buf.Bytes()) {
		if r[15] == "Django 3.2.25" && r[0] == "web1.example.com" {
			found = r[24] == "2024-04-01"
		}
	}
	if !found {
		t.Errorf("no Django 3.2.25 row with its end of life for web1:\n%s", buf.Bytes())
	}
	f.golden(t, "hosts-python.fedramp.csv", buf.Bytes())
}

// "Which hosts run Django older than 4" is one filter on the python CSV.
func TestCSVPythonGranularity(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := export.CSV(&buf, f.rep, export.PerPython, f.meta); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var hosts []string
	for _, r := range recs[1:] {
		if strings.EqualFold(r[col["component"]], "django") && strings.HasPrefix(r[col["component_version"]], "3.") {
			hosts = append(hosts, r[col["host"]])
		}
	}
	if strings.Join(hosts, " ") != "web1.example.com" {
		t.Errorf("hosts running Django 3: %q", hosts)
	}
	f.golden(t, "hosts-python.csv", buf.Bytes())
	buf.Reset()
	if err := export.CSV(&buf, f.rep, export.PerApplication, f.meta); err != nil {
		t.Fatal(err)
	}
	f.golden(t, "hosts.csv", buf.Bytes())
}

func TestJSON(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := export.JSON(&buf, f.rep, f.meta); err != nil {
		t.Fatal(err)
	}
	var v struct {
		Hosts []struct {
			Name     string
			Packages []struct {
				Name, Drift, Available string
				Behind                 int
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Hosts[0].Name != "hosta.example.com" || v.Hosts[0].Packages[1].Drift != "behind" || v.Hosts[0].Packages[1].Behind != 1 {
		t.Errorf("%+v", v.Hosts[0])
	}
	f.golden(t, "hosts.json", buf.Bytes())
}

func TestCycloneDXValidates(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := export.CycloneDX(&buf, f.rep, f.meta); err != nil {
		t.Fatal(err)
	}
	if err := sbomtest.Validate(sbom.CycloneDX, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"purl": "pkg:pypi/django@4.2.16"`) {
		t.Error("web2's Django is not in the hosts' BOM")
	}
	f.golden(t, "hosts.cdx.json", buf.Bytes())
}

func TestHTML(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := export.HTML(&buf, f.rep, f.meta); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<td class="cell drift-behind prov-published"><span class="evr">1:1.2.3-1.el9</span><span class="note">behind 1 → 1:1.2.4-1.el9</span></td>`,
		`<td class="cell drift-missing prov-not-installed">`,
		`<td class="cell drift-current prov-digest-mismatch">`,
		"<h2>Channel web</h2>", "<h2>Python components</h2>", "web1.example.com: webshop-2.0.0-1.noarch",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for _, banned := range []string{"<script", "http://", "https://", "<link", "@import"} {
		if strings.Contains(strings.ReplaceAll(page, "https://git.example.com", ""), banned) {
			t.Errorf("page contains %q: it must be self-contained", banned)
		}
	}
	f.golden(t, "hosts.html", buf.Bytes())
}

func TestRepo(t *testing.T) {
	f := newFixture(t)
	var buf bytes.Buffer
	if err := export.RepoCSV(&buf, f.pkgs); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, buf.Bytes())
	if len(recs) != 6 || recs[0][0] != "channel" || recs[0][1] != "nevra" {
		t.Fatalf("%q", recs)
	}
	f.golden(t, "repo.csv", buf.Bytes())
	buf.Reset()
	if err := export.RepoJSON(&buf, f.pkgs); err != nil {
		t.Fatal(err)
	}
	f.golden(t, "repo.json", buf.Bytes())
	buf.Reset()
	if err := export.RepoHTML(&buf, f.pkgs, f.meta); err != nil {
		t.Fatal(err)
	}
	f.golden(t, "repo.html", buf.Bytes())
}

func TestParseGranularity(t *testing.T) {
	if g, err := export.ParseGranularity("python"); err != nil || g != export.PerPython {
		t.Errorf("%v %v", g, err)
	}
	if _, err := export.ParseGranularity("host"); err == nil {
		t.Error("accepted host")
	}
}
