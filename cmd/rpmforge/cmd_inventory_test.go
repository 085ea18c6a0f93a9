package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/inventory/inventorytest"
	"github.com/rpmforge/rpmforge/pkg/sbom"
	"github.com/rpmforge/rpmforge/pkg/sbom/sbomtest"
)

// forgeInProcess runs the CLI in this process; it returns stdout, stderr
// and the exit code.
func forgeInProcess(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	app := newApp()
	var stdout, stderr bytes.Buffer
	app.Writer, app.ErrWriter = &stdout, &stderr
	err := app.Run(append([]string{"rpmforge"}, args...))
	if err != nil {
		stderr.WriteString("rpmforge: " + err.Error() + "\n")
		return stdout.String(), stderr.String(), exitCode(err)
	}
	return stdout.String(), stderr.String(), 0
}

// The printed command is the one in testdata/rpmdb/README.md, which made
// the test dumps.
func TestInventoryCollectCommand(t *testing.T) {
	readme, err := os.ReadFile(inventorytest.Testdata("rpmdb", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, l := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(l, "    rpm -qa --qf ") {
			want = strings.TrimSpace(l)
		}
	}
	out, _, code := forgeInProcess(t, nil, "inventory", "collect-command")
	if code != 0 || strings.TrimSpace(out) != want {
		t.Errorf("exit %d\n got %s\nwant %s", code, out, want)
	}
	out, _, _ = forgeInProcess(t, nil, "inventory", "collect-command", "--el7")
	if strings.TrimSpace(out) != strings.Replace(want, `\t%{SHA256HEADER}`, "", 1) {
		t.Errorf("--el7: %s", out)
	}
	out, _, _ = forgeInProcess(t, nil, "inventory", "collect-command", "--script")
	if !strings.Contains(out, want) || !strings.Contains(out, "# host=") {
		t.Errorf("--script: %s", out)
	}
}

func TestInventoryHostsFormats(t *testing.T) {
	s := inventorytest.New(t, t.TempDir())
	base := []string{"inventory", "hosts", "--hosts", s.Hosts, "--eol", s.EOL}
	for _, r := range s.RPMSpecs() {
		base = append(base, "--rpms", r)
	}
	env := map[string]string{"SOURCE_DATE_EPOCH": "1795766400"}
	run := func(extra ...string) (string, string) {
		t.Helper()
		// Flags after the inputs too, as the usage line shows them.
		args := append(append(append([]string(nil), base...), s.Inputs...), extra...)
		out, errOut, code := forgeInProcess(t, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s", extra, code, errOut)
		}
		return out, errOut
	}
	out, errOut := run("--format", "fedramp-csv")
	if !strings.HasPrefix(out, "UNIQUE ASSET IDENTIFIER,IPv4 or IPv6 Address,") || !strings.Contains(out, ",End-of-Life\n") {
		t.Errorf("fedramp-csv header: %.200s", out)
	}
	if !strings.Contains(errOut, "rpmforge: warning: fedramp: host hostb.example.com: mandatory columns left empty: ") {
		t.Errorf("no warning naming hostB on stderr:\n%s", errOut)
	}
	out, _ = run("--format", "csv", "--granularity", "python")
	if !strings.Contains(out, "web1.example.com,") || !strings.Contains(out, ",Django,3.2.25,pkg:pypi/django@3.2.25,BSD-3-Clause,2024-04-01") {
		t.Errorf("python csv lacks web1's Django:\n%s", out)
	}
	out, _ = run("--format", "json")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["generated"] != "2026-11-27T08:00:00Z" {
		t.Errorf("json: %v %v", err, v["generated"])
	}
	out, _ = run("--format", "cyclonedx")
	if err := sbomtest.Validate(sbom.CycloneDX, []byte(out)); err != nil {
		t.Error(err)
	}
	if _, errOut, code := forgeInProcess(t, nil, append(append([]string(nil), base...), "--format", "xlsx", s.Inputs[0])...); code != exitUsage || !strings.Contains(errOut, "--format") {
		t.Errorf("--format xlsx: exit %d %s", code, errOut)
	}
	if _, errOut, code := forgeInProcess(t, nil, "inventory", "hosts", filepath.Join(t.TempDir(), "nope.tsv")); code != exitFailure || !strings.Contains(errOut, "nope.tsv") {
		t.Errorf("missing input: exit %d %s", code, errOut)
	}
}

// The HTML page renders in headless Chromium: the screenshot shows the
// matrix colours (amber for behind, green for current).
func TestInventoryHTMLRendersInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("RPMFORGE_TESTROOT") == "require" {
			t.Fatal("chromium is missing (.ci/run installs it)")
		}
		t.Skip("chromium is missing")
	}
	dir := t.TempDir()
	s := inventorytest.New(t, dir)
	page := filepath.Join(dir, "inventory.html")
	args := []string{"inventory", "hosts", "--hosts", s.Hosts, "--eol", s.EOL, "--format", "html", "--output", page}
	for _, r := range s.RPMSpecs() {
		args = append(args, "--rpms", r)
	}
	if _, errOut, code := forgeInProcess(t, nil, append(args, s.Inputs...)...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	shot := filepath.Join(dir, "out.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
		"--screenshot="+shot, "--window-size=1280,900", "file://"+page)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Fatalf("screenshot is %v", b)
	}
	counts := map[string]int{}
	for y := 0; y < 900; y += 2 {
		for x := 0; x < 1280; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			switch [3]uint32{r >> 8, g >> 8, b >> 8} {
			case [3]uint32{0xff, 0xf1, 0xc2}:
				counts["behind"]++
			case [3]uint32{0xda, 0xfb, 0xe1}:
				counts["current"]++
			case [3]uint32{0x24, 0x29, 0x2f}:
				counts["header"]++
			}
		}
	}
	for _, k := range []string{"behind", "current", "header"} {
		if counts[k] < 200 {
			t.Errorf("the screenshot has few %s pixels (%v): the page did not render as designed (%s)", k, counts, shot)
		}
	}
}

func TestInventoryRepo(t *testing.T) {
	s := inventorytest.New(t, t.TempDir())
	out, errOut, code := forgeInProcess(t, nil, "inventory", "repo", "--rpms", s.Channels["stable"], "--rpms", s.Channels["web"])
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "channel,nevra,name,epoch,version,release,arch,sha256,sigmd5,sha256header,signing_key,build_time,commit") {
		t.Fatalf("%s", out)
	}
	if !strings.Contains(out, "rpms,mysite-app-1:1.2.3-1.el9.x86_64,mysite-app,1,1.2.3,1.el9,x86_64,e3ca8940b7c8c95cff3b28762ae3d48dfdd3f752c5a97595b0692ce8cd5d7a94,33f54a60f13561288c7e450c0c6c248a,c67f00d020ee8abc838769f468e47a218a0e04c6ae8cdfe92b8c99896aebcdef,00dff9487b320186,") {
		t.Errorf("mysite-app 1.2.3 row:\n%s", out)
	}
	for _, f := range []string{"json", "html"} {
		if _, errOut, code := forgeInProcess(t, nil, "inventory", "repo", "--rpms", s.Channels["web"], "--format", f); code != 0 {
			t.Errorf("--format %s: exit %d %s", f, code, errOut)
		}
	}
}

func TestInventorySBOMCommand(t *testing.T) {
	s := inventorytest.New(t, t.TempDir())
	rpm := filepath.Join(s.Channels["web"], "webshop-2.0.0-1.noarch.rpm")
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		out, errOut, code := forgeInProcess(t, nil, "inventory", "sbom", rpm, "--format", string(f))
		if code != 0 {
			t.Fatalf("exit %d %s", code, errOut)
		}
		if err := sbomtest.Validate(f, []byte(out)); err != nil {
			t.Error(err)
		}
		if !strings.Contains(out, "pkg:pypi/django@3.2.25") {
			t.Errorf("%s document lacks django", f)
		}
	}
	// A package of before rpmforge embedded SBOMs under /usr/share/rpmforge:
	// its %doc document, when it has one.
	old := inventorytest.Testdata("rpmdb", "rpmforge", "rpms", "mysite-app-1.2.3-1.el9.x86_64.rpm")
	out, _, code := forgeInProcess(t, nil, "inventory", "sbom", old)
	if code != 0 || !strings.Contains(out, `"specVersion":"1.5"`) {
		t.Errorf("legacy %%doc SBOM: exit %d %s", code, out)
	}
	if _, errOut, code := forgeInProcess(t, nil, "inventory", "sbom", old, "--format", "spdx"); code != exitFailure || !strings.Contains(errOut, "no spdx SBOM") {
		t.Errorf("no SPDX: exit %d %s", code, errOut)
	}
	hello := inventorytest.Testdata("rpmdb", "rpmforge", "rpms", "hello-tool-1.0-1.noarch.rpm")
	if _, errOut, code := forgeInProcess(t, nil, "inventory", "sbom", hello); code != exitFailure || !strings.Contains(errOut, "carries no SBOM") {
		t.Errorf("no SBOM: exit %d %s", code, errOut)
	}
	if _, _, code := forgeInProcess(t, nil, "inventory", "sbom", hello, "--format", "swid"); code != exitUsage {
		t.Errorf("--format swid: exit %d", code)
	}
}

// TestE2EInventorySBOM: a real build embeds the SBOM as regular files (not
// %doc), writes the same documents beside the RPM, and `inventory sbom`
// prints a valid document listing the venv's Django.
func TestE2EInventorySBOM(t *testing.T) {
	b := sharedPackages(t)
	out, err := rpmTool(t, "rpm", "-qp", "--qf", "[%{FILENAMES}\t%{FILEFLAGS:fflags}\n]", b.v1)
	if err != nil {
		t.Fatalf("rpm -qp: %v\n%s", err, out)
	}
	flags := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if name, fl, ok := strings.Cut(l, "\t"); ok {
			flags[name] = fl
		}
	}
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		p := sbom.InstallPath("mysite", f)
		fl, ok := flags[p]
		if !ok || strings.Contains(fl, "d") {
			t.Errorf("%s: listed %v with flags %q (want a regular, non-%%doc file)", p, ok, fl)
		}
	}
	if list, _ := rpmTool(t, "rpm", "-qpl", b.v1); !strings.Contains(list, "/usr/share/rpmforge/sbom/mysite.cdx.json\n") {
		t.Errorf("rpm -qpl does not list the SBOM:\n%s", list)
	}
	djangoVersion := ""
	matches, _ := filepath.Glob(filepath.Join(b.proj.Dir, "venv/lib/python3.11/site-packages/Django-*.egg-info"))
	if len(matches) == 1 {
		djangoVersion = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(matches[0]), "Django-"), ".egg-info")
	}
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		doc, errOut, code := b.proj.forge(nil, "inventory", "sbom", b.v1, "--format", string(f))
		if code != 0 {
			t.Fatalf("inventory sbom: exit %d %s", code, errOut)
		}
		if err := sbomtest.Validate(f, []byte(doc)); err != nil {
			t.Error(err)
		}
		if want := "pkg:pypi/django@" + djangoVersion; djangoVersion == "" || !strings.Contains(doc, want) {
			t.Errorf("%s SBOM lacks %s", f, want)
		}
		side, err := os.ReadFile(strings.TrimSuffix(b.v1, ".rpm") + f.Ext())
		if err != nil || !bytes.Equal(side, []byte(doc)) {
			t.Errorf("the %s document beside the RPM differs from the embedded one (%v)", f, err)
		}
	}
}

// TestInventoryChannelRoot: inventories read a channel root — what each
// channel publishes (now and at a past revision, with when and from where
// each package came) and hosts' drift against their channel.
func TestInventoryChannelRoot(t *testing.T) {
	s := inventorytest.New(t, t.TempDir())
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "rpmforge-channels.toml"), []byte("channels = [\"qa\", \"web\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	web := s.Channels["web"]
	for _, step := range [][]string{
		{"repo", "add", "--root", root, "--channel", "qa", "--allow-unsigned", "-q", filepath.Join(web, "webshop-2.0.0-1.noarch.rpm")},
		{"repo", "promote", "--root", root, "--from", "qa", "--to", "web", "--allow-unsigned", "-q", "webshop"},
		{"repo", "add", "--root", root, "--channel", "qa", "--allow-unsigned", "-q", filepath.Join(web, "webshop-2.1.0-1.noarch.rpm")},
		{"repo", "promote", "--root", root, "--from", "qa", "--to", "web", "--allow-unsigned", "-q", "webshop"},
	} {
		if _, errOut, code := forgeInProcess(t, nil, step...); code != 0 {
			t.Fatalf("%v: exit %d %s", step, code, errOut)
		}
	}
	out, errOut, code := forgeInProcess(t, nil, "inventory", "repo", "--root", root, "--format", "json")
	if code != 0 {
		t.Fatalf("inventory repo: exit %d %s", code, errOut)
	}
	var repo struct {
		Packages []struct {
			Channel      string `json:"channel"`
			NEVRA        string `json:"nevra"`
			PromotedFrom string `json:"promoted_from"`
			PublishedAt  string `json:"published_at"`
		}
	}
	if err := json.Unmarshal([]byte(out), &repo); err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, p := range repo.Packages {
		got = append(got, p.Channel+":"+p.NEVRA+"<"+p.PromotedFrom)
		if p.PublishedAt == "" {
			t.Errorf("%s in %s: no published time", p.NEVRA, p.Channel)
		}
	}
	want := "qa:webshop-2.0.0-1.noarch<,qa:webshop-2.1.0-1.noarch<,web:webshop-2.0.0-1.noarch<qa,web:webshop-2.1.0-1.noarch<qa"
	if strings.Join(got, ",") != want {
		t.Errorf("inventory repo --root:\ngot  %s\nwant %s", strings.Join(got, ","), want)
	}
	// The baseline of web at its first revision.
	out, _, code = forgeInProcess(t, nil, "inventory", "repo", "--root", root, "--channel", "web", "--at", "1")
	if code != 0 || !strings.Contains(out, "web,webshop-2.0.0-1.noarch,") || strings.Contains(out, "2.1.0") {
		t.Errorf("--at 1: exit %d\n%s", code, out)
	}
	// Hosts against the root: web1 runs 2.0.0 (behind), web2 2.1.0 (current).
	var dumps []string
	for _, in := range s.Inputs {
		if strings.Contains(filepath.Base(in), "web") {
			dumps = append(dumps, in)
		}
	}
	args := append([]string{"inventory", "hosts", "--root", root, "--hosts", s.Hosts, "--format", "csv"}, dumps...)
	out, errOut, code = forgeInProcess(t, nil, args...)
	if code != 0 {
		t.Fatalf("inventory hosts --root: exit %d %s", code, errOut)
	}
	for _, want := range []string{"web1.example.com", "web2.example.com", "behind", "current"} {
		if !strings.Contains(out, want) {
			t.Errorf("hosts csv lacks %q:\n%s", want, out)
		}
	}
	if _, _, code := forgeInProcess(t, nil, "inventory", "repo", "--root", root, "--rpms", web); code != exitUsage {
		t.Errorf("--root with --rpms: exit %d, want %d", code, exitUsage)
	}
}
