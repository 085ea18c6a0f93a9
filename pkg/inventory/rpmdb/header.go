package rpmdb

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rpmforge/rpmforge/pkg/inventory"
)

// Header tags read from installed headers (rpmtag.h). The signature tags
// are the values rpm gives them when it merges the signature header into
// the installed header.
const (
	tagSigPGP       = 259
	tagSigMD5       = 261
	tagSigGPG       = 262
	tagDSAHeader    = 267
	tagRSAHeader    = 268
	tagSHA256Header = 273
	tagName         = 1000
	tagVersion      = 1001
	tagRelease      = 1002
	tagEpoch        = 1003
	tagBuildTime    = 1006
	tagInstallTime  = 1008
	tagVendor       = 1011
	tagLicense      = 1014
	tagArch         = 1022
	tagSourceRPM    = 1044
	tagVCS          = 5034
)

// Header data types.
const (
	typeInt16       = 3
	typeInt32       = 4
	typeInt64       = 5
	typeString      = 6
	typeBin         = 7
	typeStringArray = 8
	typeI18NString  = 9
)

type entry struct {
	typ   uint32
	off   int
	count int
}

// header is an installed header blob: il, dl, il index entries, dl bytes.
type header struct {
	entries map[int32]entry
	data    []byte
}

const maxHeader = 256 << 20 // rpm's headerMaxbytes

func parseHeader(blob []byte) (*header, error) {
	if len(blob) < 8 {
		return nil, errors.New("header blob is shorter than 8 bytes")
	}
	il := binary.BigEndian.Uint32(blob[0:4])
	dl := binary.BigEndian.Uint32(blob[4:8])
	if il == 0 || il > maxHeader/16 || dl > maxHeader {
		return nil, fmt.Errorf("header blob claims %d entries and %d data bytes", il, dl)
	}
	need := 8 + int(il)*16 + int(dl)
	if len(blob) < need {
		return nil, fmt.Errorf("header blob is %d bytes, its index needs %d", len(blob), need)
	}
	h := &header{entries: make(map[int32]entry, il), data: blob[8+int(il)*16 : need]}
	for i := 0; i < int(il); i++ {
		e := blob[8+i*16:]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		off := int(int32(binary.BigEndian.Uint32(e[8:12])))
		if off < 0 || off > len(h.data) {
			return nil, fmt.Errorf("tag %d points outside the header data", tag)
		}
		if _, dup := h.entries[tag]; !dup {
			h.entries[tag] = entry{typ: binary.BigEndian.Uint32(e[4:8]), off: off, count: int(binary.BigEndian.Uint32(e[12:16]))}
		}
	}
	return h, nil
}

// str returns the first string of a string tag ("" when absent).
func (h *header) str(tag int32) (string, error) {
	e, ok := h.entries[tag]
	if !ok {
		return "", nil
	}
	switch e.typ {
	case typeString, typeStringArray, typeI18NString:
	default:
		return "", fmt.Errorf("tag %d has type %d, not a string", tag, e.typ)
	}
	end := bytes.IndexByte(h.data[e.off:], 0)
	if end < 0 {
		return "", fmt.Errorf("tag %d: string is not terminated", tag)
	}
	return string(h.data[e.off : e.off+end]), nil
}

// int returns the first value of an integer tag; ok is false when absent.
func (h *header) int(tag int32) (int64, bool, error) {
	e, ok := h.entries[tag]
	if !ok || e.count < 1 {
		return 0, false, nil
	}
	size := map[uint32]int{typeInt16: 2, typeInt32: 4, typeInt64: 8}[e.typ]
	if size == 0 {
		return 0, false, fmt.Errorf("tag %d has type %d, not an integer", tag, e.typ)
	}
	if e.off+size > len(h.data) {
		return 0, false, fmt.Errorf("tag %d is truncated", tag)
	}
	b := h.data[e.off:]
	switch size {
	case 2:
		return int64(binary.BigEndian.Uint16(b)), true, nil
	case 4:
		return int64(binary.BigEndian.Uint32(b)), true, nil
	}
	return int64(binary.BigEndian.Uint64(b)), true, nil
}

// bin returns a binary tag's bytes (nil when absent).
func (h *header) bin(tag int32) ([]byte, error) {
	e, ok := h.entries[tag]
	if !ok {
		return nil, nil
	}
	if e.typ != typeBin {
		return nil, fmt.Errorf("tag %d has type %d, not binary", tag, e.typ)
	}
	if e.off+e.count > len(h.data) {
		return nil, fmt.Errorf("tag %d is truncated", tag)
	}
	return h.data[e.off : e.off+e.count], nil
}

// Decode reads an installed package header blob as stored in rpmdb.
func Decode(blob []byte) (inventory.Installed, error) {
	h, err := parseHeader(blob)
	if err != nil {
		return inventory.Installed{}, err
	}
	var p inventory.Installed
	strs := []struct {
		tag int32
		dst *string
	}{{tagName, &p.Name}, {tagVersion, &p.Version}, {tagRelease, &p.Release}, {tagArch, &p.Arch},
		{tagVendor, &p.Vendor}, {tagLicense, &p.License}, {tagSourceRPM, &p.SourceRPM}, {tagVCS, &p.VCS},
		{tagSHA256Header, &p.SHA256Header}}
	for _, s := range strs {
		if *s.dst, err = h.str(s.tag); err != nil {
			return inventory.Installed{}, err
		}
	}
	if p.Name == "" {
		return inventory.Installed{}, errors.New("header has no NAME")
	}
	if e, ok, err := h.int(tagEpoch); err != nil {
		return inventory.Installed{}, err
	} else if ok {
		p.Epoch = int(e)
	}
	for _, t := range []struct {
		tag int32
		dst *time.Time
	}{{tagBuildTime, &p.BuildTime}, {tagInstallTime, &p.InstallTime}} {
		v, ok, err := h.int(t.tag)
		if err != nil {
			return inventory.Installed{}, err
		}
		if ok {
			*t.dst = time.Unix(v, 0).UTC()
		}
	}
	md5, err := h.bin(tagSigMD5)
	if err != nil {
		return inventory.Installed{}, err
	}
	p.SIGMD5 = hex.EncodeToString(md5)
	for _, tag := range []int32{tagRSAHeader, tagDSAHeader, tagSigPGP, tagSigGPG} {
		pkt, err := h.bin(tag)
		if err != nil {
			return inventory.Installed{}, err
		}
		if len(pkt) == 0 {
			continue
		}
		sig, err := inventory.ParseSignature(pkt)
		if err != nil {
			return inventory.Installed{}, fmt.Errorf("%s: signature tag %d: %w", p.Name, tag, err)
		}
		p.SigningKey, p.Signature = sig.KeyID, sig.String()
		break
	}
	return p, nil
}
