package repo

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
)

// listedDev marks the cache entries of listed files (Options.Files): their
// identity is the hash of PackageFile.ID kept as the inode, which no file found
// on disk has together with this device number.
const listedDev = ^uint64(0)

// listedFiles turns Options.Files into the scan's form, in createrepo_c's
// order.
func listedFiles(in []PackageFile) []pkgFile {
	files := make([]pkgFile, len(in))
	for i := range in {
		f := &in[i]
		h := fnv.New64a()
		io.WriteString(h, f.ID)
		files[i] = pkgFile{href: f.Href, path: f.Href, dev: listedDev, ino: h.Sum64(), size: f.Size,
			mtimeNs: f.Mtime.UnixNano(), listed: f}
	}
	sortByCreaterepoOrder(files)
	return files
}

// readListed reads a listed file through its Open; it is never racy (its
// ID changes with its content).
func (p *publisher) readListed(ctx context.Context, f pkgFile, buf, fileBuf *[]byte) (item, error) {
	rc, err := f.listed.Open(ctx)
	if err != nil {
		return item{}, err
	}
	defer rc.Close()
	pkg, err := readPackageFrom(rc, f.size, f.listed.Mtime.Unix(), f.href, ReadOptions{ChangelogLimit: p.opts.readLimit()}, fileBuf)
	if err != nil {
		return item{}, err
	}
	if f.listed.SHA256 != "" && pkg.PkgID != f.listed.SHA256 {
		return item{}, fmt.Errorf("%w: %s: sha256 %s, expected %s (damaged in storage?)", ErrInvalid, f.href, pkg.PkgID, f.listed.SHA256)
	}
	return p.render(f, pkg, false, buf), nil
}

// openEntry opens a package of the last publish again (the databases read
// its headers once more).
func (p *publisher) openEntry(ctx context.Context, e stateEntry) (io.ReadCloser, string, error) {
	if p.opts.Files != nil {
		for i := range p.opts.Files {
			if f := &p.opts.Files[i]; f.Href == e.Href {
				rc, err := f.Open(ctx)
				return rc, f.Href, err
			}
		}
		return nil, "", fmt.Errorf("%s: not among the listed files", e.Href)
	}
	name := filepath.Join(p.dir, filepath.FromSlash(e.Href))
	f, err := os.Open(name)
	return f, name, err
}
