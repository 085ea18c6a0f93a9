package repo

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/rpmforge/rpmforge/pkg/rpmhdr"
)

var leadMagic = []byte{0xed, 0xab, 0xee, 0xdb}

// errNotRPM is wrapped by errors about files that are not RPM packages.
var errNotRPM = errors.New("not an RPM package")

// How the headers are read (pkg/rpmhdr checks them as rpm does): the
// signature header's region is optional and need not span it; the main
// header's region, when there is one (rpm still reads v3 headers), must.
var (
	sigHeader  = rpmhdr.Options{Region: rpmhdr.TagHeaderSignatures}
	mainHeader = rpmhdr.Options{Region: rpmhdr.TagHeaderImmutable, Exact: true}
)

// rpmHeaders is what readRPMHeaders returns: both headers and the byte range
// of the main header in the file.
type rpmHeaders struct {
	sig, main              *rpmhdr.Header
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
	so, mo := sigHeader, mainHeader
	so.Alias, mo.Alias = alias, alias
	sig, err := rpmhdr.Parse(b[96:], so)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w: %w", errNotRPM, err)
	}
	start := 96 + len(sig.Raw) + rpmhdr.Pad(len(sig.Raw))
	if start > len(b) {
		return nil, fmt.Errorf("signature header: %w: truncated header: %w", errNotRPM, io.ErrUnexpectedEOF)
	}
	main, err := rpmhdr.Parse(b[start:], mo)
	if err != nil {
		return nil, fmt.Errorf("main header: %w: %w", errNotRPM, err)
	}
	return &rpmHeaders{sig: sig, main: main, headerStart: int64(start), headerEnd: int64(start + len(main.Raw))}, nil
}

// readRPMHeaders reads the lead, the signature header and the main header.
func readRPMHeaders(r io.Reader) (*rpmHeaders, error) {
	var lead [96]byte
	if _, err := io.ReadFull(r, lead[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: short lead: %w", errNotRPM, err)
	}
	if !bytes.Equal(lead[:4], leadMagic) {
		return nil, fmt.Errorf("%w: bad lead magic", errNotRPM)
	}
	sig, err := rpmhdr.Read(r, sigHeader)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w: %w", errNotRPM, err)
	}
	start := len(lead) + len(sig.Raw) + rpmhdr.Pad(len(sig.Raw))
	main, err := rpmhdr.Read(r, mainHeader)
	if err != nil {
		return nil, fmt.Errorf("main header: %w: %w", errNotRPM, err)
	}
	return &rpmHeaders{sig: sig, main: main, headerStart: int64(start), headerEnd: int64(start + len(main.Raw))}, nil
}
