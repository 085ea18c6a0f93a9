package build

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/payload"
	"github.com/rpmforge/rpmforge/pkg/sbom"
)

// addSBOM describes the package and the venv's Python distributions
// (hashing their files as packaged, after relocation: sum gives the digests
// relocation computed, only the files it skipped are read) and installs the
// CycloneDX and SPDX documents as regular files under sbom.Dir: not %doc,
// which hosts installing with tsflags=nodocs would silently drop. It
// returns the documents so write can put them beside the RPM.
func (b *builder) addSBOM(pl *payload.Builder, reloc map[string][]byte, sum func(rel string) ([32]byte, bool)) (map[sbom.Format][]byte, error) {
	v := b.venv
	site := filepath.Join(v.Dir, "lib", "python"+v.PyVersion, "site-packages")
	comps, err := sbom.Scan(v.Dir, site, sbom.ScanOptions{Open: func(rel string) (io.ReadCloser, error) {
		if c, ok := reloc[rel]; ok {
			return io.NopCloser(bytes.NewReader(c)), nil
		}
		f, err := fsutil.OpenRaw(filepath.Join(v.Dir, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		return pooledReader{f}, nil
	}, Sum: sum})
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	md := b.md
	doc := &sbom.Document{
		Package: sbom.Package{
			Name: md.Name, Epoch: md.Epoch, Version: md.Version, Release: md.Release, Arch: md.Arch,
			Vendor: md.Vendor, License: md.License, Summary: md.Summary, URL: md.URL, VCS: md.VCS, BuildTime: md.BuildTime,
		},
		Tool:       sbom.Tool{Name: "rpmforge", Version: b.toolVersion()},
		Components: comps,
	}
	if err := pl.AddDir(filepath.Dir(sbom.Dir), payload.Root, 0o755); err != nil {
		return nil, err
	}
	if err := pl.AddDir(sbom.Dir, payload.Root, 0o755); err != nil {
		return nil, err
	}
	docs := map[sbom.Format][]byte{}
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		data, err := doc.Encode(f)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		if err := pl.AddBytes(sbom.InstallPath(md.Name, f), data, payload.Root, 0o644, 0); err != nil {
			return nil, err
		}
		docs[f] = data
	}
	return docs, nil
}

// pooledReader copies itself out through a shared buffer: io.Copy would
// otherwise allocate 32 KB for each of the venv's files, and on a venv of
// 30k files that garbage made the SBOM step the build's peak of memory and
// kept the GC busy.
type pooledReader struct{ io.ReadCloser }

var copyBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}

func (f pooledReader) WriteTo(w io.Writer) (int64, error) {
	buf := copyBufs.Get().(*[64 << 10]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(w, struct{ io.Reader }{f.ReadCloser}, buf[:])
}

func (b *builder) toolVersion() string {
	if b.opt.ToolVersion != "" {
		return b.opt.ToolVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return ""
}

// writeSBOMs writes the documents beside the RPM as <base>.cdx.json and
// <base>.spdx.json (base is the RPM file name without ".rpm"), each through
// a temp file renamed into place.
func writeSBOMs(dir, base string, docs map[sbom.Format][]byte) ([]string, error) {
	var paths []string
	for _, f := range []sbom.Format{sbom.CycloneDX, sbom.SPDX} {
		data, ok := docs[f]
		if !ok {
			continue
		}
		final := filepath.Join(dir, base+f.Ext())
		tmp, err := os.CreateTemp(dir, "."+base+f.Ext()+".*.tmp")
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), final)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return nil, fmt.Errorf("build: writing %s: %w", final, err)
		}
		paths = append(paths, final)
	}
	return paths, nil
}
