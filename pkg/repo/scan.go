package repo

import (
	"cmp"
	"fmt"
	"io"
	"io/fs"
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
		var st syscall.Stat_t
		if err := statFollow(p, &st); err != nil { // follows symlinks, as os.Stat
			bad = append(bad, Skipped{Path: p, Err: &fs.PathError{Op: "stat", Path: p, Err: err}})
			return nil
		}
		if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files = append(files, pkgFileFromStat(filepath.ToSlash(rel), p, &st))
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

func pkgFileFromStat(href, p string, s *syscall.Stat_t) pkgFile {
	return pkgFile{href: href, path: p, dev: uint64(s.Dev), ino: s.Ino, size: s.Size,
		mtimeNs: s.Mtim.Nano(), ctimeNs: s.Ctim.Nano()}
}

func openRead(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int, st *syscall.Stat_t) error {
	for {
		if err := syscall.Fstat(fd, st); err != syscall.EINTR {
			return err
		}
	}
}

// readFull fills b from fd; a file shorter than b changed since its fstat.
func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Read(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return err
		case n == 0:
			return fmt.Errorf("%w: %w", ErrInvalid, errChanged)
		}
		b = b[n:]
	}
	return nil
}

// fdReader reads a file descriptor (packages streamed through the hash).
type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(int(r), b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(b) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func statFollow(path string, st *syscall.Stat_t) error {
	for {
		if err := syscall.Stat(path, st); err != syscall.EINTR {
			return err
		}
	}
}
