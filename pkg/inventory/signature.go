package inventory

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Signature is what an RPM header signature (RSAHEADER, DSAHEADER, SIGPGP)
// says about its signer.
type Signature struct {
	PubKeyAlgo string // "RSA", "DSA", "ECDSA", "EdDSA"
	HashAlgo   string // "SHA256", ...
	Created    time.Time
	KeyID      string // 16 lowercase hex digits
}

// String formats the signature as rpm's :pgpsig does (in UTC):
// "RSA/SHA256, Thu Nov 26 15:54:36 2026, Key ID 00dff9487b320186".
func (s Signature) String() string {
	return fmt.Sprintf("%s/%s, %s, Key ID %s", s.PubKeyAlgo, s.HashAlgo, s.Created.UTC().Format("Mon Jan _2 15:04:05 2006"), s.KeyID)
}

var pubKeyAlgos = map[byte]string{1: "RSA", 2: "RSA", 3: "RSA", 17: "DSA", 19: "ECDSA", 22: "EdDSA", 27: "Ed25519", 28: "Ed448"}
var hashAlgos = map[byte]string{1: "MD5", 2: "SHA1", 3: "RIPEMD160", 8: "SHA256", 9: "SHA384", 10: "SHA512", 11: "SHA224", 12: "SHA3-256", 14: "SHA3-512"}

// ParseSignature reads an OpenPGP signature packet (version 3 or 4, old or
// new packet format) as rpm stores it in a header.
func ParseSignature(pkt []byte) (Signature, error) {
	body, err := packetBody(pkt)
	if err != nil {
		return Signature{}, err
	}
	if len(body) < 1 {
		return Signature{}, errors.New("inventory: signature packet is empty")
	}
	var s Signature
	switch body[0] {
	case 3:
		if len(body) < 17 || body[1] != 5 {
			return Signature{}, errors.New("inventory: version 3 signature packet is truncated")
		}
		s.Created = time.Unix(int64(binary.BigEndian.Uint32(body[3:7])), 0).UTC()
		s.KeyID = hex.EncodeToString(body[7:15])
		s.PubKeyAlgo, s.HashAlgo = algoName(pubKeyAlgos, body[15]), algoName(hashAlgos, body[16])
	case 4:
		if len(body) < 6 {
			return Signature{}, errors.New("inventory: version 4 signature packet is truncated")
		}
		s.PubKeyAlgo, s.HashAlgo = algoName(pubKeyAlgos, body[2]), algoName(hashAlgos, body[3])
		rest := body[4:]
		for i := 0; i < 2; i++ { // hashed, then unhashed subpackets
			if len(rest) < 2 {
				return Signature{}, errors.New("inventory: signature subpackets are truncated")
			}
			n := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+n {
				return Signature{}, errors.New("inventory: signature subpackets are truncated")
			}
			if err := s.subpackets(rest[2 : 2+n]); err != nil {
				return Signature{}, err
			}
			rest = rest[2+n:]
		}
		if s.KeyID == "" {
			return Signature{}, errors.New("inventory: signature names no issuer key")
		}
	default:
		return Signature{}, fmt.Errorf("inventory: unsupported signature packet version %d", body[0])
	}
	return s, nil
}

func algoName(m map[byte]string, b byte) string {
	if n, ok := m[b]; ok {
		return n
	}
	return fmt.Sprintf("%d", b)
}

func (s *Signature) subpackets(b []byte) error {
	for len(b) > 0 {
		var n int
		switch l := b[0]; {
		case l < 192:
			n, b = int(l), b[1:]
		case l < 255:
			if len(b) < 2 {
				return errors.New("inventory: signature subpacket length is truncated")
			}
			n, b = (int(l)-192)<<8+int(b[1])+192, b[2:]
		default:
			if len(b) < 5 {
				return errors.New("inventory: signature subpacket length is truncated")
			}
			n, b = int(binary.BigEndian.Uint32(b[1:5])), b[5:]
		}
		if n < 1 || n > len(b) {
			return errors.New("inventory: signature subpacket is truncated")
		}
		typ, data := b[0]&0x7f, b[1:n]
		switch {
		case typ == 2 && len(data) == 4:
			s.Created = time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC()
		case typ == 16 && len(data) == 8:
			s.KeyID = hex.EncodeToString(data)
		case typ == 33 && len(data) == 21 && s.KeyID == "": // v4 fingerprint: the key ID is its low 64 bits
			s.KeyID = hex.EncodeToString(data[13:])
		}
		b = b[n:]
	}
	return nil
}

// packetBody strips the OpenPGP packet header of a signature packet (tag 2).
func packetBody(p []byte) ([]byte, error) {
	if len(p) < 2 || p[0]&0x80 == 0 {
		return nil, errors.New("inventory: not an OpenPGP packet")
	}
	var tag byte
	var n int
	rest := p[1:]
	if p[0]&0x40 != 0 { // new format
		tag = p[0] & 0x3f
		switch l := rest[0]; {
		case l < 192:
			n, rest = int(l), rest[1:]
		case l < 224:
			if len(rest) < 2 {
				return nil, errors.New("inventory: OpenPGP packet length is truncated")
			}
			n, rest = (int(l)-192)<<8+int(rest[1])+192, rest[2:]
		case l == 255:
			if len(rest) < 5 {
				return nil, errors.New("inventory: OpenPGP packet length is truncated")
			}
			n, rest = int(binary.BigEndian.Uint32(rest[1:5])), rest[5:]
		default:
			return nil, errors.New("inventory: partial-length OpenPGP packets are not supported")
		}
	} else {
		tag = (p[0] >> 2) & 0x0f
		switch p[0] & 3 {
		case 0:
			n, rest = int(rest[0]), rest[1:]
		case 1:
			if len(rest) < 2 {
				return nil, errors.New("inventory: OpenPGP packet length is truncated")
			}
			n, rest = int(binary.BigEndian.Uint16(rest)), rest[2:]
		case 2:
			if len(rest) < 4 {
				return nil, errors.New("inventory: OpenPGP packet length is truncated")
			}
			n, rest = int(binary.BigEndian.Uint32(rest)), rest[4:]
		default:
			n = len(rest)
		}
	}
	if tag != 2 {
		return nil, fmt.Errorf("inventory: OpenPGP packet has tag %d, not a signature (2)", tag)
	}
	if n > len(rest) {
		return nil, errors.New("inventory: OpenPGP packet is truncated")
	}
	return rest[:n], nil
}

var keyIDText = regexp.MustCompile(`(?i)key id ([0-9a-f]{16})`)

// KeyIDFromText returns the key ID in a :pgpsig text ("RSA/SHA256, ..., Key
// ID 00dff9487b320186"), lowercased; "" when there is none ("(none)").
func KeyIDFromText(s string) string {
	if m := keyIDText.FindStringSubmatch(s); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}
