package channel

import (
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/rpmforge/rpmforge/pkg/repo"
)

// ChannelCheck is what CheckRoot found in one channel.
type ChannelCheck struct {
	Channel  string
	Revision int    // the head snapshot's revision (0: none)
	Pending  bool   // the head snapshot is pending (an interrupted run)
	Repomd   string // the published repomd.xml revision ("" if none)
	Packages int    // in the published primary.xml
}

// CheckResult is what CheckRoot found.
type CheckResult struct {
	Channels    []ChannelCheck
	PoolObjects int // objects of pool.json not removed
}

// CheckRoot verifies a repository root as a careful client and an auditor
// would, without taking its lock or changing anything: pool.json, every
// channel's history.json and the package set of every snapshot still
// stored parse (sets by their checksum); every channel that has published
// metadata passes repo.Check (every file repomd.xml names exists with its
// size and checksums, primary/filelists/other agree); and every package
// primary.xml lists exists in the channel and in the pool with the SHA-256
// primary.xml states.
func CheckRoot(ctx context.Context, dir string) (*CheckResult, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	return CheckStore(ctx, NewDirStore(dir, cfg.Link, true), cfg, dir)
}

// CheckStore is CheckRoot for a root in any store (where names it in
// messages): every package is read (downloaded, from object storage).
func CheckStore(ctx context.Context, s Store, cfg *Config, where string) (*CheckResult, error) {
	idx, err := loadPoolIndex(ctx, s)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{}
	for _, o := range idx.Objects {
		if o.Removed == nil {
			res.PoolObjects++
		}
	}
	hashed := map[string]string{} // file -> sha256
	sum := func(p string) (string, error) {
		if h, ok := hashed[p]; ok {
			return h, nil
		}
		f, err := s.Open(ctx, p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return "", err
		}
		hashed[p] = hex.EncodeToString(h.Sum(nil))
		return hashed[p], nil
	}
	for _, ch := range cfg.Channels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cc := ChannelCheck{Channel: ch}
		h, err := loadHistory(ctx, s, ch)
		if err != nil {
			return nil, err
		}
		for i, snap := range h.Snapshots {
			set, err := loadSet(ctx, s, snap.Set)
			if errors.Is(err, fs.ErrNotExist) && i < len(h.Snapshots)-1 {
				continue // pruned (retain_snapshots)
			}
			if err != nil {
				return nil, fmt.Errorf("channel %s: revision %d: %w", ch, snap.Revision, err)
			}
			if len(set) != snap.Packages {
				return nil, fmt.Errorf("channel %s: revision %d: the set has %d packages, the history says %d", ch, snap.Revision, len(set), snap.Packages)
			}
		}
		if head := h.head(); head != nil {
			cc.Revision, cc.Pending = head.Revision, head.Pending
		}
		chDir := path.Join(where, ch)
		if _, err := s.Stat(ctx, ch+"/repodata/repomd.xml"); errors.Is(err, fs.ErrNotExist) {
			if len(h.Snapshots) > 0 && !(len(h.Snapshots) == 1 && h.Snapshots[0].Pending) {
				return nil, fmt.Errorf("channel %s: revision %d is recorded but %s has no repodata/repomd.xml", ch, h.head().Revision, chDir)
			}
			res.Channels = append(res.Channels, cc)
			continue
		} else if err != nil {
			return nil, fmt.Errorf("channel %s: %w", ch, err)
		}
		chStore := prefixStorage{s, ch + "/"}
		cr, err := repo.Check(ctx, chStore)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", ch, err)
		}
		cc.Repomd, cc.Packages = cr.Repomd.Revision, cr.Packages
		rec := cr.Repomd.Record("primary")
		data, err := readFile(ctx, s, ch+"/"+rec.Location)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", ch, err)
		}
		pkgs, err := primaryPackages(rec.Location, data)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %s: %w", ch, rec.Location, err)
		}
		for _, p := range pkgs {
			href := path.Clean(p.Href)
			if strings.HasPrefix(href, "../") || path.IsAbs(href) {
				return nil, fmt.Errorf("channel %s: package %s outside the channel: %s", ch, p.Name, p.Href)
			}
			got, err := sum(ch + "/" + href)
			if err != nil {
				return nil, fmt.Errorf("channel %s: package %s of repomd.xml revision %s: %w", ch, p.Name, cc.Repomd, err)
			}
			if got != p.Sum {
				return nil, fmt.Errorf("channel %s: %s: sha256 %s, primary.xml says %s", ch, href, got, p.Sum)
			}
			if len(p.Sum) != 64 {
				return nil, fmt.Errorf("channel %s: %s: bad checksum %q in primary.xml", ch, href, p.Sum)
			}
			pool := poolName(p.Sum)
			got, err = sum(pool)
			if err != nil {
				return nil, fmt.Errorf("channel %s: %s: pool object: %w", ch, href, err)
			}
			if got != p.Sum {
				return nil, fmt.Errorf("channel %s: %s: sha256 %s (the pool object is damaged)", ch, pool, got)
			}
			if o := idx.Objects[p.Sum]; o == nil {
				return nil, fmt.Errorf("channel %s: %s (sha256 %s) is not in %s", ch, href, p.Sum, poolIndexName)
			}
		}
		res.Channels = append(res.Channels, cc)
	}
	return res, nil
}

type primaryPackage struct {
	Name string
	Sum  string
	Href string
}

// primaryPackages lists the packages of a primary.xml (compressed by its
// name's suffix): name, pkgid checksum, location.
func primaryPackages(name string, data []byte) ([]primaryPackage, error) {
	var r io.Reader = bytes.NewReader(data)
	switch {
	case strings.HasSuffix(name, ".gz"):
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = z
	case strings.HasSuffix(name, ".zst"):
		z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer z.Close()
		r = z
	case strings.HasSuffix(name, ".xz"):
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = z
	case strings.HasSuffix(name, ".bz2"):
		r = bzip2.NewReader(r)
	}
	var doc struct {
		Packages []struct {
			Name     string `xml:"name"`
			Checksum struct {
				Type  string `xml:"type,attr"`
				Value string `xml:",chardata"`
			} `xml:"checksum"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"package"`
	}
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, err
	}
	out := make([]primaryPackage, 0, len(doc.Packages))
	for _, p := range doc.Packages {
		if p.Checksum.Type != "sha256" {
			return nil, fmt.Errorf("package %s: checksum type %q, want sha256", p.Name, p.Checksum.Type)
		}
		out = append(out, primaryPackage{Name: p.Name, Sum: strings.TrimSpace(p.Checksum.Value), Href: p.Location.Href})
	}
	return out, nil
}
