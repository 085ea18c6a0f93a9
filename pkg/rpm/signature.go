package rpm

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// SigAlgo is the public-key algorithm of a Signer.
type SigAlgo int

// Signature algorithms rpm verifies.
const (
	SigRSA   SigAlgo = iota + 1 // RSA: header (RSAHEADER) and header+payload (PGP) signatures
	SigEdDSA                    // EdDSA: header signature only (DSAHEADER), as rpmsign 4.16+ does
)

func (a SigAlgo) String() string {
	switch a {
	case SigRSA:
		return "RSA"
	case SigEdDSA:
		return "EdDSA"
	}
	return fmt.Sprintf("SigAlgo(%d)", int(a))
}

// Signer produces a detached binary OpenPGP v4 signature packet over
// everything read from data (SHA-256).
type Signer interface {
	Algo() SigAlgo
	Sign(data io.Reader) ([]byte, error)
}

// reservedSpace is what rpmbuild reserves in the signature header (32 bytes
// plus %__gpg_reserved_space 4096) so that signing can rewrite it in place.
const reservedSpace = 32 + 4096

// sigDigests are the values of the signature header.
type sigDigests struct {
	sha1, sha256 string // hex digests of the main header
	md5          []byte // MD5 of header+payload
	size         int64  // header+payload bytes
	archiveSize  int64  // uncompressed payload bytes
}

// sigTags are the signature tags removed before re-signing.
var sigTags = []uint32{sigTagDSA, sigTagRSA, sigTagPGP, sigTagGPG, sigTagPGP5}

func (d sigDigests) header(long bool) *header {
	h := newHeader()
	h.putString(sigTagSHA1, d.sha1)
	h.putString(sigTagSHA256, d.sha256)
	h.putBin(sigTagMD5, d.md5)
	if long {
		h.putInt64(sigTagLongSize, uint64(d.size))
		h.putInt64(sigTagLongArchiveSize, uint64(d.archiveSize))
	} else {
		h.putInt32(sigTagSize, uint32(d.size))
		h.putInt32(sigTagPayloadSize, uint32(d.archiveSize))
	}
	return h
}

// marshalSignature encodes h, padded to 8 bytes, with RESERVEDSPACE sized so
// that the result is target bytes long when the signatures fit in it, as
// rpmsign does to re-sign in place. reserve is the first guess; 0 means no
// RESERVEDSPACE tag.
func marshalSignature(h *header, target, reserve int) ([]byte, error) {
	for try := 0; ; try++ {
		if reserve > 0 {
			h.putBin(sigTagReservedSpace, make([]byte, reserve))
		} else {
			h.del(sigTagReservedSpace)
		}
		b, err := h.marshal(tagHeaderSignatures)
		if err != nil {
			return nil, err
		}
		b = append(b, make([]byte, padLen(len(b)))...)
		if reserve <= 0 || len(b) == target || try == 2 {
			return b, nil
		}
		r := reserve + target - len(b)
		if r < 1 {
			return b, nil // signatures larger than the reserve: the header grows
		}
		reserve = r
	}
}

func padLen(n int) int { return (8 - n%8) % 8 }

// newSignatureHeader builds the signature header of a package whose main
// header is hdr, signed by s if not nil, and returns it with the hex SHA-256
// of hdr (its SHA256HEADER digest). payload yields the compressed payload;
// it is read once.
func newSignatureHeader(hdr sizedReaderAt, payload io.Reader, payloadSize, archiveSize int64, s Signer) (sig []byte, headerSHA256 string, err error) {
	d, err := headerDigests(hdr)
	if err != nil {
		return nil, "", err
	}
	d.size = hdr.Size() + payloadSize
	d.archiveSize = archiveSize
	sigs, md5sum, err := signPackage(s, hdr, payload)
	if err != nil {
		return nil, "", err
	}
	d.md5 = md5sum

	target, err := signatureSize()
	if err != nil {
		return nil, "", err
	}
	h := d.header(d.size >= largeLimit || d.archiveSize >= largeLimit)
	for tag, sig := range sigs {
		h.putBin(tag, sig)
	}
	sig, err = marshalSignature(h, target, reservedSpace)
	return sig, d.sha256, err
}

// signatureSize is the size of an unsigned signature header with 32-bit
// sizes; rpm keeps every signature header this size (RESERVEDSPACE shrinks
// as signatures are added), so it is known before the digests are.
func signatureSize() (int, error) {
	d := sigDigests{sha1: strings.Repeat("0", 2*sha1.Size), sha256: strings.Repeat("0", 2*sha256.Size), md5: make([]byte, md5.Size)}
	b, err := marshalSignature(d.header(false), 0, reservedSpace)
	return len(b), err
}

// sizedReaderAt is a main header, in memory (*bytes.Reader) or spooled to a
// file (*io.SectionReader): the writer's is tens of MB for 100k files.
type sizedReaderAt interface {
	io.ReaderAt
	Size() int64
}

func readAll(r sizedReaderAt) io.Reader { return io.NewSectionReader(r, 0, r.Size()) }

func headerDigests(hdr sizedReaderAt) (sigDigests, error) {
	h1, h256 := sha1.New(), sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(h1, h256), readAll(hdr), make([]byte, tailBufSize)); err != nil {
		return sigDigests{}, fmt.Errorf("rpm: reading header: %w", err)
	}
	return sigDigests{sha1: hex.EncodeToString(h1.Sum(nil)), sha256: hex.EncodeToString(h256.Sum(nil))}, nil
}

// signPackage reads header+payload once, returning its MD5 and, with a
// signer, the signature tags: RSA signs the header (RSAHEADER) and
// header+payload (PGP); EdDSA signs the header only (DSAHEADER).
func signPackage(s Signer, hdr sizedReaderAt, payload io.Reader) (map[uint32][]byte, []byte, error) {
	m := md5.New()
	all := io.TeeReader(io.MultiReader(readAll(hdr), payload), m)
	sigs := map[uint32][]byte{}
	if s != nil {
		hsig, err := sign(s, readAll(hdr))
		if err != nil {
			return nil, nil, err
		}
		switch s.Algo() {
		case SigRSA:
			sigs[sigTagRSA] = hsig
			psig, err := sign(s, all)
			if err != nil {
				return nil, nil, err
			}
			sigs[sigTagPGP] = psig
		case SigEdDSA:
			sigs[sigTagDSA] = hsig
		}
	}
	// Whatever the signer left unread still counts for the MD5 (read in
	// large blocks: io.Discard's own reads are 8 KB).
	if _, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, all, make([]byte, tailBufSize)); err != nil {
		return nil, nil, fmt.Errorf("rpm: reading payload: %w", err)
	}
	return sigs, m.Sum(nil), nil
}

// sign runs s and checks that it returned one signature packet of its
// algorithm with a SHA-2 hash.
func sign(s Signer, data io.Reader) ([]byte, error) {
	algo := s.Algo()
	if algo != SigRSA && algo != SigEdDSA {
		return nil, fmt.Errorf("rpm: signer: unsupported algorithm %v", algo)
	}
	pkt, err := s.Sign(data)
	if err != nil {
		return nil, fmt.Errorf("rpm: signer: %w", err)
	}
	if err := checkSigPacket(pkt, algo); err != nil {
		return nil, fmt.Errorf("rpm: signer: %w", err)
	}
	return pkt, nil
}

// checkSigPacket checks that pkt is exactly one OpenPGP signature packet
// (v3 or v4) made with algo and a SHA-2 hash (RFC 4880 4.2, 5.2).
func checkSigPacket(pkt []byte, algo SigAlgo) error {
	if len(pkt) < 2 || pkt[0]&0x80 == 0 {
		return errors.New("not an OpenPGP packet")
	}
	var tag byte
	var n, hl int
	if pkt[0]&0x40 != 0 { // new format
		tag = pkt[0] & 0x3f
		switch l := pkt[1]; {
		case l < 192:
			n, hl = int(l), 2
		case l < 224 && len(pkt) >= 3:
			n, hl = (int(l)-192)<<8+int(pkt[2])+192, 3
		case l == 255 && len(pkt) >= 6:
			n, hl = int(binary.BigEndian.Uint32(pkt[2:])), 6
		default:
			return errors.New("unsupported OpenPGP packet length")
		}
	} else { // old format
		tag = (pkt[0] >> 2) & 0x0f
		switch pkt[0] & 3 {
		case 0:
			n, hl = int(pkt[1]), 2
		case 1:
			if len(pkt) < 3 {
				return errors.New("truncated OpenPGP packet")
			}
			n, hl = int(binary.BigEndian.Uint16(pkt[1:])), 3
		case 2:
			if len(pkt) < 5 {
				return errors.New("truncated OpenPGP packet")
			}
			n, hl = int(binary.BigEndian.Uint32(pkt[1:])), 5
		default:
			return errors.New("indeterminate OpenPGP packet length")
		}
	}
	if tag != 2 {
		return fmt.Errorf("OpenPGP packet has tag %d, want a signature (2)", tag)
	}
	if hl+n != len(pkt) {
		return fmt.Errorf("want exactly one signature packet (%d bytes), got %d bytes", hl+n, len(pkt))
	}
	body := pkt[hl:]
	var pk, ha byte
	switch {
	case len(body) >= 4 && body[0] == 4:
		pk, ha = body[2], body[3]
	case len(body) >= 17 && body[0] == 3:
		pk, ha = body[15], body[16]
	default:
		return errors.New("unsupported signature packet version")
	}
	switch {
	case algo == SigRSA && pk != 1 && pk != 3,
		algo == SigEdDSA && pk != 22:
		return fmt.Errorf("signature public-key algorithm %d does not match %v", pk, algo)
	case ha < 8 || ha > 11:
		return fmt.Errorf("signature hash algorithm %d is not SHA-2", ha)
	}
	return nil
}

// Resign copies the RPM at in to out with a new signature header signed by
// s, keeping the digest tags. Existing signatures are replaced; the
// signature header keeps its size when its reserved space allows. The
// package's digests are checked first: a corrupt package is not signed.
func Resign(in io.ReaderAt, size int64, out io.Writer, s Signer) error {
	if s == nil {
		return errors.New("rpm: resign: no signer")
	}
	ld := make([]byte, leadSize)
	if _, err := in.ReadAt(ld, 0); err != nil {
		return fmt.Errorf("rpm: resign: reading lead: %w", err)
	}
	if !bytes.Equal(ld[:4], []byte{0xed, 0xab, 0xee, 0xdb}) || binary.BigEndian.Uint16(ld[78:]) != 5 {
		return errors.New("rpm: resign: not an rpm package")
	}
	sigRaw, err := readHeaderBytes(io.NewSectionReader(in, leadSize, size-leadSize))
	if err != nil {
		return fmt.Errorf("rpm: resign: signature header: %w", err)
	}
	sigLen := len(sigRaw) + padLen(len(sigRaw))
	sig, err := parseHeader(sigRaw)
	if err != nil {
		return fmt.Errorf("rpm: resign: signature header: %w", err)
	}
	hdrStart := int64(leadSize + sigLen)
	hdr, err := readHeaderBytes(io.NewSectionReader(in, hdrStart, size-hdrStart))
	if err != nil {
		return fmt.Errorf("rpm: resign: main header: %w", err)
	}
	payloadStart := hdrStart + int64(len(hdr))
	payload := io.NewSectionReader(in, payloadStart, size-payloadStart)

	d, err := headerDigests(bytes.NewReader(hdr))
	if err != nil {
		return err
	}
	if want := sig.getString(sigTagSHA256); want != "" && want != d.sha256 {
		return errors.New("rpm: resign: package is corrupt: header SHA-256 mismatch")
	}
	if want := sig.getString(sigTagSHA1); want != "" && want != d.sha1 {
		return errors.New("rpm: resign: package is corrupt: header SHA-1 mismatch")
	}
	if n, ok := sig.getInt(sigTagLongSize); ok && int64(n) != size-hdrStart {
		return fmt.Errorf("rpm: resign: package is corrupt: size %d, header says %d", size-hdrStart, n)
	} else if n, ok := sig.getInt(sigTagSize); ok && int64(n) != size-hdrStart {
		return fmt.Errorf("rpm: resign: package is corrupt: size %d, header says %d", size-hdrStart, n)
	}

	sigs, md5sum, err := signPackage(s, bytes.NewReader(hdr), payload)
	if err != nil {
		return err
	}
	if e, ok := sig.entries[sigTagMD5]; ok && !bytes.Equal(e.data, md5sum) {
		return errors.New("rpm: resign: package is corrupt: MD5 mismatch")
	}

	for _, t := range sigTags {
		sig.del(t)
	}
	for tag, b := range sigs {
		sig.putBin(tag, b)
	}
	reserve := 0
	if e, ok := sig.entries[sigTagReservedSpace]; ok {
		reserve = len(e.data)
	}
	newSig, err := marshalSignature(sig, sigLen, reserve)
	if err != nil {
		return fmt.Errorf("rpm: resign: %w", err)
	}

	if _, err := out.Write(ld); err != nil {
		return err
	}
	if _, err := out.Write(newSig); err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(in, hdrStart, size-hdrStart)); err != nil {
		return fmt.Errorf("rpm: resign: copying header and payload: %w", err)
	}
	return nil
}
