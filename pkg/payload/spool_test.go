package payload

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/scan"
)

func spoolTree(t *testing.T, files map[string]string) (string, []scan.File) {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	list, err := scan.Walk(dir, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return dir, list
}

func TestSpooledTreesMergeInPathOrder(t *testing.T) {
	clamp := time.Unix(1700000000, 0)
	srcDir, src := spoolTree(t, map[string]string{"app/x.py": "x", "app-y": "y"})
	_, venv := spoolTree(t, map[string]string{"bin/activate": "old", "lib/z": "zz"})
	b := New(clamp, clamp)
	b.TempDir = t.TempDir()
	defer b.Close()
	if err := b.AddDir("/opt/a", Root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTree("/opt/a/src", src, TreeOptions{Owner: Root, BuildRoot: srcDir}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTree("/opt/a/venv", venv, TreeOptions{Owner: Root, Override: map[string][]byte{"bin/activate": []byte("relocated")}}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddBytes("/opt/a/src/app-z", []byte("gen"), Root, 0o644, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.OwnParents("/opt/a", Root); err != nil {
		t.Fatal(err)
	}
	s, err := b.Source()
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	contents := map[string]string{}
	err = s.Each(func(i int, e *rpm.Entry) error {
		if i != len(paths) {
			t.Errorf("index %d at %s", i, e.Path)
		}
		paths = append(paths, e.Path)
		if e.Mode.IsRegular() {
			var rc io.ReadCloser
			var err error
			if e.Open != nil {
				rc, err = e.Open()
			} else {
				rc, err = b.Open(e)
			}
			if err != nil {
				return err
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			if int64(len(data)) != e.Size {
				t.Errorf("%s: size %d, content %d bytes", e.Path, e.Size, len(data))
			}
			contents[e.Path] = string(data)
		}
		if !e.MTime.Equal(clamp) && e.MTime.After(clamp) {
			t.Errorf("%s: mtime %v after clamp", e.Path, e.MTime)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "/opt/a,/opt/a/src,/opt/a/src/app,/opt/a/src/app-y,/opt/a/src/app-z,/opt/a/src/app/x.py," +
		"/opt/a/venv,/opt/a/venv/bin,/opt/a/venv/bin/activate,/opt/a/venv/lib,/opt/a/venv/lib/z"
	if got := strings.Join(paths, ","); got != want {
		t.Errorf("paths\n got %s\nwant %s", got, want)
	}
	if s.Len() != len(paths) {
		t.Errorf("Len %d, Each gave %d", s.Len(), len(paths))
	}
	if c := contents["/opt/a/venv/bin/activate"]; c != "relocated" {
		t.Errorf("override not applied: %q", c)
	}
	if c := contents["/opt/a/src/app-z"]; c != "gen" {
		t.Errorf("generated file: %q", c)
	}
}

func TestSpooledDuplicates(t *testing.T) {
	now := time.Unix(1700000000, 0)
	dir, files := spoolTree(t, map[string]string{"etc/x": "x"})
	b := New(time.Time{}, now)
	b.TempDir = t.TempDir()
	defer b.Close()
	// The same directory from a tree and on its own: kept once, the first.
	if err := b.AddDir("/opt/a/etc", Owner{"root", "wheel"}, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := b.AddTree("/opt/a", files, TreeOptions{Owner: Root}); err != nil {
		t.Fatal(err)
	}
	s, err := b.Source()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []rpm.Entry
	s.Each(func(_ int, e *rpm.Entry) error {
		if e.Path == "/opt/a/etc" {
			dirs = append(dirs, *e)
		}
		return nil
	})
	if len(dirs) != 1 || dirs[0].Group != "wheel" || dirs[0].Mode != fs.ModeDir|0o750 {
		t.Errorf("directory added twice: %+v", dirs)
	}
	// A file from a tree and on its own: an error naming both.
	if err := b.AddBytes("/opt/a/etc/x", []byte("y"), Root, 0o644, 0); err != nil {
		t.Fatal(err)
	}
	_, err = b.Source()
	if err == nil || !strings.Contains(err.Error(), "already present from "+filepath.Join(dir, "etc/x")) || !strings.Contains(err.Error(), "adding generated /opt/a/etc/x") {
		t.Errorf("err = %v", err)
	}
}
