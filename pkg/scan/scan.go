// Package scan walks a source tree into a sorted list of files to package,
// refusing what cannot be packaged safely: symlinks that leave the tree,
// special files, names rpm cannot carry.
package scan

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one entry of a scanned tree. Only metadata is kept; contents are
// read later, when the payload is written.
type File struct {
	Rel   string // slash path relative to the root, never "." (the root itself is not listed)
	Abs   string // path on disk
	Mode  fs.FileMode
	Size  int64
	MTime time.Time
	Link  string // symlink target as stored on disk
}

// IsDir reports whether f is a directory.
func (f File) IsDir() bool { return f.Mode.IsDir() }

// Options control a walk.
type Options struct {
	// Exclude are glob patterns (path.Match) matched against the slash path
	// relative to the root and against the base name; a match drops the
	// file or the whole directory.
	Exclude []string
	// AllowAbsLink decides whether a symlink to an absolute path outside the
	// root may be kept (a venv's bin/python -> /usr/bin/python3.11).
	AllowAbsLink func(rel, target string) bool
}

// AlwaysExcluded are never packaged.
var AlwaysExcluded = []string{".git", ".gitignore", ".gitattributes", ".gitmodules", ".hg", ".hgignore", ".svn", "__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.swp", "*~"}

// Walk lists root's tree, sorted by Rel.
func Walk(root string, opt Options) ([]File, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("scan: %s is not a directory", root)
	}
	patterns := append(append([]string{}, AlwaysExcluded...), opt.Exclude...)
	var files []File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if p == root {
			return nil
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if excluded(rel, patterns) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if err := checkName(rel); err != nil {
			return fmt.Errorf("scan: %s: %w", p, err)
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		f := File{Rel: rel, Abs: p, Mode: info.Mode(), MTime: info.ModTime()}
		switch {
		case info.Mode().IsRegular():
			f.Size = info.Size()
		case info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			if err := checkLink(root, rel, target, opt.AllowAbsLink); err != nil {
				return fmt.Errorf("scan: symlink %s -> %s %w", p, target, err)
			}
			f.Link = target
		default:
			return fmt.Errorf("scan: %s is a %s, not a regular file, directory or symlink (exclude it in project.exclude)", p, info.Mode().Type())
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}

func excluded(rel string, patterns []string) bool {
	base := path.Base(rel)
	for _, p := range patterns {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// checkName refuses names rpm's cpio and header cannot carry faithfully.
func checkName(rel string) error {
	if strings.ContainsAny(rel, "\n\r\x00") {
		return fmt.Errorf("file name contains a newline or NUL, which rpm cannot package (rename or exclude it)")
	}
	return nil
}

// checkLink keeps links inside the tree: a relative target must resolve
// within root; an absolute one must be inside root or explicitly allowed.
func checkLink(root, rel, target string, allowAbs func(rel, target string) bool) error {
	if target == "" {
		return fmt.Errorf("has an empty target")
	}
	if path.IsAbs(target) || filepath.IsAbs(target) {
		t := filepath.Clean(target)
		if t == root || strings.HasPrefix(t, root+string(filepath.Separator)) {
			return nil // relocated by the payload builder
		}
		if allowAbs != nil && allowAbs(rel, t) {
			return nil
		}
		return fmt.Errorf("points outside the tree being packaged (%s); make it relative to a file inside the tree or exclude it", root)
	}
	resolved := path.Join(path.Dir(rel), filepath.ToSlash(target))
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("points outside the tree being packaged (%s); make it point inside the tree or exclude it", root)
	}
	return nil
}
