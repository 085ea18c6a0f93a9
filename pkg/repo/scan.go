package repo

import (
	"cmp"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// pkgFile is an .rpm file found in the repository directory.
type pkgFile struct {
	href, path             string
	dev, ino               uint64
	size, mtimeNs, ctimeNs int64
	listed                 *PackageFile // given in Options.Files, not found
}

func fileIdentity(st fs.FileInfo) (dev, ino uint64, ctimeNs int64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino, s.Ctim.Nano()
	}
	return 0, 0, 0
}

func newPkgFile(href, p string, st fs.FileInfo) pkgFile {
	dev, ino, ctime := fileIdentity(st)
	return pkgFile{href: href, path: p, dev: dev, ino: ino, size: st.Size(),
		mtimeNs: st.ModTime().UnixNano(), ctimeNs: ctime}
}

// scanDir finds the .rpm files under dir, as createrepo_c does: recursively,
// following symlinked files, skipping hidden directories (.rpmforge,
// createrepo_c's .repodata) and repodata/. They are sorted by file name,
// then directory, createrepo_c's package order. Files that cannot be
// stat'ed are returned as bad.
func scanDir(dir string) (files []pkgFile, bad []Skipped, err error) {
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			bad = append(bad, Skipped{Path: p, Err: err})
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(name, ".") || (name == "repodata" && filepath.Dir(p) == dir)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".rpm") || strings.HasPrefix(name, ".") {
			return nil
		}
		st, err := os.Stat(p) // follows symlinks
		if err != nil {
			bad = append(bad, Skipped{Path: p, Err: err})
			return nil
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, newPkgFile(filepath.ToSlash(rel), p, st))
		return nil
	})
	sortByCreaterepoOrder(files)
	return files, bad, err
}

func sortByCreaterepoOrder(files []pkgFile) {
	slices.SortFunc(files, func(a, b pkgFile) int {
		return cmp.Or(strings.Compare(path.Base(a.href), path.Base(b.href)),
			strings.Compare(path.Dir(a.href), path.Dir(b.href)))
	})
}
