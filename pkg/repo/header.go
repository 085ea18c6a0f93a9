package repo

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

// RPM header tags read for repodata (rpm's include/rpm/rpmtag.h).
const (
	tagName           = 1000
	tagVersion        = 1001
	tagRelease        = 1002
	tagEpoch          = 1003
	tagSummary        = 1004
	tagDescription    = 1005
	tagBuildTime      = 1006
	tagBuildHost      = 1007
	tagSize           = 1009
	tagVendor         = 1011
	tagLicense        = 1014
	tagPackager       = 1015
	tagGroup          = 1016
	tagURL            = 1020
	tagArch           = 1022
	tagOldFileNames   = 1027
	tagFileModes      = 1030
	tagFileFlags      = 1037
	tagSourceRPM      = 1044
	tagArchiveSize    = 1046
	tagProvideName    = 1047
	tagRequireFlags   = 1048
	tagRequireName    = 1049
	tagRequireVersion = 1050
	tagConflictFlags  = 1053
	tagConflictName   = 1054
	tagConflictVer    = 1055
	tagChangelogTime  = 1080
	tagChangelogName  = 1081
	tagChangelogText  = 1082
	tagObsoleteName   = 1090
	tagSourcePackage  = 1106
	tagProvideFlags   = 1112
	tagProvideVersion = 1113
	tagObsoleteFlags  = 1114
	tagObsoleteVer    = 1115
	tagDirIndexes     = 1116
	tagBaseNames      = 1117
	tagDirNames       = 1118
	tagOldSuggestName = 1156
	tagOldSuggestVer  = 1157
	tagOldSuggestFlag = 1158
	tagOldEnhanceName = 1159
	tagOldEnhanceVer  = 1160
	tagOldEnhanceFlag = 1161
	tagLongSize       = 5009
	tagRecommendName  = 5046
	tagRecommendVer   = 5047
	tagRecommendFlags = 5048
	tagSuggestName    = 5049
	tagSuggestVer     = 5050
	tagSuggestFlags   = 5051
	tagSupplementName = 5052
	tagSupplementVer  = 5053
	tagSupplementFlag = 5054
	tagEnhanceName    = 5055
	tagEnhanceVer     = 5056
	tagEnhanceFlags   = 5057

	// In both headers: 64-bit uncompressed payload size.
	tagLongArchiveSize = 271
	// In the signature header: the uncompressed payload size, the size of
	// header and payload (32 and 64 bits), the main header's SHA-256.
	sigTagPayloadSize = 1007
	sigTagSize        = 1000
	sigTagLongSize    = 270
	sigTagSHA256      = 273
)

// Header data types.
const (
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

var (
	headerMagic = []byte{0x8e, 0xad, 0xe8, 0x01}
	leadMagic   = []byte{0xed, 0xab, 0xee, 0xdb}
)

// errNotRPM is wrapped by errors about files that are not RPM packages.
var errNotRPM = errors.New("not an RPM package")

// Limits on header sizes, as rpm enforces them (hdrchkTags, hdrchkData).
const (
	maxHeaderTags = 0xffff
	maxHeaderData = 256 << 20
)

// header is a parsed RPM header: its index, sorted by tag, and data store.
type header struct {
	entries []indexEntry
	data    []byte
	// alias makes string and strings return strings that point into data
	// instead of copies: valid only as long as data is not reused.
	alias bool
}

// str returns b as a string: a copy, or b itself with h.alias.
func (h *header) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if h.alias {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

type indexEntry struct {
	tag, typ, offset, count uint32
}

// entry finds a tag by binary search.
func (h *header) entry(tag uint32) (indexEntry, bool) {
	i, ok := slices.BinarySearchFunc(h.entries, tag, func(e indexEntry, t uint32) int { return cmp.Compare(e.tag, t) })
	if !ok {
		return indexEntry{}, false
	}
	return h.entries[i], true
}

// readHeader reads one header structure (magic, index, store) from r. pad
// says whether the store is padded to 8 bytes (the signature header).
// It returns the header and the number of bytes it consumed.
func readHeader(r io.Reader, pad bool) (*header, int64, error) {
	var pre [16]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, 0, fmt.Errorf("%w: short header: %w", errNotRPM, noEOF(err))
	}
	if !bytes.Equal(pre[:4], headerMagic) {
		return nil, 0, fmt.Errorf("%w: bad header magic", errNotRPM)
	}
	n := binary.BigEndian.Uint32(pre[8:])
	size := binary.BigEndian.Uint32(pre[12:])
	if n == 0 || n > maxHeaderTags || size > maxHeaderData {
		return nil, 0, fmt.Errorf("%w: header of %d tags and %d bytes", errNotRPM, n, size)
	}
	buf := make([]byte, int(n)*16+int(size))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, 0, fmt.Errorf("%w: truncated header: %w", errNotRPM, noEOF(err))
	}
	consumed := int64(16 + len(buf))
	if pad {
		if p := (8 - consumed%8) % 8; p > 0 {
			var z [8]byte
			if _, err := io.ReadFull(r, z[:p]); err != nil {
				return nil, 0, fmt.Errorf("%w: truncated header: %w", errNotRPM, noEOF(err))
			}
			consumed += p
		}
	}
	h, err := newHeader(buf, n, size)
	return h, consumed, err
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (h *header) has(tag uint32) bool {
	_, ok := h.entry(tag)
	return ok
}

// strings returns a string, string array or i18n string tag's values; it
// returns nil when the tag is absent or malformed.
func (h *header) strings(tag uint32) []string {
	e, ok := h.entry(tag)
	if !ok || (e.typ != typeString && e.typ != typeStringArray && e.typ != typeI18NString) {
		return nil
	}
	p := h.data[e.offset:]
	if uint64(e.count) > uint64(len(p)) { // each string takes a byte at least
		return nil
	}
	out := make([]string, 0, e.count)
	for i := uint32(0); i < e.count; i++ {
		j := bytes.IndexByte(p, 0)
		if j < 0 {
			return nil
		}
		out = append(out, h.str(p[:j]))
		p = p[j+1:]
	}
	return out
}

// string returns the first value of a string tag, "" when absent: rpm's
// headerGetString (the C locale's text of an i18n string).
func (h *header) string(tag uint32) string {
	e, ok := h.entry(tag)
	if !ok || (e.typ != typeString && e.typ != typeStringArray && e.typ != typeI18NString) || e.count == 0 {
		return ""
	}
	p := h.data[e.offset:]
	if j := bytes.IndexByte(p, 0); j >= 0 {
		return h.str(p[:j])
	}
	return ""
}

// ints returns an integer tag's values widened to uint64; nil when the tag
// is absent, of another type, or runs outside the store.
func (h *header) ints(tag uint32) []uint64 {
	e, ok := h.entry(tag)
	if !ok {
		return nil
	}
	var w uint32
	switch e.typ {
	case typeChar, typeInt8:
		w = 1
	case typeInt16:
		w = 2
	case typeInt32:
		w = 4
	case typeInt64:
		w = 8
	default:
		return nil
	}
	end := uint64(e.offset) + uint64(e.count)*uint64(w)
	if end > uint64(len(h.data)) {
		return nil
	}
	p := h.data[e.offset:end]
	out := make([]uint64, e.count)
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

// int returns the first value of an integer tag.
func (h *header) int(tag uint32) (uint64, bool) {
	v := h.ints(tag)
	if len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

// rpmHeaders is what readRPMHeaders returns: both headers and the byte range
// of the main header in the file.
type rpmHeaders struct {
	sig, main              *header
	headerStart, headerEnd int64
}

// parseRPMHeaders parses the lead, the signature header and the main header
// at the start of b. The headers refer to b; with alias, so do the strings
// they return.
func parseRPMHeaders(b []byte, alias bool) (*rpmHeaders, error) {
	if len(b) < 96 {
		return nil, fmt.Errorf("%w: short lead", errNotRPM)
	}
	if !bytes.Equal(b[:4], leadMagic) {
		return nil, fmt.Errorf("%w: bad lead magic", errNotRPM)
	}
	sig, n, err := parseHeader(b[96:], true)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	start := 96 + n
	main, m, err := parseHeader(b[start:], false)
	if err != nil {
		return nil, fmt.Errorf("main header: %w", err)
	}
	sig.alias, main.alias = alias, alias
	return &rpmHeaders{sig: sig, main: main, headerStart: start, headerEnd: start + m}, nil
}

// parseHeader parses one header structure at the start of b.
func parseHeader(b []byte, pad bool) (*header, int64, error) {
	if len(b) < 16 {
		return nil, 0, fmt.Errorf("%w: short header: %w", errNotRPM, io.ErrUnexpectedEOF)
	}
	if !bytes.Equal(b[:4], headerMagic) {
		return nil, 0, fmt.Errorf("%w: bad header magic", errNotRPM)
	}
	n := binary.BigEndian.Uint32(b[8:])
	size := binary.BigEndian.Uint32(b[12:])
	if n == 0 || n > maxHeaderTags || size > maxHeaderData {
		return nil, 0, fmt.Errorf("%w: header of %d tags and %d bytes", errNotRPM, n, size)
	}
	end := 16 + int64(n)*16 + int64(size)
	if end > int64(len(b)) {
		return nil, 0, fmt.Errorf("%w: truncated header: %w", errNotRPM, io.ErrUnexpectedEOF)
	}
	consumed := end
	if pad {
		consumed += (8 - consumed%8) % 8
		if consumed > int64(len(b)) {
			return nil, 0, fmt.Errorf("%w: truncated header: %w", errNotRPM, io.ErrUnexpectedEOF)
		}
	}
	h, err := newHeader(b[16:end], n, size)
	return h, consumed, err
}

func newHeader(buf []byte, n, size uint32) (*header, error) {
	h := &header{entries: make([]indexEntry, n), data: buf[n*16:]}
	sorted := true
	for i := uint32(0); i < n; i++ {
		e := buf[i*16 : i*16+16]
		ie := indexEntry{
			tag:    binary.BigEndian.Uint32(e),
			typ:    binary.BigEndian.Uint32(e[4:]),
			offset: binary.BigEndian.Uint32(e[8:]),
			count:  binary.BigEndian.Uint32(e[12:]),
		}
		if ie.offset > size {
			return nil, fmt.Errorf("%w: tag %d points outside the header", errNotRPM, ie.tag)
		}
		if i > 0 && ie.tag < h.entries[i-1].tag {
			sorted = false
		}
		h.entries[i] = ie
	}
	if !sorted {
		slices.SortStableFunc(h.entries, func(a, b indexEntry) int { return cmp.Compare(a.tag, b.tag) })
	}
	return h, nil
}

// readRPMHeaders reads the lead, the signature header and the main header.
func readRPMHeaders(r io.Reader) (*rpmHeaders, error) {
	var lead [96]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil {
		return nil, fmt.Errorf("%w: short lead: %w", errNotRPM, noEOF(err))
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, fmt.Errorf("%w: bad lead magic", errNotRPM)
	}
	sig, n, err := readHeader(r, true)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	start := int64(len(lead)) + n
	main, m, err := readHeader(r, false)
	if err != nil {
		return nil, fmt.Errorf("main header: %w", err)
	}
	return &rpmHeaders{sig: sig, main: main, headerStart: start, headerEnd: start + m}, nil
}
