package inventory_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/inventory/inventorytest"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdb"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdir"
)

var td = inventorytest.Testdata

func readDump(t *testing.T, elem ...string) *inventory.HostData {
	t.Helper()
	h, err := inventory.ReadDump(td(elem...))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The dumps and the raw databases of hostA and hostB say the same.
func TestDumpMatchesRpmdb(t *testing.T) {
	for _, host := range []string{"hostA", "hostB"} {
		dump := readDump(t, "rpmdb", "rpmforge", host+".qa.tsv")
		db, err := rpmdb.Read(td("rpmdb", "rpmforge", host), "")
		if err != nil {
			t.Fatal(err)
		}
		if dump.Name != strings.ToLower(host)+".example.com" || dump.OSRelease != "rhel 9.4" || dump.CollectedAt.IsZero() {
			t.Errorf("%s dump header: %+v", host, dump)
		}
		if len(dump.Packages) != 2 || len(db.Packages) != 2 {
			t.Fatalf("%s: %d packages in the dump, %d in the rpmdb", host, len(dump.Packages), len(db.Packages))
		}
		for i := range dump.Packages {
			if d, r := dump.Packages[i], db.Packages[i]; d != r {
				t.Errorf("%s: dump says\n%+v\nrpmdb says\n%+v", host, d, r)
			}
		}
	}
}

func TestParseDumpEL7AndNames(t *testing.T) {
	h := readDump(t, "inventory", "dumps", "hostd.example.com.tsv")
	if h.Name != "hostd.example.com" || len(h.Packages) != 2 {
		t.Fatalf("%+v", h)
	}
	p := h.Packages[1]
	if p.NEVRA() != "mysite-app-1:1.3.0-1.el7.x86_64" || p.SHA256Header != "" || p.SIGMD5 != "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f" || p.VCS != "" {
		t.Errorf("%+v", p)
	}
	if g := h.Packages[0]; g.Name != "gpg-pubkey" || g.Arch != "" {
		t.Errorf("gpg-pubkey: %+v", g)
	}
}

func TestParseDumpRejectsBrokenDumps(t *testing.T) {
	dir := t.TempDir()
	good := "mysite-app\t1\t1.2.3\t1.el9\tx86_64\tACME\tMIT\t1\t1\t33f54a60f13561288c7e450c0c6c248a\t(none)\t(none)\tx.src.rpm\t(none)\n"
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "no packages"},
		{"headers-only", inventory.DumpMagic + "\n# host=h\n", "no packages"},
		{"rpm-error", "error: incorrect format: unknown tag\n", `rpm reported "error: incorrect format`},
		{"short-line", "mysite-app\t1\t1.2.3\n", "3 tab-separated fields, want 14"},
		{"bad-epoch", strings.Replace(good, "\t1\t1.2.3", "\tx\t1.2.3", 1), "epochnum"},
		{"bad-digest", strings.Replace(good, "33f54a60f13561288c7e450c0c6c248a", "xyz", 1), "sigmd5"},
		{"bad-columns", "# columns=name\tfoo\n" + good, `unknown column "foo"`},
	} {
		p := filepath.Join(dir, tc.name+".tsv")
		os.WriteFile(p, []byte(tc.content), 0o644)
		_, err := inventory.ReadDump(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
}

// The script's output parses, with a stand-in rpm that prints hostA's packages.
func TestCollectScript(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	bin := t.TempDir()
	rows := readDumpRows(t, td("rpmdb", "rpmforge", "hostA.qa.tsv"))
	fake := "#!/bin/sh\n[ \"$1\" = -qa ] && [ \"$2\" = --qf ] || exit 2\ncat <<'EOF'\n" + rows + "EOF\n"
	os.WriteFile(filepath.Join(bin, "rpm"), []byte(fake), 0o755)
	cmd := exec.Command("sh", "-c", inventory.CollectScript(false))
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h, err := inventory.ParseDump(strings.NewReader(string(out)), "script-output")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(h.Packages) != 2 || h.CollectedAt.IsZero() || h.Name == "" || h.Name == "script-output" {
		t.Errorf("%+v\n%s", h, out)
	}
	// rpm printing nothing (an unknown tag) fails the script.
	os.WriteFile(filepath.Join(bin, "rpm"), []byte("#!/bin/sh\necho 'error: incorrect format: unknown tag' >&2\n"), 0o755)
	if out, err := cmd2(bin).CombinedOutput(); err == nil || !strings.Contains(string(out), "no packages") {
		t.Errorf("empty rpm output: %v %s", err, out)
	}
	if !strings.Contains(inventory.CollectCommand(true), `%{SIGMD5}\t%{RSAHEADER:pgpsig}`) {
		t.Error("the EL7 command still asks for SHA256HEADER")
	}
}

func cmd2(bin string) *exec.Cmd {
	c := exec.Command("sh", "-c", inventory.CollectScript(false))
	c.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	return c
}

func readDumpRows(t *testing.T, p string) string {
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			rows = append(rows, l)
		}
	}
	return strings.Join(rows, "\n") + "\n"
}

func scenarioReport(t *testing.T, opt inventory.Options) *inventory.Report {
	t.Helper()
	s := inventorytest.New(t, t.TempDir())
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
	rep, err := inventory.Analyze(hosts, data, rpmdir.New(s.Channels), opt)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func row(t *testing.T, rep *inventory.Report, host, name string) inventory.Row {
	t.Helper()
	for _, h := range rep.Hosts {
		if h.Info.Name != host {
			continue
		}
		for _, r := range h.Rows {
			if r.Name == name {
				return r
			}
		}
	}
	t.Fatalf("no row for %s on %s", name, host)
	return inventory.Row{}
}

func TestAnalyze(t *testing.T) {
	rep := scenarioReport(t, inventory.Options{})
	var names []string
	for _, h := range rep.Hosts {
		names = append(names, h.Info.Name)
	}
	if got := strings.Join(names, " "); got != "hosta.example.com hostb.example.com hostc.example.com hostd.example.com web1.example.com web2.example.com" {
		t.Fatalf("hosts %s", got)
	}
	for _, tc := range []struct {
		host, pkg  string
		prov       inventory.Provenance
		drift      inventory.Drift
		behind     int
		avail, evr string
	}{
		// README: hostA is one release behind a channel holding 1.2.3 and 1.2.4.
		{"hosta.example.com", "mysite-app", inventory.Published, inventory.Behind, 1, "1:1.2.4-1.el9", "1:1.2.3-1.el9"},
		{"hosta.example.com", "hello-tool", inventory.Published, inventory.Current, 0, "1.0-1", "1.0-1"},
		{"hostb.example.com", "mysite-app", inventory.Published, inventory.Current, 0, "1:1.2.4-1.el9", "1:1.2.4-1.el9"},
		{"hostc.example.com", "mysite-app", inventory.DigestMismatch, inventory.Current, 0, "1:1.2.4-1.el9", "1:1.2.4-1.el9"},
		{"hostd.example.com", "mysite-app", inventory.Unpublished, inventory.Ahead, 0, "1:1.2.4-1.el9", "1:1.3.0-1.el7"},
		{"hostd.example.com", "hello-tool", inventory.NotInstalled, inventory.Missing, 0, "1.0-1", ""},
		{"web1.example.com", "webshop", inventory.Published, inventory.Behind, 1, "2.1.0-1", "2.0.0-1"},
		{"web2.example.com", "webshop", inventory.Published, inventory.Current, 0, "2.1.0-1", "2.1.0-1"},
	} {
		r := row(t, rep, tc.host, tc.pkg)
		evr := ""
		if r.Installed != nil {
			evr = r.Installed.EVR()
		}
		if r.Provenance != tc.prov || r.Drift != tc.drift || r.Behind != tc.behind || r.Available != tc.avail || evr != tc.evr {
			t.Errorf("%s %s: %s %s behind %d available %s installed %s; want %s %s %d %s %s", tc.host, tc.pkg,
				r.Provenance, r.Drift, r.Behind, r.Available, evr, tc.prov, tc.drift, tc.behind, tc.avail, tc.evr)
		}
	}
	// Python components come from the published package's SBOM.
	django := func(host string) string {
		for _, c := range row(t, rep, host, "webshop").Components {
			if c.Name == "Django" {
				return c.Version + " " + c.PURL + " " + c.License
			}
		}
		return ""
	}
	if got := django("web1.example.com"); got != "3.2.25 pkg:pypi/django@3.2.25 BSD-3-Clause" {
		t.Errorf("web1 django: %q", got)
	}
	if got := django("web2.example.com"); got != "4.2.16 pkg:pypi/django@4.2.16 BSD-3-Clause" {
		t.Errorf("web2 django: %q", got)
	}
	if c := row(t, rep, "hostc.example.com", "mysite-app").Components; c != nil {
		t.Errorf("a package with another digest got the published components: %v", c)
	}
	// The OS's own packages are left out unless asked for.
	for _, h := range rep.Hosts {
		for _, r := range h.Rows {
			if r.Name == "bash" || r.Name == "gpg-pubkey" {
				t.Errorf("%s listed on %s", r.Name, h.Info.Name)
			}
		}
	}
	all := scenarioReport(t, inventory.Options{All: true})
	if r := row(t, all, "hostc.example.com", "bash"); r.Provenance != inventory.Unpublished || r.Drift != inventory.NotInChannel {
		t.Errorf("bash: %s %s", r.Provenance, r.Drift)
	}
	want := "host hoste.example.com: in " // listed, no input
	found := false
	for _, w := range rep.Warnings {
		found = found || strings.HasPrefix(w, want)
	}
	if !found {
		t.Errorf("warnings %q lack %q", rep.Warnings, want)
	}
}

func TestAnalyzeChannels(t *testing.T) {
	a := readDump(t, "rpmdb", "rpmforge", "hostA.qa.tsv")
	cat := rpmdir.New(map[string]string{"stable": td("rpmdb", "rpmforge", "rpms")})
	// No hosts.toml and one channel: that channel.
	rep, err := inventory.Analyze(nil, []*inventory.HostData{a}, cat, inventory.Options{})
	if err != nil || rep.Hosts[0].Channel != "stable" || len(rep.Warnings) != 0 {
		t.Fatalf("%v %+v %q", err, rep.Hosts[0].Channel, rep.Warnings)
	}
	// A channel the catalog lacks: a warning, drift not measured.
	hosts := &inventory.Hosts{Path: "h.toml", Hosts: []inventory.HostInfo{{Name: "hosta.example.com", Channel: "prod"}}}
	rep, err = inventory.Analyze(hosts, []*inventory.HostData{a}, cat, inventory.Options{})
	if err != nil || rep.Hosts[0].Channel != "" || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], `channel "prod" is not in the catalog`) {
		t.Errorf("%v %q", err, rep.Warnings)
	}
	// The same host twice is an error naming both inputs.
	if _, err := inventory.Analyze(nil, []*inventory.HostData{a, a}, cat, inventory.Options{}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("duplicate host: %v", err)
	}
	// No catalog: every package, nothing compared.
	rep, _ = inventory.Analyze(nil, []*inventory.HostData{a}, nil, inventory.Options{})
	if r := rep.Hosts[0].Rows[0]; r.Provenance != inventory.NoCatalog || r.Drift != inventory.NoChannel {
		t.Errorf("%+v", r)
	}
}

func TestLoadHosts(t *testing.T) {
	hs, err := inventory.LoadHosts(td("inventory", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	a, ok := hs.Find("HOSTA")
	if !ok || a.Name != "hosta.example.com" || *a.Virtual != true || *a.Public != false || a.Channel != "stable" {
		t.Errorf("%+v %v", a, ok)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"[hosts.a]\nadress = \"x\"\n", "unknown key hosts.a.adress"},
		{"[hosts.a]\naliases=[\"b\"]\n[hosts.b]\n", `name "b" is also used`},
		{"[hosts.a\n", "h.toml:"},
	} {
		p := filepath.Join(dir, "h.toml")
		os.WriteFile(p, []byte(tc.content), 0o644)
		if _, err := inventory.LoadHosts(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.content, err, tc.want)
		}
	}
}

func TestEOL(t *testing.T) {
	for _, f := range []string{"eol.toml", "eol.csv"} {
		e, err := inventory.LoadEOL(td("inventory", f))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, version, want string }{
			{"Django", "3.2.25", "2024-04-01"},
			{"mysite-app", "1.2.3", "2027-06-30"},
			{"mysite-app", "1.20.0", ""},
			{"other", "1", ""},
		} {
			if got := e.Lookup(tc.name, tc.version); got != tc.want {
				t.Errorf("%s: Lookup(%s, %s) = %q, want %q", f, tc.name, tc.version, got, tc.want)
			}
		}
	}
	p := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(p, []byte("[[eol]]\nname = \"x\"\ndate = \"tomorrow\"\n"), 0o644)
	if _, err := inventory.LoadEOL(p); err == nil || !strings.Contains(err.Error(), "not YYYY-MM-DD") {
		t.Errorf("%v", err)
	}
}

func TestCompareEVR(t *testing.T) {
	for _, tc := range []struct {
		e1     int
		v1, r1 string
		e2     int
		v2, r2 string
		want   int
	}{
		{0, "1.2.3", "1", 0, "1.2.4", "1", -1},
		{1, "1.0", "1", 0, "9.9", "1", 1},
		{0, "1.10", "1", 0, "1.9", "1", 1},
		{0, "1.0~rc1", "1", 0, "1.0", "1", -1},
		{0, "1.0", "1.el9", 0, "1.0", "1.el9", 0},
	} {
		if got := inventory.CompareEVR(tc.e1, tc.v1, tc.r1, tc.e2, tc.v2, tc.r2); got != tc.want {
			t.Errorf("CompareEVR(%v) = %d, want %d", tc, got, tc.want)
		}
	}
}

func TestParseSignatureErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0x01, 0x02}, {0x88, 0x01, 0x03}, {0xc2, 0x05, 0x05, 0, 0, 0, 0}} {
		if _, err := inventory.ParseSignature(b); err == nil {
			t.Errorf("ParseSignature(%x) succeeded", b)
		}
	}
	if got := inventory.KeyIDFromText("RSA/SHA512, Thu Nov 26 15:54:31 2026, Key ID 00DFF9487B320186"); got != "00dff9487b320186" {
		t.Errorf("KeyIDFromText = %q", got)
	}
	if got := inventory.KeyIDFromText("(none)"); got != "" {
		t.Errorf("KeyIDFromText((none)) = %q", got)
	}
}
