// Package rpmhdr reads RPM header structures: the signature and main
// headers of a package file, and the header blobs rpmdb stores for
// installed packages.
//
// A header is a 16-byte intro (magic 8e ad e8 01, 4 reserved bytes, il, dl;
// rpmdb blobs lack the first 8), il 16-byte index entries {tag, type,
// offset, count} and dl bytes of data, all big-endian. Parse and Read check
// it as rpm 4.18 does (lib/header.c hdrblobRead, hdrblobVerifyRegion,
// hdrblobVerifyInfo): rpm's size limits (hdrchkTags, hdrchkData), the
// region tag and its trailer, and every entry's offset, alignment, type,
// count and data length, entries in data order without overlap. What they
// return can then be read through typed accessors without further bounds
// trouble; strings may alias the buffer parsed (Options.Alias).
//
// The package only reads; pkg/rpm writes headers.
package rpmhdr

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"
)

// Magic starts every header in a package file: magic, version 1, 4
// reserved bytes.
var Magic = [8]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

// Header data types (rpm's rpmTagType).
const (
	TypeNull        = 0
	TypeChar        = 1
	TypeInt8        = 2
	TypeInt16       = 3
	TypeInt32       = 4
	TypeInt64       = 5
	TypeString      = 6
	TypeBin         = 7
	TypeStringArray = 8
	TypeI18NString  = 9
)

// typeSizes is the size of one item of each type (-1: NUL-terminated
// strings); typeAlign the boundary its data must start on.
var (
	typeSizes = [16]int{0, 1, 1, 2, 4, 8, -1, 1, -1, -1}
	typeAlign = [16]int{1, 1, 1, 2, 4, 8, 1, 1, 1, 1}
)

// Limits rpm puts on headers (hdrchkTags, hdrchkData), and the tighter
// ones of the signature header (hdrblobRead).
const (
	MaxTags    = 0xffff
	MaxData    = 0x0fffffff
	MaxSigTags = 32
	MaxSigData = 64 << 20
)

// IntroSize is the size of the intro before the index: magic, il, dl.
const IntroSize = 16

// Entry is one index entry.
type Entry struct {
	Tag, Type uint32
	Offset    int32
	Count     uint32
}

// Options say which header is read.
type Options struct {
	// Region is the tag of the region the header starts with:
	// TagHeaderSignatures (also selects the signature header's limits
	// and, for Read, its padding to 8 bytes), TagHeaderImmutable, or 0
	// for whichever of 61, 62, 63 the first entry has (installed headers).
	Region uint32
	// RequireRegion refuses a header without the region (rpm reads
	// those as v3 headers).
	RequireRegion bool
	// Exact requires the region, when present, to span the whole header,
	// as in package files' main header.
	Exact bool
	// NoMagic: the header starts with il and dl, without the magic (rpmdb
	// blobs).
	NoMagic bool
	// Alias makes String, Strings and I18NString return strings that
	// point into the parsed buffer instead of copies: valid only as long
	// as the buffer is not reused.
	Alias bool
}

func (o Options) sig() bool { return o.Region == TagHeaderSignatures }

func (o Options) intro() int {
	if o.NoMagic {
		return 8
	}
	return IntroSize
}

// Header is a verified header. It is small (a publish of many packages
// makes two per package): the data store and region are computed from Raw.
type Header struct {
	// Raw is the header as stored: intro, index, data (what the header
	// digests cover); without padding.
	Raw []byte

	entries []Entry // sorted by tag (stable), the region first
	rdl     uint32  // data bytes of the region
	ril     uint16  // entries of the region
	region  uint8   // region tag, 0 without one
	noMagic bool
	alias   bool
}

// Data returns the data store.
func (h *Header) Data() []byte {
	n := IntroSize
	if h.noMagic {
		n = 8
	}
	return h.Raw[n+16*len(h.entries):]
}

// Region returns the region tag, 0 when the header has none, and the
// region's number of entries and data bytes.
func (h *Header) Region() (tag uint32, ril, rdl int) {
	return uint32(h.region), int(h.ril), int(h.rdl)
}

// Pad is the padding after a signature header of n bytes.
func Pad(n int) int { return (8 - n%8) % 8 }

// limits checks il and dl against rpm's limits.
func limits(il, dl uint32, o Options) error {
	ilMax, dlMax := uint32(MaxTags), uint32(MaxData)
	if o.sig() {
		ilMax, dlMax = MaxSigTags, MaxSigData
	}
	if il > ilMax {
		return fmt.Errorf("hdr tags: BAD, no. of tags(%d) out of range", il)
	}
	if dl > dlMax {
		return fmt.Errorf("hdr data: BAD, no. of bytes(%d) out of range", dl)
	}
	return nil
}

// Read reads one header from r and verifies it. With Options.Region
// TagHeaderSignatures it also reads the padding after it.
func Read(r io.Reader, o Options) (*Header, error) {
	var pre [IntroSize]byte
	in := pre[:o.intro()]
	if n, err := io.ReadFull(r, in); err != nil {
		return nil, fmt.Errorf("hdr size(%d): BAD, read returned %d", len(in), n)
	}
	il, dl, err := intro(in, o)
	if err != nil {
		return nil, err
	}
	nb := int(il)*16 + int(dl)
	raw := make([]byte, len(in)+nb)
	copy(raw, in)
	if n, err := io.ReadFull(r, raw[len(in):]); err != nil {
		return nil, fmt.Errorf("hdr blob(%d): BAD, read returned %d", nb, n)
	}
	if o.sig() {
		if p := Pad(len(raw)); p > 0 {
			var pad [8]byte
			if n, err := io.ReadFull(r, pad[:p]); err != nil {
				return nil, fmt.Errorf("sigh pad(%d): BAD, read %d bytes", p, n)
			}
		}
	}
	return verify(raw, il, dl, o)
}

// Parse verifies the header at the start of b (which may go on after
// it); the Header refers to b. Its length is len(h.Raw), plus Pad of that
// for a signature header.
func Parse(b []byte, o Options) (*Header, error) {
	n := o.intro()
	if len(b) < n {
		return nil, fmt.Errorf("hdr size(%d): BAD, read returned %d", n, len(b))
	}
	il, dl, err := intro(b[:n], o)
	if err != nil {
		return nil, err
	}
	nb := int(il)*16 + int(dl)
	if len(b)-n < nb {
		return nil, fmt.Errorf("hdr blob(%d): BAD, read returned %d", nb, len(b)-n)
	}
	return verify(b[:n+nb], il, dl, o)
}

// intro checks the magic and the limits.
func intro(b []byte, o Options) (il, dl uint32, err error) {
	if !o.NoMagic {
		if !bytes.Equal(b[:8], Magic[:]) {
			return 0, 0, errors.New("hdr magic: BAD")
		}
		b = b[8:]
	}
	il = binary.BigEndian.Uint32(b)
	dl = binary.BigEndian.Uint32(b[4:])
	return il, dl, limits(il, dl, o)
}

func verify(raw []byte, il, dl uint32, o Options) (*Header, error) {
	start := o.intro()
	h := &Header{Raw: raw, noMagic: o.NoMagic, alias: o.Alias}
	h.entries = make([]Entry, il)
	for i := range h.entries {
		e := raw[start+i*16:]
		h.entries[i] = Entry{
			Tag:    binary.BigEndian.Uint32(e),
			Type:   binary.BigEndian.Uint32(e[4:]),
			Offset: int32(binary.BigEndian.Uint32(e[8:])),
			Count:  binary.BigEndian.Uint32(e[12:]),
		}
	}
	if err := h.verifyRegion(o); err != nil {
		return nil, err
	}
	if err := h.verifyInfo(); err != nil {
		return nil, err
	}
	rest := h.entries // sorted by tag as headerSort does, the region first
	if h.region != 0 {
		rest = rest[1:]
	}
	if !slices.IsSortedFunc(rest, byTag) {
		slices.SortStableFunc(rest, byTag)
	}
	return h, nil
}

func byTag(a, b Entry) int { return cmp.Compare(a.Tag, b.Tag) }

// verifyRegion checks the region tag and trailer (hdrblobVerifyRegion).
func (h *Header) verifyRegion(o Options) error {
	data := h.Data()
	il, dl := len(h.entries), len(data)
	if il < 1 {
		return errors.New("region: no tags")
	}
	e := h.entries[0]
	tag := o.Region
	if tag == 0 && e.Tag >= TagHeaderImage && e.Tag <= TagHeaderImmutable {
		tag = e.Tag
	}
	if e.Tag != tag || tag == 0 {
		if o.RequireRegion {
			return fmt.Errorf("region tag %d missing: not an rpm v4 header", tag)
		}
		return nil
	}
	if e.Type != TypeBin || e.Count != 16 {
		return fmt.Errorf("region tag: BAD, tag %d type %d offset %d count %d", e.Tag, e.Type, e.Offset, e.Count)
	}
	if e.Offset < 0 || int(e.Offset)+16 > dl {
		return fmt.Errorf("region offset: BAD, tag %d type %d offset %d count %d", e.Tag, e.Type, e.Offset, e.Count)
	}
	t := data[e.Offset:]
	tr := Entry{
		Tag:    binary.BigEndian.Uint32(t),
		Type:   binary.BigEndian.Uint32(t[4:]),
		Offset: -int32(binary.BigEndian.Uint32(t[8:])),
		Count:  binary.BigEndian.Uint32(t[12:]),
	}
	if tag == TagHeaderSignatures && tr.Tag == TagHeaderImage {
		tr.Tag = TagHeaderSignatures // some old packages have it
	}
	if tr.Tag != tag || tr.Type != TypeBin || tr.Count != 16 {
		return fmt.Errorf("region trailer: BAD, tag %d type %d offset %d count %d", tr.Tag, tr.Type, tr.Offset, tr.Count)
	}
	ril, rdl := int(tr.Offset)/16, int(e.Offset)+16
	if tr.Offset%16 != 0 || ril < 0 || ril > il || rdl > dl {
		return fmt.Errorf("region %d size: BAD, ril %d il %d rdl %d dl %d", tag, ril, il, rdl, dl)
	}
	if o.Exact && (il != ril || dl != rdl) {
		return fmt.Errorf("region %d: tag number mismatch il %d ril %d dl %d rdl %d", tag, il, ril, dl, rdl)
	}
	h.region, h.ril, h.rdl = uint8(tag), uint16(ril), uint32(rdl)
	return nil
}

// verifyInfo checks every index entry but the region's (hdrblobVerifyInfo,
// less the tag type table: a main header that disagrees with it fails its
// digests anyway).
func (h *Header) verifyInfo() error {
	pe := h.entries
	if h.region != 0 {
		pe = pe[1:]
	}
	data, rdl := h.Data(), int(h.rdl)
	dl, end := len(data), 0
	for i, e := range pe {
		bad := func(l int) error {
			return fmt.Errorf("tag[%d]: BAD, tag %d type %d offset %d count %d len %d", i, e.Tag, e.Type, e.Offset, e.Count, l)
		}
		if int(e.Offset) < end ||
			e.Tag < TagI18NTable ||
			e.Type > TypeI18NString ||
			e.Count < 1 || int64(e.Count) > int64(dl) ||
			e.Offset < 0 || int(e.Offset) > dl ||
			int(e.Offset)&(typeAlign[e.Type]-1) != 0 ||
			(e.Type != TypeBin && e.Count&^0x000fffff != 0) {
			return bad(0)
		}
		l := DataLength(e.Type, data[e.Offset:], e.Count)
		end = int(e.Offset) + l
		if l <= 0 || end > dl {
			return bad(l)
		}
		if h.region != 0 && end > rdl-16 && int(e.Offset) < rdl {
			return bad(l)
		}
	}
	return nil
}

// DataLength is the size of count items of type typ at the start of p, or
// -1 when they do not fit in p (strings need their NUL); 0 for TypeNull.
func DataLength(typ uint32, p []byte, count uint32) int {
	switch typ {
	case TypeString, TypeStringArray, TypeI18NString:
		if typ == TypeString && count != 1 {
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
	if sz == 0 {
		return 0
	}
	l := int64(sz) * int64(count)
	if sz < 0 || l > int64(len(p)) {
		return -1
	}
	return int(l)
}

// Entries returns the index sorted by tag, the region entry first.
func (h *Header) Entries() []Entry { return h.entries }

// Find returns the first entry with tag.
func (h *Header) Find(tag uint32) (Entry, bool) {
	es := h.entries
	lo, hi := 0, len(es)
	if h.region != 0 {
		if tag == uint32(h.region) {
			return es[0], true
		}
		lo = 1
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if es[m].Tag < tag {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(es) && es[lo].Tag == tag {
		return es[lo], true
	}
	return Entry{}, false
}

// Has says whether tag is present.
func (h *Header) Has(tag uint32) bool {
	_, ok := h.Find(tag)
	return ok
}

// Bytes returns an entry's data.
func (h *Header) Bytes(e Entry) []byte {
	data := h.Data()
	if e.Offset < 0 || int(e.Offset) > len(data) {
		return nil
	}
	p := data[e.Offset:]
	l := DataLength(e.Type, p, e.Count)
	if l < 0 {
		return nil
	}
	return p[:l]
}

// str returns b as a string: a copy, or b itself with alias.
func (h *Header) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if h.alias {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func isString(typ uint32) bool {
	return typ == TypeString || typ == TypeStringArray || typ == TypeI18NString
}

// String returns the first value of a string, string array or i18n
// string tag ("" when absent or of another type): rpm's headerGetString,
// the C locale's text of an i18n string.
func (h *Header) String(tag uint32) string {
	e, ok := h.Find(tag)
	data := h.Data()
	if !ok || !isString(e.Type) || e.Offset < 0 || int(e.Offset) > len(data) {
		return ""
	}
	p := data[e.Offset:]
	if j := bytes.IndexByte(p, 0); j >= 0 {
		return h.str(p[:j])
	}
	return ""
}

// I18NString returns the C locale's text of an i18n string tag ("" when
// absent or of another type).
func (h *Header) I18NString(tag uint32) string {
	if e, ok := h.Find(tag); !ok || e.Type != TypeI18NString {
		return ""
	}
	return h.String(tag)
}

// Strings returns the values of a string, string array or i18n string tag
// (for the latter, one per locale); nil when absent or of another type.
func (h *Header) Strings(tag uint32) []string {
	e, ok := h.Find(tag)
	data := h.Data()
	if !ok || !isString(e.Type) || e.Offset < 0 || int(e.Offset) > len(data) {
		return nil
	}
	p := data[e.Offset:]
	if uint64(e.Count) > uint64(len(p)) { // each string takes a byte at least
		return nil
	}
	out := make([]string, 0, e.Count)
	for range e.Count {
		j := bytes.IndexByte(p, 0)
		if j < 0 {
			return nil
		}
		out = append(out, h.str(p[:j]))
		p = p[j+1:]
	}
	return out
}

// Bin returns a binary tag's data (nil when absent or of another type).
func (h *Header) Bin(tag uint32) []byte {
	e, ok := h.Find(tag)
	if !ok || e.Type != TypeBin {
		return nil
	}
	return h.Bytes(e)
}

// ints decodes the values of an integer tag of type typ, w bytes each.
func ints[T any](h *Header, tag, typ uint32, w int, get func([]byte) T) []T {
	e, ok := h.Find(tag)
	if !ok || e.Type != typ {
		return nil
	}
	p := h.Bytes(e)
	if p == nil {
		return nil
	}
	out := make([]T, e.Count)
	for i := range out {
		out[i] = get(p[w*i:])
	}
	return out
}

// Int16s returns an INT16 tag's values (nil when absent or of another type).
func (h *Header) Int16s(tag uint32) []uint16 {
	return ints(h, tag, TypeInt16, 2, binary.BigEndian.Uint16)
}

// Int32s returns an INT32 tag's values (nil when absent or of another type).
func (h *Header) Int32s(tag uint32) []uint32 {
	return ints(h, tag, TypeInt32, 4, binary.BigEndian.Uint32)
}

// Int64s returns an INT64 tag's values (nil when absent or of another type).
func (h *Header) Int64s(tag uint32) []uint64 {
	return ints(h, tag, TypeInt64, 8, binary.BigEndian.Uint64)
}

// Uints returns the values of an integer tag of any width (CHAR, INT8,
// INT16, INT32, INT64) widened to uint64; nil when absent or of another
// type.
func (h *Header) Uints(tag uint32) []uint64 {
	e, ok := h.Find(tag)
	if !ok || e.Type < TypeChar || e.Type > TypeInt64 {
		return nil
	}
	p := h.Bytes(e)
	if p == nil {
		return nil
	}
	w := typeSizes[e.Type]
	out := make([]uint64, e.Count)
	for i := range out {
		switch w {
		case 1:
			out[i] = uint64(p[i])
		case 2:
			out[i] = uint64(binary.BigEndian.Uint16(p[2*i:]))
		case 4:
			out[i] = uint64(binary.BigEndian.Uint32(p[4*i:]))
		case 8:
			out[i] = binary.BigEndian.Uint64(p[8*i:])
		}
	}
	return out
}

// Uint returns the first value of an integer tag of any width.
func (h *Header) Uint(tag uint32) (uint64, bool) {
	e, ok := h.Find(tag)
	if !ok || e.Type < TypeChar || e.Type > TypeInt64 {
		return 0, false
	}
	p := h.Bytes(e)
	if len(p) == 0 {
		return 0, false
	}
	switch typeSizes[e.Type] {
	case 1:
		return uint64(p[0]), true
	case 2:
		return uint64(binary.BigEndian.Uint16(p)), true
	case 4:
		return uint64(binary.BigEndian.Uint32(p)), true
	}
	return binary.BigEndian.Uint64(p), true
}
