package sign

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/rpmforge/rpmforge/pkg/rpmhdr"
)

// The layout of an RPM file, read as rpm 4.18 reads it (lib/rpmlead.c,
// lib/header.c hdrblobRead/hdrblobInit): a 96-byte lead, the signature
// header padded to 8 bytes, the main header, the payload up to the end of
// the file. The structural checks are rpm's (pkg/rpmhdr), so that a
// package rpm refuses to read is refused here too.

const leadSize = 96

var leadMagic = []byte{0xed, 0xab, 0xee, 0xdb}

// errNotRPM is what a file that does not start with the RPM lead magic gets.
var errNotRPM = errors.New("not an rpm package")

// How the two headers are read: the signature header's region is
// optional and need not span it; the main header's must (rpmforge does not
// deal with v3 packages).
var (
	sigHeader  = rpmhdr.Options{Region: rpmhdr.TagHeaderSignatures}
	mainHeader = rpmhdr.Options{Region: rpmhdr.TagHeaderImmutable, RequireRegion: true, Exact: true}
)

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

// get returns the data of the first entry with tag, as hdrblobGet does:
// only for byte-sized types (strings, binary). found is false when the tag is
// absent or of another type.
func get(h *rpmhdr.Header, tag uint32) (e rpmhdr.Entry, data []byte, found bool) {
	e, ok := h.Find(tag)
	if !ok {
		return rpmhdr.Entry{}, nil, false
	}
	switch e.Type {
	case rpmhdr.TypeChar, rpmhdr.TypeInt8, rpmhdr.TypeBin, rpmhdr.TypeString, rpmhdr.TypeStringArray, rpmhdr.TypeI18NString:
	default:
		return e, nil, false
	}
	data = h.Bytes(e)
	return e, data, data != nil
}

// splitStrings splits string data at NULs.
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
