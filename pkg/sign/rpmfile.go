package sign

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The layout of an RPM file, read as rpm 4.18 reads it (lib/rpmlead.c,
// lib/header.c hdrblobRead/hdrblobInit): a 96-byte lead, the signature
// header padded to 8 bytes, the main header, the payload up to the end of
// the file. The structural checks are rpm's, so that a package rpm refuses to
// read is refused here too.

const leadSize = 96

var (
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}
)

// errNotRPM is what a file that does not start with the RPM lead magic gets.
var errNotRPM = errors.New("not an rpm package")

// Header region tags.
const (
	tagHeaderImage      = 61
	tagHeaderSignatures = 62
	tagHeaderImmutable  = 63
	tagI18NTable        = 100
)

// Header data types.
const (
	typeNull        = 0
	typeChar        = 1
	typeInt8        = 2
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

var typeSizes = [16]int{0, 1, 1, 2, 4, 8, -1, 1, -1, -1, 0, 0, 0, 0, 0, 0}
var typeAlign = [16]int{1, 1, 1, 2, 4, 8, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}

type entryInfo struct {
	tag, typ uint32
	offset   int32
	count    uint32
}

// hdrBlob is one header as read from the file.
type hdrBlob struct {
	raw     []byte // magic, il, dl, index, data: what the header digests cover
	il, dl  int
	index   []entryInfo
	data    []byte
	ril     int // entries and data bytes of the region
	rdl     int
	hasRgn  bool
	sigPad  int // signature header: padding read after it
	readLen int // bytes consumed from the file, padding included
}

// readLead reads and checks the lead as rpmLeadRead does.
func readLead(r io.Reader) error {
	b := make([]byte, leadSize)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errNotRPM
		}
		return fmt.Errorf("read failed: %w", err)
	}
	if !bytes.Equal(b[:4], leadMagic) {
		return errNotRPM
	}
	if binary.BigEndian.Uint16(b[78:]) != 5 {
		return errors.New("illegal signature type")
	}
	if major := b[4]; major < 3 || major > 4 {
		return errors.New("unsupported RPM package version")
	}
	return nil
}

// readHeader reads a header as hdrblobRead does: regionTag is
// tagHeaderSignatures (read its padding too, region optional, sizes not
// exact) or tagHeaderImmutable (region required to span the header).
func readHeader(r io.Reader, regionTag uint32) (*hdrBlob, error) {
	sig := regionTag == tagHeaderSignatures
	pre := make([]byte, 16)
	if n, err := io.ReadFull(r, pre); err != nil {
		return nil, fmt.Errorf("hdr size(16): BAD, read returned %d", n)
	}
	if !bytes.Equal(pre[:8], headerMagic) {
		return nil, errors.New("hdr magic: BAD")
	}
	il := binary.BigEndian.Uint32(pre[8:])
	dl := binary.BigEndian.Uint32(pre[12:])
	ilMax, dlMax := uint32(0xffff), uint32(0x0fffffff)
	if sig {
		ilMax, dlMax = 32, 64<<20
	}
	if il > ilMax {
		return nil, fmt.Errorf("hdr tags: BAD, no. of tags(%d) out of range", il)
	}
	if dl > dlMax {
		return nil, fmt.Errorf("hdr data: BAD, no. of bytes(%d) out of range", dl)
	}
	nb := int(il)*16 + int(dl)
	raw := make([]byte, 16+nb)
	copy(raw, pre)
	if n, err := io.ReadFull(r, raw[16:]); err != nil {
		return nil, fmt.Errorf("hdr blob(%d): BAD, read returned %d", nb, n)
	}
	b := &hdrBlob{raw: raw, il: int(il), dl: int(dl), data: raw[16+int(il)*16:], readLen: len(raw)}
	if sig {
		b.sigPad = (8 - len(raw)%8) % 8
		if b.sigPad > 0 {
			pad := make([]byte, b.sigPad)
			if n, err := io.ReadFull(r, pad); err != nil {
				return nil, fmt.Errorf("sigh pad(%d): BAD, read %d bytes", b.sigPad, n)
			}
			b.readLen += b.sigPad
		}
	}
	b.index = make([]entryInfo, il)
	for i := range b.index {
		e := raw[16+i*16:]
		b.index[i] = entryInfo{
			tag:    binary.BigEndian.Uint32(e),
			typ:    binary.BigEndian.Uint32(e[4:]),
			offset: int32(binary.BigEndian.Uint32(e[8:])),
			count:  binary.BigEndian.Uint32(e[12:]),
		}
	}
	if err := b.verifyRegion(regionTag, !sig); err != nil {
		return nil, err
	}
	if err := b.verifyInfo(); err != nil {
		return nil, err
	}
	return b, nil
}

// verifyRegion checks the region tag and trailer (hdrblobVerifyRegion).
func (b *hdrBlob) verifyRegion(regionTag uint32, exact bool) error {
	if b.il < 1 {
		return errors.New("region: no tags")
	}
	e := b.index[0]
	if e.tag != regionTag {
		if exact {
			// rpm reads such a header as a v3 one; rpmforge does not
			// deal with packages that old.
			return fmt.Errorf("region tag %d missing: not an rpm v4 header", regionTag)
		}
		return nil
	}
	if e.typ != typeBin || e.count != 16 {
		return fmt.Errorf("region tag: BAD, tag %d type %d offset %d count %d", e.tag, e.typ, e.offset, e.count)
	}
	if e.offset < 0 || int(e.offset)+16 > b.dl {
		return fmt.Errorf("region offset: BAD, tag %d type %d offset %d count %d", e.tag, e.typ, e.offset, e.count)
	}
	t := b.data[e.offset:]
	tr := entryInfo{
		tag:    binary.BigEndian.Uint32(t),
		typ:    binary.BigEndian.Uint32(t[4:]),
		offset: -int32(binary.BigEndian.Uint32(t[8:])),
		count:  binary.BigEndian.Uint32(t[12:]),
	}
	if regionTag == tagHeaderSignatures && tr.tag == tagHeaderImage {
		tr.tag = tagHeaderSignatures
	}
	if tr.tag != regionTag || tr.typ != typeBin || tr.count != 16 {
		return fmt.Errorf("region trailer: BAD, tag %d type %d offset %d count %d", tr.tag, tr.typ, tr.offset, tr.count)
	}
	b.ril = int(tr.offset) / 16
	b.rdl = int(e.offset) + 16
	if tr.offset%16 != 0 || b.ril < 0 || b.ril > b.il || b.rdl > b.dl {
		return fmt.Errorf("region %d size: BAD, ril %d il %d rdl %d dl %d", regionTag, b.ril, b.il, b.rdl, b.dl)
	}
	if exact && (b.il != b.ril || b.dl != b.rdl) {
		return fmt.Errorf("region %d: tag number mismatch il %d ril %d dl %d rdl %d", regionTag, b.il, b.ril, b.dl, b.rdl)
	}
	b.hasRgn = true
	return nil
}

// verifyInfo checks every index entry (hdrblobVerifyInfo, less the tag type
// table: a main header that disagrees with it fails its digests anyway).
func (b *hdrBlob) verifyInfo() error {
	pe := b.index
	if b.hasRgn {
		pe = pe[1:]
	}
	end := 0
	for i, e := range pe {
		bad := func(l int) error {
			return fmt.Errorf("tag[%d]: BAD, tag %d type %d offset %d count %d len %d", i, e.tag, e.typ, e.offset, e.count, l)
		}
		if int(e.offset) < end ||
			e.tag < tagI18NTable ||
			e.typ > typeI18NString ||
			e.count < 1 || int64(e.count) > int64(b.dl) ||
			e.offset < 0 || int(e.offset) > b.dl ||
			int(e.offset)&(typeAlign[e.typ]-1) != 0 ||
			(e.typ != typeBin && e.count&^0x000fffff != 0) {
			return bad(0)
		}
		l := dataLength(e.typ, b.data[e.offset:], e.count)
		end = int(e.offset) + l
		if l <= 0 || end > b.dl {
			return bad(l)
		}
		if b.hasRgn && end > b.rdl-16 && int(e.offset) < b.rdl {
			return bad(l)
		}
	}
	return nil
}

// dataLength is the size of an entry's data, or -1 when it does not fit
// in p (strings need their NUL).
func dataLength(typ uint32, p []byte, count uint32) int {
	switch typ {
	case typeString, typeStringArray, typeI18NString:
		if typ == typeString && count != 1 {
			return -1
		}
		n := 0
		for ; count > 0; count-- {
			i := bytes.IndexByte(p[n:], 0)
			if i < 0 {
				return -1
			}
			n += i + 1
		}
		return n
	}
	sz := typeSizes[typ&0xf]
	l := int64(sz) * int64(count)
	if sz <= 0 || l > int64(len(p)) {
		if sz == 0 {
			return 0
		}
		return -1
	}
	return int(l)
}

// get returns the data of the first entry with tag, as hdrblobGet does:
// only for byte-sized types (strings, binary). found is false when the tag is
// absent or of another type.
func (b *hdrBlob) get(tag uint32) (e entryInfo, data []byte, found bool) {
	for _, e := range b.index {
		if e.tag != tag {
			continue
		}
		if sz := typeSizes[e.typ&0xf]; sz != 1 && sz != -1 {
			return e, nil, false
		}
		l := dataLength(e.typ, b.data[e.offset:], e.count)
		if l < 0 {
			return e, nil, false
		}
		return e, b.data[e.offset : int(e.offset)+l], true
	}
	return entryInfo{}, nil, false
}

// strings splits string data at NULs.
func splitStrings(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i]))
		data = data[i+1:]
	}
	return out
}

// getInt32 returns the first value of an INT32 tag.
func (b *hdrBlob) getInt32(tag uint32) (uint32, bool) {
	for _, e := range b.index {
		if e.tag == tag && e.typ == typeInt32 && int(e.offset)+4 <= len(b.data) {
			return binary.BigEndian.Uint32(b.data[e.offset:]), true
		}
	}
	return 0, false
}

// getString returns the value of a STRING tag, "" when absent.
func (b *hdrBlob) getString(tag uint32) string {
	e, d, ok := b.get(tag)
	if !ok || e.typ != typeString {
		return ""
	}
	return string(bytes.TrimSuffix(d, []byte{0}))
}
