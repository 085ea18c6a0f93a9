package scan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tree(t *testing.T, files map[string]string, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func rels(files []File) string {
	var out []string
	for _, f := range files {
		out = append(out, f.Rel)
	}
	return strings.Join(out, ",")
}

func TestWalkExcludes(t *testing.T) {
	dir := tree(t, map[string]string{
		"manage.py": "", "app/models.py": "", "app/__pycache__/models.cpython-311.pyc": "",
		".git/HEAD": "", "db.sqlite3": "", "media/x.png": "", "app/x.pyc": "",
	}, map[string]string{"app/link.py": "models.py"})
	got, err := Walk(dir, Options{Exclude: []string{"*.sqlite3", "media"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := "app,app/link.py,app/models.py,manage.py"; rels(got) != want {
		t.Errorf("got %s, want %s", rels(got), want)
	}
	for _, f := range got {
		if f.Rel == "app/link.py" && f.Link != "models.py" {
			t.Errorf("link target %q", f.Link)
		}
	}
}

func TestWalkLinks(t *testing.T) {
	tests := []struct {
		name   string
		target string
		allow  bool
		errMsg string
	}{
		{"inside", "../a/b", false, ""},
		{"escapes", "../../outside", false, "points outside the tree"},
		{"absolute shadow", "/etc/shadow", false, "points outside the tree"},
		{"allowed interpreter", "/usr/bin/python3.11", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tree(t, map[string]string{"a/b": "x"}, map[string]string{"c/link": tt.target})
			_, err := Walk(dir, Options{AllowAbsLink: func(rel, target string) bool { return tt.allow }})
			if tt.errMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errMsg) || !strings.Contains(err.Error(), filepath.Join(dir, "c/link")) {
				t.Errorf("got %v, want an error naming the link and %q", err, tt.errMsg)
			}
		})
	}
	// An absolute link into the tree itself is kept (the payload relocates it).
	dir := tree(t, map[string]string{"a/b": "x"}, nil)
	os.Symlink(filepath.Join(dir, "a/b"), filepath.Join(dir, "abs"))
	if _, err := Walk(dir, Options{}); err != nil {
		t.Errorf("absolute link inside the tree: %v", err)
	}
}

func TestWalkRefusesNewlineNames(t *testing.T) {
	dir := tree(t, map[string]string{"bad\nname": "x"}, nil)
	if _, err := Walk(dir, Options{}); err == nil || !strings.Contains(err.Error(), "newline") {
		t.Errorf("got %v", err)
	}
}
