package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

// TestE2EHostileFileNames: a project under a directory named with quotes,
// spaces and shell metacharacters builds; project files whose names carry spaces, XML
// metacharacters, quotes and non-ASCII UTF-8 are packaged under their exact
// names (rpm lists them, installs them); a name that is not UTF-8 fails the
// build with one clear line naming it, writing nothing. (Symlinks out of
// the tree, in the venv, to /etc/shadow and a destination climbing out with
// "..": TestE2EBadInput.)
func TestE2EHostileFileNames(t *testing.T) {
	e2eRequire(t)
	// The project (and its venv, relocated) lives under a directory whose
	// name needs shell quoting.
	p := newProject(t, filepath.Join(t.TempDir(), `it's a "b" & $c`, "mysite"))
	names := []string{
		`polls/hostile/a b&c<d>e"f'g.txt`,
		`polls/hostile/sp ace/ünï cødé $x;y|z*.txt`,
		`polls/hostile/-dash --x.txt`,
	}
	for _, n := range names {
		p.write(n, "hostile "+n+"\n")
	}
	p.commit("hostile names", "v1.0.1")
	out := filepath.Join(t.TempDir(), "out dir &")
	pkg := p.build(out)
	entries, _ := os.ReadDir(out)
	for _, e := range entries { // the package and its SBOMs
		if !strings.HasPrefix(e.Name(), "mysite-1.0.1-1.") {
			t.Errorf("output dir holds %s", e.Name())
		}
	}
	list, err := rpmTool(t, "rpm", "-qlp", pkg)
	if err != nil {
		t.Fatalf("rpm -qlp: %v\n%s", err, list)
	}
	for _, n := range names {
		if !strings.Contains(list, "/src/"+n+"\n") {
			t.Errorf("rpm -qlp lacks %q", n)
		}
	}
	if out, err := rpmTool(t, "rpmkeys", "-Kv", "--nosignature", pkg); err != nil {
		t.Errorf("rpmkeys -K: %v\n%s", err, out)
	}

	// Installed: the files are there under their names, with their contents.
	r := testroot.New(t)
	if out, err := r.RPM("-i", "--force-debian", "--nodeps", "--noscripts", pkg); err != nil {
		t.Fatalf("rpm -i: %v\n%s", err, out)
	}
	for _, n := range names {
		var found string
		filepath.WalkDir(filepath.Join(r.Dir, "opt"), func(path string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, "/src/"+n) {
				found = path
			}
			return nil
		})
		if b, err := os.ReadFile(found); err != nil || string(b) != "hostile "+n+"\n" {
			t.Errorf("%q not installed (found %q): %v %q", n, found, err, b)
		}
	}

	// Not UTF-8: a clear error, nothing written.
	p.write("polls/hostile/caf\xe9.txt", "latin1\n")
	p.commit("latin1 name", "v1.0.2")
	bad := filepath.Join(t.TempDir(), "bad")
	stdout, stderr, code := p.forge(nil, "--quiet", "build", "--output", bad)
	msg := strings.TrimSpace(stderr)
	if code == 0 || !strings.Contains(msg, "caf\\xe9") || !strings.Contains(msg, "UTF-8") || strings.Count(msg, "\n") != 0 {
		t.Errorf("exit %d, want one error line naming caf\\xe9 and UTF-8:\n%s%s", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(bad); len(entries) != 0 {
		t.Errorf("output dir not empty after a failed build: %v", entries)
	}
}
