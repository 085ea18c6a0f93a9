package rpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Header data types (rpm's rpmTagType).
const (
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

// headerMagic starts every header structure: magic, version 1, 4 reserved bytes.
var headerMagic = [8]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}

const (
	entrySize = 16 // one index entry: tag, type, offset, count
	// Limits rpm 4.18 enforces when reading (lib/header.c hdrchkRange).
	maxHeaderIndex = 0x0000ffff
	maxHeaderData  = 0x0fffffff
)

// headerEntry is one tag of a header with its data already in big-endian form.
type headerEntry struct {
	tag   uint32
	typ   uint32
	count uint32
	data  []byte
}

// header collects tags and encodes them as an rpm header structure with an
// immutable region, the way rpm's headerReload/headerExport lays it out:
// index sorted by tag, data in the same order with natural alignment, the
// region trailer last.
type header struct {
	entries map[uint32]headerEntry
}

func newHeader() *header { return &header{entries: make(map[uint32]headerEntry)} }

func (h *header) put(tag, typ, count uint32, data []byte) {
	h.entries[tag] = headerEntry{tag: tag, typ: typ, count: count, data: data}
}

func (h *header) del(tag uint32) { delete(h.entries, tag) }

func (h *header) has(tag uint32) bool {
	_, ok := h.entries[tag]
	return ok
}

func (h *header) putString(tag uint32, s string) {
	h.put(tag, typeString, 1, append([]byte(s), 0))
}

func (h *header) putI18N(tag uint32, s string) {
	h.put(tag, typeI18NString, 1, append([]byte(s), 0))
}

func (h *header) putStrings(tag uint32, ss []string) {
	n := 0
	for _, s := range ss {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for _, s := range ss {
		b = append(b, s...)
		b = append(b, 0)
	}
	h.put(tag, typeStringArray, uint32(len(ss)), b)
}

func (h *header) putInt16(tag uint32, vs []uint16) {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint16(b[2*i:], v)
	}
	h.put(tag, typeInt16, uint32(len(vs)), b)
}

func (h *header) putInt32(tag uint32, vs ...uint32) {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint32(b[4*i:], v)
	}
	h.put(tag, typeInt32, uint32(len(vs)), b)
}

func (h *header) putInt64(tag uint32, vs ...uint64) {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.BigEndian.PutUint64(b[8*i:], v)
	}
	h.put(tag, typeInt64, uint32(len(vs)), b)
}

func (h *header) putBin(tag uint32, b []byte) {
	h.put(tag, typeBin, uint32(len(b)), b)
}

// alignment returns the boundary rpm aligns data of type typ on.
func alignment(typ uint32) int {
	switch typ {
	case typeInt16:
		return 2
	case typeInt32:
		return 4
	case typeInt64:
		return 8
	}
	return 1
}

// marshal encodes the header with regionTag (62 or 63) as its immutable region.
func (h *header) marshal(regionTag uint32) ([]byte, error) {
	tags := make([]uint32, 0, len(h.entries))
	for t := range h.entries {
		tags = append(tags, t)
	}
	slices.Sort(tags)

	il := len(tags) + 1 // + region tag
	// Lay the data out first, then write everything into one buffer of the
	// final size: a file list of 100k entries makes a header of tens of MB,
	// and growing a buffer by doubling would hold about three times that.
	offs := make([]int, len(tags))
	dl := 0
	for i, t := range tags {
		ent := h.entries[t]
		if a := alignment(ent.typ); dl%a != 0 {
			dl += a - dl%a
		}
		offs[i] = dl
		dl += len(ent.data)
	}
	dataLen := dl + entrySize // + region trailer
	if il > maxHeaderIndex || dataLen > maxHeaderData {
		return nil, fmt.Errorf("rpm: header too large (%d tags, %d bytes of data)", il, dataLen)
	}
	out := make([]byte, 16+il*entrySize+dataLen)
	copy(out, headerMagic[:])
	binary.BigEndian.PutUint32(out[8:], uint32(il))
	binary.BigEndian.PutUint32(out[12:], uint32(dataLen))
	index := out[16 : 16+il*entrySize]
	data := out[16+il*entrySize:]
	// Region: the index entry points at a trailer entry at the end of the
	// data, whose negative offset covers the whole index.
	putEntry(index[:entrySize], regionTag, typeBin, int32(dl), entrySize)
	for i, t := range tags {
		ent := h.entries[t]
		putEntry(index[(i+1)*entrySize:], ent.tag, ent.typ, int32(offs[i]), ent.count)
		copy(data[offs[i]:], ent.data) // alignment padding stays zero
	}
	putEntry(data[dl:], regionTag, typeBin, int32(-il*entrySize), entrySize)
	return out, nil
}

func putEntry(b []byte, tag, typ uint32, off int32, count uint32) {
	binary.BigEndian.PutUint32(b[0:], tag)
	binary.BigEndian.PutUint32(b[4:], typ)
	binary.BigEndian.PutUint32(b[8:], uint32(off))
	binary.BigEndian.PutUint32(b[12:], count)
}

var errBadHeader = errors.New("rpm: malformed header")

// readHeaderBytes reads one header structure (without trailing padding) from r.
func readHeaderBytes(r io.Reader) ([]byte, error) {
	pre := make([]byte, 16)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadHeader, err)
	}
	if !bytes.Equal(pre[:8], headerMagic[:]) {
		return nil, fmt.Errorf("%w: bad magic", errBadHeader)
	}
	il := binary.BigEndian.Uint32(pre[8:])
	dl := binary.BigEndian.Uint32(pre[12:])
	if il > maxHeaderIndex || dl > maxHeaderData {
		return nil, fmt.Errorf("%w: %d tags, %d bytes of data", errBadHeader, il, dl)
	}
	b := make([]byte, 16+int(il)*entrySize+int(dl))
	copy(b, pre)
	if _, err := io.ReadFull(r, b[16:]); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadHeader, err)
	}
	return b, nil
}

// parseHeader decodes an encoded header into its entries, dropping the region
// tag. Data of each entry is copied out of b.
func parseHeader(b []byte) (*header, error) {
	if len(b) < 16 {
		return nil, errBadHeader
	}
	il := int(binary.BigEndian.Uint32(b[8:]))
	dl := int(binary.BigEndian.Uint32(b[12:]))
	if len(b) != 16+il*entrySize+dl {
		return nil, fmt.Errorf("%w: size mismatch", errBadHeader)
	}
	index := b[16 : 16+il*entrySize]
	data := b[16+il*entrySize:]

	type raw struct {
		tag, typ, count uint32
		off             int
	}
	ents := make([]raw, 0, il)
	for i := 0; i < il; i++ {
		e := index[i*entrySize:]
		ents = append(ents, raw{
			tag:   binary.BigEndian.Uint32(e),
			typ:   binary.BigEndian.Uint32(e[4:]),
			off:   int(int32(binary.BigEndian.Uint32(e[8:]))),
			count: binary.BigEndian.Uint32(e[12:]),
		})
	}
	// Each entry's data ends where the next one (in offset order) begins.
	order := make([]int, il)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, c int) int { return ents[a].off - ents[c].off })

	h := newHeader()
	for _, i := range order {
		ent := ents[i]
		if ent.tag == tagHeaderSignatures || ent.tag == tagHeaderImmutable {
			continue
		}
		if ent.off < 0 || ent.off > dl {
			return nil, fmt.Errorf("%w: tag %d offset %d", errBadHeader, ent.tag, ent.off)
		}
		n, err := dataLen(ent.typ, ent.count, data[ent.off:])
		if err != nil {
			return nil, fmt.Errorf("%w: tag %d: %w", errBadHeader, ent.tag, err)
		}
		h.put(ent.tag, ent.typ, ent.count, bytes.Clone(data[ent.off:ent.off+n]))
	}
	return h, nil
}

// dataLen is the number of bytes count items of type typ occupy at the start of d.
func dataLen(typ, count uint32, d []byte) (int, error) {
	var n int
	switch typ {
	case 1, 2, typeBin:
		n = int(count)
	case typeInt16:
		n = 2 * int(count)
	case typeInt32:
		n = 4 * int(count)
	case typeInt64:
		n = 8 * int(count)
	case typeString, typeStringArray, typeI18NString:
		for i := uint32(0); i < count; i++ {
			z := bytes.IndexByte(d[n:], 0)
			if z < 0 {
				return 0, errors.New("unterminated string")
			}
			n += z + 1
		}
	default:
		return 0, fmt.Errorf("unknown type %d", typ)
	}
	if n > len(d) {
		return 0, errors.New("data out of range")
	}
	return n, nil
}

// getString returns the first string of tag, or "".
func (h *header) getString(tag uint32) string {
	e, ok := h.entries[tag]
	if !ok {
		return ""
	}
	if z := bytes.IndexByte(e.data, 0); z >= 0 {
		return string(e.data[:z])
	}
	return ""
}

// getInt returns the first value of an integer tag.
func (h *header) getInt(tag uint32) (uint64, bool) {
	e, ok := h.entries[tag]
	if !ok || e.count == 0 {
		return 0, false
	}
	switch e.typ {
	case typeInt16:
		return uint64(binary.BigEndian.Uint16(e.data)), true
	case typeInt32:
		return uint64(binary.BigEndian.Uint32(e.data)), true
	case typeInt64:
		return binary.BigEndian.Uint64(e.data), true
	}
	return 0, false
}
