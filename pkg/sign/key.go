// Package sign makes and checks the OpenPGP signatures rpm, dnf and zypper
// verify, in pure Go (go-crypto): no gpg binary is needed.
//
// A Key is a private OpenPGP key that can sign: it is an rpm.Signer (header
// and header+payload signatures for RSA, header signature for EdDSA, SHA-256)
// and signs repomd.xml (SignDetachedArmored). Verify checks a package's
// digests and signatures the way rpmkeys --checksig does.
//
// Passphrases are taken as []byte and never put in errors or output.
package sign

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/ProtonMail/go-crypto/openpgp/s2k"

	"github.com/rpmforge/rpmforge/pkg/rpm"
)

// Errors a key can be refused with; Load wraps them with the key's source.
var (
	ErrNotKey           = errors.New("no OpenPGP key found")
	ErrPublicOnly       = errors.New("public key only: a private key is needed to sign")
	ErrPassphraseNeeded = errors.New("key is passphrase-protected and no passphrase was given")
	ErrWrongPassphrase  = errors.New("wrong passphrase")
	ErrExpired          = errors.New("key has expired")
	ErrRevoked          = errors.New("key is revoked")
	ErrCannotSign       = errors.New("key has no signing capability")
	ErrUnsupported      = errors.New("key type not verifiable by rpm")
	ErrTooManyKeys      = errors.New("more than one private key")
)

// Algo names a kind of key Generate makes.
type Algo string

// Key algorithms. RSA-4096 is the default: rpm verifies EdDSA signatures only
// from 4.16 on (EL 9), so EL 7 and EL 8 hosts need RSA.
const (
	RSA4096 Algo = "rsa4096"
	Ed25519 Algo = "ed25519"
)

// Algos lists the algorithms Generate accepts, default first.
var Algos = []Algo{RSA4096, Ed25519}

// minRSABits is the smallest RSA key accepted: RHEL 9's crypto policies
// reject signatures by smaller keys.
const minRSABits = 2048

// Key is a private OpenPGP key ready to sign: its signing (sub)key is
// decrypted. It implements rpm.Signer.
type Key struct {
	entity *openpgp.Entity
	signer *packet.PrivateKey // primary key or signing subkey, decrypted
	algo   rpm.SigAlgo
	now    func() time.Time
}

var _ rpm.Signer = (*Key)(nil)

// GenerateOptions describe a new key.
type GenerateOptions struct {
	Name  string // required: the user ID's name, such as "ACME Packaging"
	Email string // the user ID's address; may be empty
	Algo  Algo   // "" means RSA4096
	// Time is the key's creation time; zero means now.
	Time time.Time
	// Rand is the source of randomness; nil means crypto/rand.
	Rand io.Reader
}

// Generate makes a new key: a primary key that signs and certifies, with one
// user ID ("Name <Email>") and no subkeys, self-signed with SHA-256, with no
// expiry. That is the shape of distribution package-signing keys.
func Generate(opts GenerateOptions) (*Key, error) {
	if strings.TrimSpace(opts.Name) == "" {
		return nil, errors.New("sign: generate: a name is required")
	}
	uid := packet.NewUserId(opts.Name, "", opts.Email)
	if uid == nil {
		return nil, fmt.Errorf("sign: generate: name %q or email %q contains one of ()<> or NUL", opts.Name, opts.Email)
	}
	t := opts.Time
	if t.IsZero() {
		t = time.Now()
	}
	t = t.Truncate(time.Second)
	cfg := &packet.Config{
		Rand:        opts.Rand,
		DefaultHash: crypto.SHA256,
		Time:        func() time.Time { return t },
	}

	var priv *packet.PrivateKey
	switch opts.Algo {
	case RSA4096, "":
		k, err := rsa.GenerateKey(cfg.Random(), 4096)
		if err != nil {
			return nil, fmt.Errorf("sign: generate: %w", err)
		}
		priv = packet.NewSignerPrivateKey(t, k)
	case Ed25519:
		// go-crypto makes legacy EdDSA (algorithm 22, what gpg 2.2 and rpm
		// 4.16+ know) only through NewEntity; its encryption subkey is
		// dropped.
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
		e, err := openpgp.NewEntity(opts.Name, "", opts.Email, cfg)
		if err != nil {
			return nil, fmt.Errorf("sign: generate: %w", err)
		}
		priv = e.PrivateKey
	default:
		return nil, fmt.Errorf("sign: generate: unknown algorithm %q (want %s or %s)", opts.Algo, RSA4096, Ed25519)
	}

	yes := true
	self := &packet.Signature{
		Version:              4,
		SigType:              packet.SigTypePositiveCert,
		PubKeyAlgo:           priv.PubKeyAlgo,
		Hash:                 crypto.SHA256,
		CreationTime:         t,
		IssuerKeyId:          &priv.KeyId,
		FlagsValid:           true,
		FlagSign:             true,
		FlagCertify:          true,
		IsPrimaryId:          &yes,
		SEIPDv1:              true,
		PreferredHash:        []uint8{8, 10, 9}, // SHA256, SHA512, SHA384
		PreferredSymmetric:   []uint8{uint8(packet.CipherAES256), uint8(packet.CipherAES128)},
		PreferredCompression: []uint8{uint8(packet.CompressionNone)},
	}
	if err := self.SignUserId(uid.Id, &priv.PublicKey, priv, cfg); err != nil {
		return nil, fmt.Errorf("sign: generate: self-signature: %w", err)
	}
	e := &openpgp.Entity{
		PrimaryKey: &priv.PublicKey,
		PrivateKey: priv,
		Identities: map[string]*openpgp.Identity{uid.Id: {
			Name: uid.Id, UserId: uid, SelfSignature: self, Signatures: []*packet.Signature{self},
		}},
	}
	return newKey(e, priv)
}

// Load reads a private key: ASCII-armored or binary, as rpmforge key
// generate writes it or as gpg --export-secret-keys exports it. source
// names where it came from ("signing.sec.asc", "$RPMFORGE_SIGNING_KEY") in
// errors. passphrase decrypts it; it is ignored for an unprotected key.
//
// The key is refused, with one of the Err values wrapped, when it holds no
// private key, when the passphrase is missing or wrong, when it is expired or
// revoked, when it has no usable signing key, or when rpm cannot verify its
// signatures (not RSA >= 2048 bits nor EdDSA, not a v4 key).
func Load(r io.Reader, source string, passphrase []byte) (*Key, error) {
	ents, err := readEntities(r)
	if err != nil {
		return nil, fmt.Errorf("sign: %s: %w", source, err)
	}
	var secret []*openpgp.Entity
	for _, e := range ents {
		if hasPrivate(e) {
			secret = append(secret, e)
		}
	}
	switch {
	case len(secret) == 0:
		return nil, fmt.Errorf("sign: %s: %w (export it with gpg --export-secret-keys --armor, or use the .sec.asc file)", source, ErrPublicOnly)
	case len(secret) > 1:
		return nil, fmt.Errorf("sign: %s: %w: it holds %d; export only the one to sign with", source, ErrTooManyKeys, len(secret))
	}
	e := secret[0]
	signer, err := signingKey(e, time.Now())
	if err != nil {
		return nil, fmt.Errorf("sign: %s: key %s: %w", source, fingerprint(e.PrimaryKey), err)
	}
	if signer.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("sign: %s: %w", source, ErrPassphraseNeeded)
		}
		if err := signer.Decrypt(passphrase); err != nil {
			// go-crypto's message says nothing useful ("private key
			// checksum failure"), and never holds the passphrase.
			return nil, fmt.Errorf("sign: %s: %w", source, ErrWrongPassphrase)
		}
	}
	return newKey(e, signer)
}

// readEntities parses a binary key ring, or every ASCII-armored key block
// in r (several may be concatenated).
func readEntities(r io.Reader) (openpgp.EntityList, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: it is empty", ErrNotKey)
	}
	begin := []byte("-----BEGIN PGP ")
	if !bytes.Contains(b, begin) {
		if b[0]&0x80 == 0 {
			return nil, fmt.Errorf("%w: neither ASCII-armored nor binary OpenPGP", ErrNotKey)
		}
		ents, err := openpgp.ReadKeyRing(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotKey, err)
		}
		return ents, nil
	}
	var all openpgp.EntityList
	for i := bytes.Index(b, begin); i >= 0; {
		next := bytes.Index(b[i+len(begin):], begin)
		end := len(b)
		if next >= 0 {
			end = i + len(begin) + next
		}
		blk, err := armor.Decode(bytes.NewReader(b[i:end]))
		if err != nil {
			return nil, fmt.Errorf("%w: bad ASCII armor: %w", ErrNotKey, err)
		}
		if blk.Type != openpgp.PublicKeyType && blk.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("%w: the armor holds a %q, not a key", ErrNotKey, blk.Type)
		}
		ents, err := openpgp.ReadKeyRing(blk.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotKey, err)
		}
		all = append(all, ents...)
		if next < 0 {
			break
		}
		i = end
	}
	return all, nil
}

func hasPrivate(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && !e.PrivateKey.Dummy() {
		return true
	}
	for _, s := range e.Subkeys {
		if s.PrivateKey != nil && !s.PrivateKey.Dummy() {
			return true
		}
	}
	return false
}

// signingKey picks the key that signs, as gpg does: the newest valid signing
// subkey, else the primary key if it may sign. The error says why none fits.
func signingKey(e *openpgp.Entity, now time.Time) (*packet.PrivateKey, error) {
	self, id := e.PrimarySelfSignature()
	switch {
	case e.Revoked(now):
		return nil, ErrRevoked
	case self == nil:
		return nil, fmt.Errorf("%w: no valid self-signature", ErrCannotSign)
	case e.PrimaryKey.KeyExpired(self, now) || self.SigExpired(now):
		return nil, fmt.Errorf("%w on %s (extend it with gpg --quick-set-expire, or make a new key)",
			ErrExpired, expiry(e.PrimaryKey, self).Format(time.DateOnly))
	case id != nil && id.Revoked(now):
		return nil, fmt.Errorf("%w: its user ID %q is revoked", ErrRevoked, id.Name)
	}
	k, ok := e.SigningKey(now)
	if !ok {
		// Say why the signing subkeys, if any, were passed over.
		for _, s := range e.Subkeys {
			if s.Sig == nil || !s.Sig.FlagsValid || !s.Sig.FlagSign {
				continue
			}
			if s.Revoked(now) {
				return nil, fmt.Errorf("%w: its signing subkey %s is revoked", ErrRevoked, fingerprint(s.PublicKey))
			}
			if s.PublicKey.KeyExpired(s.Sig, now) || s.Sig.SigExpired(now) {
				return nil, fmt.Errorf("%w: its signing subkey %s expired on %s", ErrExpired,
					fingerprint(s.PublicKey), expiry(s.PublicKey, s.Sig).Format(time.DateOnly))
			}
		}
		return nil, fmt.Errorf("%w: neither the primary key nor a subkey may sign (add one with gpg --quick-add-key FPR rsa4096 sign)", ErrCannotSign)
	}
	if k.PrivateKey == nil || k.PrivateKey.Dummy() {
		return nil, fmt.Errorf("%w: the secret part of signing key %s is not in the file (a gpg stub?)",
			ErrPublicOnly, fingerprint(k.PublicKey))
	}
	if _, err := sigAlgo(k.PublicKey); err != nil {
		return nil, err
	}
	return k.PrivateKey, nil
}

func expiry(pk *packet.PublicKey, sig *packet.Signature) time.Time {
	t := time.Time{}
	if sig.KeyLifetimeSecs != nil && *sig.KeyLifetimeSecs != 0 {
		t = pk.CreationTime.Add(time.Duration(*sig.KeyLifetimeSecs) * time.Second)
	}
	if sig.SigLifetimeSecs != nil && *sig.SigLifetimeSecs != 0 {
		if s := sig.CreationTime.Add(time.Duration(*sig.SigLifetimeSecs) * time.Second); t.IsZero() || s.Before(t) {
			t = s
		}
	}
	return t
}

// sigAlgo maps a signing key to what rpm 4.x verifies.
func sigAlgo(pk *packet.PublicKey) (rpm.SigAlgo, error) {
	if pk.Version != 4 {
		return 0, fmt.Errorf("%w: a v%d key (rpm reads v4 keys only)", ErrUnsupported, pk.Version)
	}
	switch pk.PubKeyAlgo {
	case packet.PubKeyAlgoRSA, packet.PubKeyAlgoRSASignOnly:
		bits, _ := pk.BitLength()
		if bits < minRSABits {
			return 0, fmt.Errorf("%w: RSA-%d is too small (RHEL 9 rejects RSA under %d bits; use rsa4096)", ErrUnsupported, bits, minRSABits)
		}
		return rpm.SigRSA, nil
	case packet.PubKeyAlgoEdDSA:
		return rpm.SigEdDSA, nil
	}
	return 0, fmt.Errorf("%w: public-key algorithm %d (use rsa4096 or ed25519)", ErrUnsupported, pk.PubKeyAlgo)
}

func newKey(e *openpgp.Entity, signer *packet.PrivateKey) (*Key, error) {
	algo, err := sigAlgo(&signer.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Key{entity: e, signer: signer, algo: algo, now: time.Now}, nil
}

// Algo is the rpm signature algorithm of the key's signing key.
func (k *Key) Algo() rpm.SigAlgo { return k.algo }

// Fingerprint is the primary key's fingerprint, upper-case hex (40 digits).
func (k *Key) Fingerprint() string { return fingerprint(k.entity.PrimaryKey) }

// SigningFingerprint is the fingerprint of the (sub)key that makes the
// signatures.
func (k *Key) SigningFingerprint() string { return fingerprint(&k.signer.PublicKey) }

// KeyID is the signing key's short key ID as rpm prints it ("key ID
// 1a2b3c4d"): the low 32 bits of its key ID, lower-case hex.
func (k *Key) KeyID() string { return fmt.Sprintf("%08x", uint32(k.signer.KeyId)) }

// UserID is the primary user ID ("Name <email>").
func (k *Key) UserID() string {
	if id := k.entity.PrimaryIdentity(); id != nil {
		return id.Name
	}
	return ""
}

// Created is the primary key's creation time.
func (k *Key) Created() time.Time { return k.entity.PrimaryKey.CreationTime }

// RPMName is the name rpm gives the key once imported: gpg-pubkey-VERSION-
// RELEASE, VERSION being the signing key's short key ID and RELEASE its
// creation time in hex.
func (k *Key) RPMName() string {
	return fmt.Sprintf("gpg-pubkey-%08x-%08x", uint32(k.entity.PrimaryKey.KeyId), uint32(k.entity.PrimaryKey.CreationTime.Unix()))
}

func fingerprint(pk *packet.PublicKey) string {
	return strings.ToUpper(fmt.Sprintf("%x", pk.Fingerprint))
}

// signature signs what r yields with a v4 binary signature over SHA-256,
// made now, with no salt notation: what rpm and gpg 2.2 verify.
func (k *Key) signature(r io.Reader) (*packet.Signature, error) {
	h := crypto.SHA256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("sign: reading the data to sign: %w", err)
	}
	no := false
	cfg := &packet.Config{DefaultHash: crypto.SHA256, NonDeterministicSignaturesViaNotation: &no}
	sig := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   k.signer.PubKeyAlgo,
		Hash:         crypto.SHA256,
		CreationTime: k.now().Truncate(time.Second),
		IssuerKeyId:  &k.signer.KeyId,
	}
	if err := sig.Sign(h, k.signer, cfg); err != nil {
		return nil, fmt.Errorf("sign: key %s: %w", k.Fingerprint(), err)
	}
	return sig, nil
}

// Sign returns a detached binary OpenPGP v4 signature packet (SHA-256) over
// everything read from data. It makes Key an rpm.Signer.
func (k *Key) Sign(data io.Reader) ([]byte, error) {
	sig, err := k.signature(data)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := sig.Serialize(&b); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return b.Bytes(), nil
}

// SignDetachedArmored writes to w an ASCII-armored detached signature of
// what r yields, as gpg --armor --detach-sign does: repomd.xml.asc, checked
// by dnf (repo_gpgcheck=1) and zypper.
func (k *Key) SignDetachedArmored(r io.Reader, w io.Writer) error {
	sig, err := k.signature(r)
	if err != nil {
		return err
	}
	aw, err := armor.Encode(w, "PGP SIGNATURE", nil)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := sig.Serialize(aw); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// WritePublic writes the ASCII-armored public key: the RPM-GPG-KEY file to
// publish, which rpmkeys --import, dnf's gpgkey= and zypper read.
func (k *Key) WritePublic(w io.Writer) error {
	aw, err := armor.Encode(w, openpgp.PublicKeyType, nil)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := k.entity.Serialize(aw); err != nil {
		return fmt.Errorf("sign: writing public key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}

// WritePrivate writes the ASCII-armored private key, protected by
// passphrase unless it is empty (iterated and salted S2K with SHA-256,
// AES-256: what gpg 2.2 imports). k itself stays usable.
func (k *Key) WritePrivate(w io.Writer, passphrase []byte) error {
	e := k.entity
	if len(passphrase) > 0 {
		// Encrypt a copy: the private key packets are re-read from the
		// serialized form so k keeps its decrypted keys.
		var raw bytes.Buffer
		if err := k.entity.SerializePrivateWithoutSigning(&raw, nil); err != nil {
			return fmt.Errorf("sign: writing private key: %w", err)
		}
		ents, err := openpgp.ReadKeyRing(&raw)
		if err != nil || len(ents) != 1 {
			return fmt.Errorf("sign: re-reading private key: %v", err)
		}
		e = ents[0]
		cfg := &packet.Config{
			DefaultCipher: packet.CipherAES256,
			S2KConfig:     &s2k.Config{S2KMode: s2k.IteratedSaltedS2K, Hash: crypto.SHA256, S2KCount: 65011712},
		}
		if err := e.EncryptPrivateKeys(passphrase, cfg); err != nil {
			return fmt.Errorf("sign: protecting private key: %w", err)
		}
	}
	aw, err := armor.Encode(w, openpgp.PrivateKeyType, nil)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if err := e.SerializePrivateWithoutSigning(aw, nil); err != nil {
		return fmt.Errorf("sign: writing private key: %w", err)
	}
	if err := aw.Close(); err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}
