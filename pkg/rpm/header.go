package rpm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
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
	// reserved, when non-nil, makes this an entry of size bytes whose data
	// header.fill writes through it once marshal has laid the header out
	// (see reserve).
	reserved *tagWriter
	size     int
}

func (e *headerEntry) len() int {
	if e.reserved != nil {
		return e.size
	}
	return len(e.data)
}

// header collects tags and encodes them as an rpm header structure with an
// immutable region, the way rpm's headerReload/headerExport lays it out:
// index sorted by tag, data in the same order with natural alignment, the
// region trailer last.
type header struct {
	entries map[uint32]headerEntry
	// fill, when set, is called by marshal once the output is laid out, to
	// write the data of the reserved entries.
	fill func() error
}

// reserve adds an entry of size bytes whose data h.fill writes, in order,
// through the returned writer once marshal has laid the header out: big
// per-file arrays then never exist on their own, only in the output (which
// marshalFile spools to disk).
func (h *header) reserve(tag, typ uint32, count, size int) *tagWriter {
	w := &tagWriter{tag: tag, size: size}
	h.entries[tag] = headerEntry{tag: tag, typ: typ, count: uint32(count), reserved: w, size: size}
	return w
}

// tagWriter writes the data of a reserved entry.
type tagWriter struct {
	tag  uint32
	size int
	n    int
	w    io.Writer
	err  error
}

func (t *tagWriter) Write(p []byte) {
	if t.err != nil {
		return
	}
	if t.n+len(p) > t.size {
		t.err = fmt.Errorf("rpm: internal error: tag %d: more data than reserved (%d bytes)", t.tag, t.size)
		return
	}
	t.n += len(p)
	_, t.err = t.w.Write(p)
}

func (t *tagWriter) WriteString(s string) {
	if t.err != nil {
		return
	}
	if t.n+len(s) > t.size {
		t.err = fmt.Errorf("rpm: internal error: tag %d: more data than reserved (%d bytes)", t.tag, t.size)
		return
	}
	t.n += len(s)
	_, t.err = io.WriteString(t.w, s)
}

func (t *tagWriter) done() error {
	if t.err == nil && t.n != t.size {
		t.err = fmt.Errorf("rpm: internal error: tag %d: %d bytes written, %d reserved", t.tag, t.n, t.size)
	}
	if f, ok := t.w.(interface{ Flush() error }); ok && t.err == nil {
		t.err = f.Flush()
	}
	return t.err
}

// fillReserved runs h.fill and checks that every reserved entry got its data.
func (h *header) fillReserved() error {
	if h.fill == nil {
		return nil
	}
	if err := h.fill(); err != nil {
		return err
	}
	for _, ent := range h.entries {
		if ent.reserved != nil {
			if err := ent.reserved.done(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sliceWriter writes into a fixed slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	n := copy(w.b, p)
	w.b = w.b[n:]
	return n, nil
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

// layout returns the tags in order with the offset of each one's data, and
// the length of the data before the region trailer.
func (h *header) layout() (tags []uint32, offs []int, dl int, err error) {
	tags = make([]uint32, 0, len(h.entries))
	for t := range h.entries {
		tags = append(tags, t)
	}
	slices.Sort(tags)
	offs = make([]int, len(tags))
	for i, t := range tags {
		ent := h.entries[t]
		if a := alignment(ent.typ); dl%a != 0 {
			dl += a - dl%a
		}
		offs[i] = dl
		dl += ent.len()
	}
	il := len(tags) + 1 // + region tag
	if dataLen := dl + entrySize; il > maxHeaderIndex || dataLen > maxHeaderData {
		return nil, nil, 0, fmt.Errorf("rpm: header too large (%d tags, %d bytes of data)", il, dataLen)
	}
	return tags, offs, dl, nil
}

// marshal encodes the header with regionTag (62 or 63) as its immutable region.
func (h *header) marshal(regionTag uint32) ([]byte, error) {
	tags, offs, dl, err := h.layout()
	if err != nil {
		return nil, err
	}
	il := len(tags) + 1
	dataLen := dl + entrySize // + region trailer
	// One buffer of the final size: a file list of 100k entries makes a
	// header of tens of MB, and growing a buffer by doubling would hold
	// about three times that.
	out := make([]byte, 16+il*entrySize+dataLen)
	h.putIndex(out[:16+il*entrySize], regionTag, tags, offs, dl)
	data := out[16+il*entrySize:]
	for i, t := range tags {
		ent := h.entries[t]
		if ent.reserved != nil {
			ent.reserved.w = &sliceWriter{b: data[offs[i] : offs[i]+ent.size]}
		} else {
			copy(data[offs[i]:], ent.data) // alignment padding stays zero
		}
	}
	putEntry(data[dl:], regionTag, typeBin, int32(-il*entrySize), entrySize)
	if err := h.fillReserved(); err != nil {
		return nil, err
	}
	return out, nil
}

// marshalFile is marshal into f (an empty file), for the main header: it
// is not held in memory. It returns the header's size.
func (h *header) marshalFile(regionTag uint32, f *os.File) (int64, error) {
	tags, offs, dl, err := h.layout()
	if err != nil {
		return 0, err
	}
	il := len(tags) + 1
	start := int64(16 + il*entrySize)
	head := make([]byte, start)
	h.putIndex(head, regionTag, tags, offs, dl)
	if _, err := f.WriteAt(head, 0); err != nil {
		return 0, fmt.Errorf("rpm: header temp file: %w", err)
	}
	for i, t := range tags {
		ent := h.entries[t]
		at := start + int64(offs[i])
		if ent.reserved != nil {
			ent.reserved.w = bufio.NewWriterSize(io.NewOffsetWriter(f, at), 16<<10)
			continue
		}
		if _, err := f.WriteAt(ent.data, at); err != nil {
			return 0, fmt.Errorf("rpm: header temp file: %w", err)
		}
	}
	// Alignment padding is never written: the file reads zeros there.
	trailer := make([]byte, entrySize)
	putEntry(trailer, regionTag, typeBin, int32(-il*entrySize), entrySize)
	if _, err := f.WriteAt(trailer, start+int64(dl)); err != nil {
		return 0, fmt.Errorf("rpm: header temp file: %w", err)
	}
	if err := h.fillReserved(); err != nil {
		return 0, fmt.Errorf("rpm: header temp file: %w", err)
	}
	return start + int64(dl) + entrySize, nil
}

// putIndex writes the preamble and the index into b.
func (h *header) putIndex(b []byte, regionTag uint32, tags []uint32, offs []int, dl int) {
	il := len(tags) + 1
	copy(b, headerMagic[:])
	binary.BigEndian.PutUint32(b[8:], uint32(il))
	binary.BigEndian.PutUint32(b[12:], uint32(dl+entrySize))
	index := b[16 : 16+il*entrySize]
	// Region: the index entry points at a trailer entry at the end of the
	// data, whose negative offset covers the whole index.
	putEntry(index[:entrySize], regionTag, typeBin, int32(dl), entrySize)
	for i, t := range tags {
		ent := h.entries[t]
		putEntry(index[(i+1)*entrySize:], ent.tag, ent.typ, int32(offs[i]), ent.count)
	}
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
