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
	var files []File
	err := WalkFunc(root, opt, func(f File) error {
		files = append(files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// WalkFunc's order already is this one; kept as the definition.
	sort.Slice(files, func(i, j int) bool { return files[i].Rel < files[j].Rel })
	return files, nil
}

// WalkFunc calls fn with each file of root's tree in the order of Walk's
// list (sorted by Rel), without building the list: a venv of 100k files
// is handed over one file at a time. An error from fn stops the walk and
// is returned.
//
// Sorted by Rel, a directory's descendants all start with "dir/", so they
// come as one block, right where "dir/" sorts among its siblings' names
// (after "dir" and, e.g., "dir-x", since '-' < '/'): each directory is
// read once, its names and its subdirectories' blocks sorted together.
func WalkFunc(root string, opt Options, fn func(File) error) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("scan: %s is not a directory", root)
	}
	prefix := root
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	w := &walker{root: root, prefix: prefix, opt: opt, fn: fn, patterns: compilePatterns(append(append([]string{}, AlwaysExcluded...), opt.Exclude...))}
	return w.dir(root, "")
}

type walker struct {
	root     string
	prefix   string // root with a trailing separator
	opt      Options
	fn       func(File) error
	patterns []pattern
}

// dir walks the directory at p (rel "" for the root).
func (w *walker) dir(p, rel string) error {
	ents, err := os.ReadDir(p)
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	type item struct {
		key   string // name, or name + "/" for a subdirectory's block
		e     fs.DirEntry
		block bool
	}
	items := make([]item, 0, len(ents)+len(ents)/4)
	for _, e := range ents {
		items = append(items, item{key: e.Name(), e: e})
		if e.IsDir() {
			items = append(items, item{key: e.Name() + "/", e: e, block: true})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].key < items[j].key })
	skipped := map[string]bool{} // excluded directories: no block
	for _, it := range items {
		name := it.e.Name()
		var cp string
		if strings.HasSuffix(p, string(filepath.Separator)) {
			cp = p + name
		} else {
			cp = p + string(filepath.Separator) + name
		}
		crel := filepath.ToSlash(cp[len(w.prefix):]) // shares cp's bytes
		if it.block {
			if skipped[name] {
				continue
			}
			if err := w.dir(cp, crel); err != nil {
				return err
			}
			continue
		}
		if excluded(crel, w.patterns) {
			if it.e.IsDir() {
				skipped[name] = true
			}
			continue
		}
		if err := checkName(crel); err != nil {
			return fmt.Errorf("scan: %s: %w", cp, err)
		}
		info, err := it.e.Info()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		f := File{Rel: crel, Abs: cp, Mode: info.Mode(), MTime: info.ModTime()}
		switch {
		case info.Mode().IsRegular():
			f.Size = info.Size()
		case info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(cp)
			if err != nil {
				return fmt.Errorf("scan: %w", err)
			}
			if err := checkLink(w.root, crel, target, w.opt.AllowAbsLink); err != nil {
				return fmt.Errorf("scan: symlink %s -> %s %w", cp, target, err)
			}
			f.Link = target
		default:
			return fmt.Errorf("scan: %s is a %s, not a regular file, directory or symlink (exclude it in project.exclude)", cp, info.Mode().Type())
		}
		if err := w.fn(f); err != nil {
			return err
		}
	}
	return nil
}

// pattern is an exclude pattern with what makes matching it cheap: a
// pattern without '/' cannot match a path with one (no metacharacter of
// path.Match matches '/'), and "*" followed by literal text is a suffix.
type pattern struct {
	glob     string
	hasSlash bool
	suffix   string // "*.pyc" -> ".pyc"; "" when not that form
}

func compilePatterns(globs []string) []pattern {
	out := make([]pattern, len(globs))
	for i, g := range globs {
		out[i] = pattern{glob: g, hasSlash: strings.Contains(g, "/")}
		if rest, ok := strings.CutPrefix(g, "*"); ok && rest != "" && !strings.ContainsAny(rest, `*?[\/`) {
			out[i].suffix = rest
		}
	}
	return out
}

// match reports path.Match(p.glob, name).
func (p pattern) match(name string) bool {
	if p.suffix != "" {
		return strings.HasSuffix(name, p.suffix) && !strings.Contains(name, "/")
	}
	if !p.hasSlash && strings.Contains(name, "/") {
		return false
	}
	ok, _ := path.Match(p.glob, name)
	return ok
}

// excluded reports whether a pattern matches the slash path rel or its
// base name.
func excluded(rel string, patterns []pattern) bool {
	base := path.Base(rel)
	for _, p := range patterns {
		if p.match(rel) || p.match(base) {
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
