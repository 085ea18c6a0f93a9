// Package rpmdir is an inventory.Catalog over plain directories of RPMs,
// one directory per channel: each package's header (NEVRA, digests,
// signing key, VCS) and its embedded SBOM are read from the file.
package rpmdir

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"

	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/sbom"
)

// Catalog maps channel names to directories. Packages are read on first
// use and kept.
type Catalog struct {
	dirs  map[string]string
	order []string
	cache map[string][]inventory.PublishedPackage
}

var _ inventory.Catalog = (*Catalog)(nil)

// New returns a catalog of the given channels (name -> directory).
func New(channels map[string]string) *Catalog {
	c := &Catalog{dirs: map[string]string{}, cache: map[string][]inventory.PublishedPackage{}}
	for n, d := range channels {
		c.dirs[n] = d
		c.order = append(c.order, n)
	}
	sort.Strings(c.order)
	return c
}

// ParseSpec reads a --rpms value: "[CHANNEL=]DIR". Without a channel name
// the channel is named after the directory.
func ParseSpec(spec string) (channel, dir string, err error) {
	channel, dir, ok := strings.Cut(spec, "=")
	if !ok {
		dir = spec
		channel = filepath.Base(filepath.Clean(dir))
	}
	if channel == "" || dir == "" {
		return "", "", fmt.Errorf("rpmdir: %q: want [CHANNEL=]DIR", spec)
	}
	return channel, dir, nil
}

// Channels returns the channel names, sorted.
func (c *Catalog) Channels() []string { return append([]string(nil), c.order...) }

// Packages returns the packages of a channel, in file name order.
func (c *Catalog) Packages(channel string) ([]inventory.PublishedPackage, error) {
	if p, ok := c.cache[channel]; ok {
		return p, nil
	}
	dir, ok := c.dirs[channel]
	if !ok {
		return nil, fmt.Errorf("rpmdir: no channel %q", channel)
	}
	pkgs, err := ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for i := range pkgs {
		pkgs[i].Channel = channel
	}
	c.cache[channel] = pkgs
	return pkgs, nil
}

// ReadDir reads every *.rpm directly in dir (source RPMs excluded).
func ReadDir(dir string) ([]inventory.PublishedPackage, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rpmdir: %w", err)
	}
	var out []inventory.PublishedPackage
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".rpm") || strings.HasSuffix(n, ".src.rpm") || strings.HasPrefix(n, ".") {
			continue
		}
		p, err := ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Header tags go-rpmutils does not name.
const (
	sigTagSHA256 = rpmutils.SIG_SHA256 // SHA256HEADER, in the signature header
	sigTagMD5    = rpmutils.SIG_MD5
	sigTagRSA    = rpmutils.SIG_RSA
	sigTagDSA    = rpmutils.SIG_DSA
	sigTagPGP    = rpmutils.SIG_PGP
	sigTagGPG    = rpmutils.SIG_GPG
)

// ReadFile reads one RPM: header, file digest and embedded SBOM (packages
// without one have no components).
func ReadFile(path string) (inventory.PublishedPackage, error) {
	f, err := os.Open(path)
	if err != nil {
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %w", err)
	}
	defer f.Close()
	return ReadPackage(f, path)
}

// ReadPackage reads one RPM from a stream (a pool object, say); path is
// recorded as PublishedPackage.Path and names it in errors.
func ReadPackage(f io.Reader, path string) (_ inventory.PublishedPackage, err error) {
	// go-rpmutils panics on some malformed headers and payloads (a file
	// list whose indexes point outside it, say): that is a bad package.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("rpmdir: %s: malformed package: %v", path, v)
		}
	}()
	h := sha256.New()
	hdrs, err := readHeaders(io.TeeReader(f, h))
	if err != nil {
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: not an RPM package: %w", path, err)
	}
	r, err := rpmutils.ReadRpm(io.MultiReader(bytes.NewReader(hdrs), io.TeeReader(f, h)))
	if err != nil {
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: %w", path, err)
	}
	p, err := fromHeader(r.Header)
	if err != nil {
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: %w", path, err)
	}
	p.Path = path
	emb, err := sbom.Extract(r)
	switch {
	case errors.Is(err, sbom.ErrNotFound):
	case err != nil:
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: %w", path, err)
	case emb.CycloneDX != nil:
		comps, err := sbom.ParseCycloneDX(emb.CycloneDX)
		if err != nil {
			return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: %s: %w", path, emb.CycloneDXPath, err)
		}
		for _, c := range comps {
			p.Components = append(p.Components, inventory.Component{Name: c.Name, Version: c.Version, PURL: c.PURL, License: licenseText(c.License), SHA256: c.SHA256})
		}
	}
	if _, err := io.Copy(h, f); err != nil { // the rest of the file, for its digest
		return inventory.PublishedPackage{}, fmt.Errorf("rpmdir: %s: %w", path, err)
	}
	p.SHA256 = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

// Limits rpm puts on a header (hdrchkTags, hdrchkData) and its largest type.
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 256 << 20
	maxType       = 9 // RPM_I18NSTRING_TYPE
)

// typeWidth is the size of one item of a fixed-size type (strings: 0).
var typeWidth = map[uint32]uint64{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}

// readHeaders reads the lead and both headers, checking them as rpm does
// before go-rpmutils parses them: it allocates whatever sizes a header
// claims and panics on index entries that point outside the data. It
// reads (and allocates) only the bytes there are, and returns them.
func readHeaders(r io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if _, err := io.CopyN(&b, r, 96); err != nil {
		return nil, fmt.Errorf("short lead: %w", err)
	}
	for _, sig := range []bool{true, false} {
		what := "main header"
		if sig {
			what = "signature header"
		}
		start := b.Len()
		if _, err := io.CopyN(&b, r, 16); err != nil {
			return nil, fmt.Errorf("%s: truncated: %w", what, err)
		}
		intro := b.Bytes()[start:]
		if !bytes.Equal(intro[:3], []byte{0x8e, 0xad, 0xe8}) {
			return nil, fmt.Errorf("%s: bad magic", what)
		}
		n, size := binary.BigEndian.Uint32(intro[8:]), binary.BigEndian.Uint32(intro[12:])
		if n == 0 || n > maxHeaderTags || size > maxHeaderData {
			return nil, fmt.Errorf("%s: %d tags and %d bytes", what, n, size)
		}
		want := int64(n)*16 + int64(size)
		if sig { // padded to 8 bytes
			want += int64((8 - size%8) % 8)
		}
		if m, err := io.CopyN(&b, r, want); err != nil {
			return nil, fmt.Errorf("%s: truncated (%d of %d bytes): %w", what, m, want, err)
		}
		index := b.Bytes()[start+16 : start+16+int(n)*16]
		for i := 0; i < len(index); i += 16 {
			tag, typ := binary.BigEndian.Uint32(index[i:]), binary.BigEndian.Uint32(index[i+4:])
			off, count := uint64(binary.BigEndian.Uint32(index[i+8:])), uint64(binary.BigEndian.Uint32(index[i+12:]))
			width := typeWidth[typ]
			if typ > maxType || off > uint64(size) || count > uint64(size)+1 || off+count*width > uint64(size) {
				return nil, fmt.Errorf("%s: tag %d of type %d, %d items at %d, outside its %d bytes", what, tag, typ, count, off, size)
			}
		}
	}
	return b.Bytes(), nil
}

func licenseText(l sbom.License) string {
	if l.Unknown() {
		return ""
	}
	return l.String()
}

func fromHeader(hdr *rpmutils.RpmHeader) (inventory.PublishedPackage, error) {
	nevra, err := hdr.GetNEVRA()
	if err != nil {
		return inventory.PublishedPackage{}, err
	}
	p := inventory.PublishedPackage{Name: nevra.Name, Version: nevra.Version, Release: nevra.Release, Arch: nevra.Arch}
	if ep, err := hdr.GetUint32s(rpmutils.EPOCH); err == nil && len(ep) == 1 {
		p.Epoch = int(ep[0])
	}
	str := func(tag int) string {
		if !hdr.HasTag(tag) {
			return ""
		}
		v, err := hdr.GetStrings(tag)
		if err != nil || len(v) == 0 {
			return ""
		}
		return v[0]
	}
	p.Summary, p.License, p.Vendor, p.VCS = str(rpmutils.SUMMARY), str(rpmutils.LICENSE), str(rpmutils.VENDOR), str(rpmutils.VCS)
	p.SHA256Header = str(sigTagSHA256)
	if bt, err := hdr.GetUint64s(rpmutils.BUILDTIME); err == nil && len(bt) == 1 {
		p.BuildTime = time.Unix(int64(bt[0]), 0).UTC()
	}
	if hdr.HasTag(sigTagMD5) {
		if b, err := hdr.GetBytes(sigTagMD5); err == nil {
			p.SIGMD5 = hex.EncodeToString(b)
		}
	}
	for _, tag := range []int{sigTagRSA, sigTagDSA, sigTagPGP, sigTagGPG} {
		if !hdr.HasTag(tag) {
			continue
		}
		pkt, err := hdr.GetBytes(tag)
		if err != nil || len(pkt) == 0 {
			continue
		}
		sig, err := inventory.ParseSignature(pkt)
		if err != nil {
			return inventory.PublishedPackage{}, fmt.Errorf("signature tag %d: %w", tag, err)
		}
		p.SigningKey = sig.KeyID
		break
	}
	return p, nil
}
