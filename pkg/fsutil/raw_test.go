package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestDirOpener(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{"a/x": "one", "a/y": "", "b/z": strings.Repeat("z", 100000), "top": "t"}
	for name, content := range files {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(filepath.Join(root, "a", "x"), filepath.Join(root, "b", "link"))

	var o DirOpener
	defer o.Close()
	for _, name := range []string{"a/x", "a/y", "b/z", "a/x", "top"} {
		for _, open := range []func(string) (io.ReadCloser, error){o.Open, OpenRaw} {
			rc, err := open(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || string(got) != files[name] {
				t.Errorf("%s: read %d bytes (%v), want %d", name, len(got), err, len(files[name]))
			}
			if err := rc.Close(); err != nil {
				t.Errorf("%s: close: %v", name, err)
			}
			if err := rc.Close(); err == nil {
				t.Errorf("%s: second close: no error", name)
			}
		}
	}
	for _, tc := range []struct{ name, want string }{
		{"b/link", "too many levels of symbolic links"}, // not followed
		{"a/missing", "no such file"},
		{"nodir/x", "no such file"},
	} {
		for _, open := range []func(string) (io.ReadCloser, error){o.Open, OpenRaw} {
			p := filepath.Join(root, tc.name)
			_, err := open(p)
			if runtime.GOOS != "linux" && tc.name == "b/link" {
				continue // os.Open follows links elsewhere
			}
			if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("open %s: %v, want an error naming it with %q", tc.name, err, tc.want)
			}
		}
	}
}

func TestReadFileLimit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	content := strings.Repeat("0123456789", 10000)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, capacity := range []int{0, 7, 1 << 20} {
		got, err := ReadFileLimit(p, make([]byte, 3, capacity+3), int64(len(content)))
		if err != nil || string(got) != content {
			t.Errorf("cap %d: %d bytes, %v", capacity, len(got), err)
		}
	}
	if got, err := ReadFileLimit(p, nil, int64(len(content)-1)); !errors.Is(err, ErrTooBig) || len(got) != 0 {
		t.Errorf("over the limit: %d bytes, %v", len(got), err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadFileLimit(missing, nil, 10); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}
