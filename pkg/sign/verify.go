package sign

import (
	"bytes"
	"crypto"
	_ "crypto/md5" // rpm's MD5 header+payload digest
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/rpmforge/rpmforge/pkg/rpmhdr"
)

// Verification follows rpm 4.18's lib/rpmvs.c: the same digests and
// signatures are collected from the signature header (and the payload
// digests from the main header), checked over the same byte ranges, and the
// same rule decides which missing or failed items make the package fail, so
// that Verify and rpmkeys --checksig agree on every package.

// Result of one check, as rpm prints it.
type Result string

// Check results.
const (
	OK       Result = "OK"
	BAD      Result = "BAD"      // does not match or does not verify
	NOKEY    Result = "NOKEY"    // signed by a key not in the key ring
	NOTFOUND Result = "NOTFOUND" // required but absent
)

// Check is one digest or signature of a package.
type Check struct {
	// Name is rpm's description: "Header V4 RSA/SHA256 Signature, key ID
	// 1a2b3c4d", "Payload SHA256 digest", "MD5 digest".
	Name   string `json:"name"`
	Kind   string `json:"kind"`  // "digest" or "signature"
	Range  string `json:"range"` // "header", "payload" or "header+payload"
	Result Result `json:"result"`
	Detail string `json:"detail,omitempty"` // why it is not OK
	// For signatures: the signing key's ID (16 hex digits) and, when it
	// is in the key ring, the fingerprint of its primary key.
	KeyID       string `json:"key_id,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Report is the verdict on one package.
type Report struct {
	OK bool `json:"ok"`
	// Problem says why the package could not be read at all (not an RPM,
	// truncated or damaged header); Checks is then empty.
	Problem      string   `json:"problem,omitempty"`
	DigestsOK    bool     `json:"digests_ok"`
	Signed       bool     `json:"signed"`         // has at least one signature
	SignaturesOK bool     `json:"signatures_ok"`  // signed and every signature verified
	Keys         []string `json:"keys,omitempty"` // primary fingerprints of the keys that verified
	Checks       []Check  `json:"checks"`
}

// Summary is a one-line verdict: "digests OK, signature OK (key FPR)",
// "digests OK, not signed", or what failed.
func (r *Report) Summary() string {
	if r.Problem != "" {
		return "NOT OK: " + r.Problem
	}
	// What failed; absent items only when nothing present failed (rpm
	// lists an ed25519 package's missing RSA signature, for one).
	var bad, missing []string
	for _, c := range r.Checks {
		switch c.Result {
		case OK:
		case NOTFOUND:
			missing = append(missing, c.Name+": "+string(c.Result))
		case NOKEY:
			bad = append(bad, c.Name+": NOKEY (no key given holds key ID "+c.KeyID+")")
		default:
			bad = append(bad, c.Name+": "+string(c.Result))
		}
	}
	if len(bad) == 0 {
		bad = missing
	}
	if len(bad) > 0 {
		return "NOT OK: " + strings.Join(bad, "; ")
	}
	s := "digests OK"
	switch {
	case r.SignaturesOK && len(r.Keys) > 0:
		s += ", signature OK (key " + strings.Join(r.Keys, ", key ") + ")"
	case !r.Signed:
		s += ", not signed"
	}
	return s
}

// KeyRing holds the public keys signatures are checked against.
type KeyRing struct {
	ents openpgp.EntityList
}

// Add reads armored or binary public keys (private keys are accepted; only
// their public parts are used). source names them in errors.
func (kr *KeyRing) Add(r io.Reader, source string) error {
	ents, err := readEntities(r)
	if err != nil {
		return fmt.Errorf("sign: %s: %w", source, err)
	}
	kr.ents = append(kr.ents, ents...)
	return nil
}

// AddKey adds k's public key.
func (kr *KeyRing) AddKey(k *Key) { kr.ents = append(kr.ents, k.entity) }

// Len is the number of keys (primary keys) in the ring.
func (kr *KeyRing) Len() int {
	if kr == nil {
		return 0
	}
	return len(kr.ents)
}

// find returns the public key with keyID and algo, as rpm's findbySig, and
// the fingerprint of its primary key.
func (kr *KeyRing) find(keyID uint64, algo packet.PublicKeyAlgorithm) (*packet.PublicKey, string) {
	if kr == nil {
		return nil, ""
	}
	for _, e := range kr.ents {
		pks := []*packet.PublicKey{e.PrimaryKey}
		for _, s := range e.Subkeys {
			pks = append(pks, s.PublicKey)
		}
		for _, pk := range pks {
			if pk.KeyId == keyID && pk.PubKeyAlgo == algo {
				return pk, fingerprint(e.PrimaryKey)
			}
		}
	}
	return nil, ""
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// RequireSignature fails unsigned packages, as rpm does with
	// %_pkgverify_level all (the default level, "digest", lets them pass,
	// as rpmkeys --checksig does).
	RequireSignature bool
}

// Check kinds and ranges, with rpm's values (lib/rpmvs.h).
const (
	kindDigest    = 1
	kindSignature = 2

	rangeHeader  = 1
	rangePayload = 2
	rangeBoth    = rangeHeader | rangePayload
)

// Tags holding digests and signatures.
const (
	sigTagPGP          = rpmhdr.SigTagPGP
	sigTagMD5          = rpmhdr.SigTagMD5
	sigTagGPG          = rpmhdr.SigTagGPG
	sigTagDSA          = rpmhdr.SigTagDSA
	sigTagRSA          = rpmhdr.SigTagRSA
	sigTagSHA1         = rpmhdr.SigTagSHA1
	sigTagSHA256       = rpmhdr.SigTagSHA256
	tagPayloadDigest   = rpmhdr.TagPayloadDigest
	tagPayloadDigestAl = rpmhdr.TagPayloadDigestAlt
)

// vfyItem describes one verifiable tag (rpmvfyitems and rpmvfytags).
type vfyItem struct {
	tag       uint32
	sigHeader bool // in the signature header (else the main header)
	kind      int
	disabler  int // rpm's RPMVSF_NO* flag: items with the same one are alternatives
	rng       int
	hash      crypto.Hash // digests
	sigAlgo   packet.PublicKeyAlgorithm
	tagType   uint32
	tagCount  uint32
	tagSize   int
	alt       bool
}

var vfyItems = []vfyItem{
	{tag: sigTagPGP, sigHeader: true, kind: kindSignature, disabler: 1 << 19, rng: rangeBoth, sigAlgo: packet.PubKeyAlgoRSA, tagType: rpmhdr.TypeBin},
	{tag: sigTagMD5, sigHeader: true, kind: kindDigest, disabler: 1 << 17, rng: rangeBoth, hash: crypto.MD5, tagType: rpmhdr.TypeBin, tagSize: 16},
	{tag: sigTagGPG, sigHeader: true, kind: kindSignature, disabler: 1 << 18, rng: rangeBoth, sigAlgo: packet.PubKeyAlgoDSA, tagType: rpmhdr.TypeBin},
	{tag: sigTagDSA, sigHeader: true, kind: kindSignature, disabler: 1 << 10, rng: rangeHeader, sigAlgo: packet.PubKeyAlgoDSA, tagType: rpmhdr.TypeBin},
	{tag: sigTagRSA, sigHeader: true, kind: kindSignature, disabler: 1 << 11, rng: rangeHeader, sigAlgo: packet.PubKeyAlgoRSA, tagType: rpmhdr.TypeBin},
	{tag: sigTagSHA1, sigHeader: true, kind: kindDigest, disabler: 1 << 9, rng: rangeHeader, hash: crypto.SHA1, tagType: rpmhdr.TypeString, tagCount: 1, tagSize: 41},
	{tag: sigTagSHA256, sigHeader: true, kind: kindDigest, disabler: 1 << 8, rng: rangeHeader, hash: crypto.SHA256, tagType: rpmhdr.TypeString, tagCount: 1, tagSize: 65},
	{tag: tagPayloadDigest, kind: kindDigest, disabler: 1 << 16, rng: rangePayload, hash: crypto.SHA256, tagType: rpmhdr.TypeStringArray},
	{tag: tagPayloadDigestAl, kind: kindDigest, disabler: 1 << 16, rng: rangePayload, hash: crypto.SHA256, tagType: rpmhdr.TypeStringArray, alt: true},
}

// item is one check being made (rpmsinfo_s).
type item struct {
	vfyItem
	id       int // tag<<16 | index, 0 for placeholders
	strength int
	wrapped  bool // a digest inside the (signed) main header
	rc       Result
	msg      string
	digest   string // expected hex digest
	sig      *packet.Signature
	sigHash  crypto.Hash
	h        hash.Hash

	fingerprint string // of the primary key that verified the signature
	required    bool   // reported even when absent
}

func (it *item) descr() string {
	rn := map[int]string{rangeHeader: "Header ", rangePayload: "Payload "}[it.rng]
	alt := ""
	if it.alt {
		alt = " ALT"
	}
	if it.kind == kindDigest {
		return rn + hashName(it.hash) + alt + " digest"
	}
	if it.sig != nil {
		return fmt.Sprintf("%sV%d %s/%s Signature, key ID %08x", rn, it.sig.Version,
			pubkeyName(it.sig.PubKeyAlgo), hashName(it.sig.Hash), uint32(*it.sig.IssuerKeyId))
	}
	return rn + pubkeyName(it.sigAlgo) + alt + " signature"
}

func hashName(h crypto.Hash) string {
	switch h {
	case crypto.MD5:
		return "MD5"
	case crypto.SHA1:
		return "SHA1"
	case crypto.SHA224:
		return "SHA224"
	case crypto.SHA256:
		return "SHA256"
	case crypto.SHA384:
		return "SHA384"
	case crypto.SHA512:
		return "SHA512"
	}
	return "Unknown hash algorithm"
}

func pubkeyName(a packet.PublicKeyAlgorithm) string {
	switch a {
	case packet.PubKeyAlgoRSA:
		return "RSA"
	case packet.PubKeyAlgoRSASignOnly:
		return "RSA(Sign-Only)"
	case packet.PubKeyAlgoDSA:
		return "DSA"
	case packet.PubKeyAlgoECDSA:
		return "ECDSA"
	case packet.PubKeyAlgoEdDSA:
		return "EdDSA"
	}
	return "Unknown public key algorithm"
}

// VerifyFile is Verify on a file; an unreadable file is an error.
func VerifyFile(path string, keys *KeyRing, opts VerifyOptions) (*Report, error) {
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Verify(f, keys, opts)
}

// Verify reads a package from r and checks its digests and signatures
// against keys (which may be nil or empty: signatures are then NOKEY). The
// report's OK is rpmkeys --checksig's verdict. The error is for a failure to
// read r, not for a bad package.
func Verify(r io.Reader, keys *KeyRing, opts VerifyOptions) (*Report, error) {
	rep := &Report{Checks: []Check{}}
	if err := readLead(r); err != nil {
		return failed(rep, err)
	}
	sigh, err := rpmhdr.Read(r, sigHeader)
	if err != nil {
		return failed(rep, fmt.Errorf("signature header: %w", err))
	}
	var items []*item
	for _, vi := range vfyItems {
		if vi.sigHeader {
			items = append(items, newItems(vi, sigh)...)
		}
	}
	hdr, err := rpmhdr.Read(r, mainHeader)
	if err != nil {
		return failed(rep, fmt.Errorf("main header: %w", err))
	}
	for _, vi := range vfyItems {
		if !vi.sigHeader {
			for _, it := range newItems(vi, hdr) {
				it.wrapped = true
				items = append(items, it)
			}
		}
	}

	// Hash the header, then the payload, into every item that covers them.
	for _, it := range items {
		if it.rc != OK {
			continue
		}
		h := it.hash
		if it.kind == kindSignature {
			h = it.sigHash
		}
		if !h.Available() {
			it.rc = NOTFOUND // rpm treats unsupported digests as absent
			continue
		}
		it.h = h.New()
	}
	var hw, pw []io.Writer
	for _, it := range items {
		if it.h == nil {
			continue
		}
		if it.rng&rangeHeader != 0 {
			hw = append(hw, it.h)
		}
		if it.rng&rangePayload != 0 {
			pw = append(pw, it.h)
		}
	}
	io.MultiWriter(hw...).Write(hdr.Raw)
	if _, err := io.CopyBuffer(io.MultiWriter(pw...), r, make([]byte, 256<<10)); err != nil {
		return nil, fmt.Errorf("reading payload: %w", err)
	}

	decide(items, keys, opts)
	summarize(rep, items)
	return rep, nil
}

func failed(rep *Report, err error) (*Report, error) {
	rep.Problem = err.Error()
	return rep, nil
}

// newItems makes the items of one verifiable tag (rpmvsAppend): one per
// value when present, else one placeholder that only matters if required.
func newItems(vi vfyItem, b *rpmhdr.Header) []*item {
	e, data, found := get(b, vi.tag)
	if !found {
		return []*item{{vfyItem: vi, rc: NOTFOUND, strength: vi.kind}}
	}
	values := [][]byte{data}
	if e.Type == rpmhdr.TypeStringArray && vi.tagType == rpmhdr.TypeStringArray {
		values = nil
		for _, s := range splitStrings(data) {
			values = append(values, append([]byte(s), 0))
		}
	}
	var out []*item
	for i, v := range values {
		it := &item{vfyItem: vi, rc: BAD, strength: vi.kind}
		it.init(e, v, i)
		out = append(out, it)
	}
	return out
}

// init checks one value (rpmsinfoInit).
func (it *item) init(e rpmhdr.Entry, data []byte, index int) {
	origin := "package"
	if e.Type != it.tagType {
		it.msg = fmt.Sprintf("%s tag %d: invalid type %d", origin, e.Tag, e.Type)
		return
	}
	if it.tagCount != 0 && e.Count != it.tagCount {
		it.msg = fmt.Sprintf("%s: tag %d: invalid count %d", origin, e.Tag, e.Count)
		return
	}
	size := len(data)
	str := data
	if e.Type == rpmhdr.TypeString || e.Type == rpmhdr.TypeStringArray {
		str = bytes.TrimSuffix(data, []byte{0})
	}
	if it.kind == kindDigest && len(str) < 16 {
		it.msg = fmt.Sprintf("%s tag %d: invalid data (%d)", origin, e.Tag, len(str))
		return
	}
	if it.tagSize != 0 && size != it.tagSize {
		it.msg = fmt.Sprintf("%s tag %d: invalid size %d", origin, e.Tag, size)
		return
	}
	switch it.kind {
	case kindSignature:
		sig, err := parseSignature(data)
		if err != nil {
			it.msg = fmt.Sprintf("%s tag %d: invalid OpenPGP signature", origin, e.Tag)
			return
		}
		it.sig, it.sigHash = sig, sig.Hash
	case kindDigest:
		if e.Type == rpmhdr.TypeBin {
			it.digest = hex.EncodeToString(data)
		} else {
			s := string(str)
			if len(s)%2 != 0 || len(s) < 40 || strings.Trim(s, "0123456789abcdefABCDEF") != "" {
				it.msg = fmt.Sprintf("%s: tag %d: invalid hex", origin, e.Tag)
				return
			}
			it.digest = s
		}
	}
	it.id = int(e.Tag)<<16 | index
	it.rc = OK
}

// parseSignature reads exactly one v4 signature packet.
func parseSignature(data []byte) (*packet.Signature, error) {
	if len(data) > 65535 {
		return nil, errors.New("too large")
	}
	pr := bytes.NewReader(data)
	p, err := packet.Read(pr)
	if err != nil {
		return nil, err
	}
	sig, ok := p.(*packet.Signature)
	if !ok || sig.Version != 4 || pr.Len() != 0 || sig.IssuerKeyId == nil {
		return nil, errors.New("not one v4 signature packet with an issuer")
	}
	return sig, nil
}

// decide verifies every item that was hashed and applies rpmvsVerify's
// rules: which absent or failed items make the package fail.
func decide(items []*item, keys *KeyRing, opts VerifyOptions) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.rng != b.rng {
			return a.rng < b.rng
		}
		if a.kind != b.kind {
			return a.kind > b.kind // signatures first
		}
		if a.id != b.id {
			return a.id > b.id
		}
		return a.disabler > b.disabler
	})
	level := kindDigest
	if opts.RequireSignature {
		level |= kindSignature
	}
	verified := map[int]int{}
	rng := 0
	for _, it := range items {
		if it.wrapped && verified[kindSignature]&rangeHeader != 0 {
			it.strength = kindSignature
		}
		if it.h != nil {
			it.verify(keys)
			if it.rc == OK {
				verified[it.kind] |= it.rng
				verified[it.strength] |= it.rng
			}
		}
		rng |= it.rng
	}
	// rpm rejects partially signed packages unconditionally.
	if verified[kindSignature] != 0 {
		level |= kindSignature
	}
	for _, it := range items {
		if it.rc == BAD {
			for _, alt := range items {
				if alt.id != it.id && alt.disabler == it.disabler {
					if alt.rc == OK {
						it.rc, it.msg = NOTFOUND, ""
					}
					break
				}
			}
		}
		strength := it.kind | it.strength
		required := 0
		if level&strength&kindDigest != 0 {
			required |= rng &^ verified[kindDigest] & it.rng
		}
		if level&strength&kindSignature != 0 {
			required |= rng &^ verified[kindSignature] & it.rng
		}
		it.required = required != 0
	}
}

// verify checks a hashed item (rpmVerifySignature).
func (it *item) verify(keys *KeyRing) {
	if it.kind == kindDigest {
		got := hex.EncodeToString(it.h.Sum(nil))
		if strings.EqualFold(got, it.digest) {
			it.rc = OK
		} else {
			it.rc, it.msg = BAD, fmt.Sprintf("Expected %s != %s", it.digest, got)
		}
		return
	}
	it.rc = BAD
	if it.sig.SigType != packet.SigTypeBinary {
		it.msg = "not a binary signature"
		return
	}
	// The quick check of the digest's first 16 bits comes first, key or no
	// key: a damaged package is BAD even when the key is unknown.
	cl, ok := it.h.(hash.Cloner)
	if !ok {
		it.msg = "hash state cannot be copied"
		return
	}
	c, err := cl.Clone()
	if err != nil {
		it.msg = err.Error()
		return
	}
	c.Write(it.sig.HashSuffix)
	if sum := c.Sum(nil); sum[0] != it.sig.HashTag[0] || sum[1] != it.sig.HashTag[1] {
		return
	}
	pk, fpr := keys.find(*it.sig.IssuerKeyId, it.sig.PubKeyAlgo)
	if pk == nil {
		it.rc = NOKEY
		return
	}
	it.fingerprint = fpr
	if err := pk.VerifySignature(it.h, it.sig); err != nil {
		it.msg = err.Error()
		return
	}
	it.rc = OK
}

// summarize fills rep with the items rpm reports: those present, and absent
// ones that are required.
func summarize(rep *Report, items []*item) {
	rep.OK = true
	rep.DigestsOK = true
	sigOK := true
	for _, it := range items {
		if !it.required && it.rc == NOTFOUND {
			continue
		}
		c := Check{Name: it.descr(), Result: it.rc, Detail: it.msg, Fingerprint: it.fingerprint,
			Range: map[int]string{rangeHeader: "header", rangePayload: "payload", rangeBoth: "header+payload"}[it.rng]}
		if it.kind == kindDigest {
			c.Kind = "digest"
			if it.rc != OK {
				rep.DigestsOK = false
			}
		} else {
			c.Kind = "signature"
			if it.sig != nil {
				c.KeyID = fmt.Sprintf("%016x", *it.sig.IssuerKeyId)
			}
			rep.Signed = rep.Signed || it.rc != NOTFOUND
			if it.rc != OK {
				sigOK = false
			} else if !slices.Contains(rep.Keys, it.fingerprint) {
				rep.Keys = append(rep.Keys, it.fingerprint)
			}
		}
		if it.rc != OK {
			rep.OK = false
		}
		rep.Checks = append(rep.Checks, c)
	}
	rep.SignaturesOK = rep.Signed && sigOK
}
