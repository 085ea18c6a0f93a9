package rpm

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	rpmutils "github.com/sassoftware/go-rpmutils"
)

// testSigner signs with an OpenPGP key made by go-crypto: a v4 binary
// signature over SHA-256, deterministic (fixed time, no salt notation).
type testSigner struct {
	algo  SigAlgo
	ent   *openpgp.Entity
	calls int
}

func (s *testSigner) Algo() SigAlgo { return s.algo }

func (s *testSigner) Sign(data io.Reader) ([]byte, error) {
	s.calls++
	no := false
	cfg := &packet.Config{DefaultHash: crypto.SHA256, NonDeterministicSignaturesViaNotation: &no}
	priv := s.ent.PrivateKey
	sig := &packet.Signature{
		Version:      4,
		SigType:      packet.SigTypeBinary,
		PubKeyAlgo:   priv.PubKeyAlgo,
		Hash:         crypto.SHA256,
		CreationTime: testTime,
		IssuerKeyId:  &priv.KeyId,
	}
	h := crypto.SHA256.New()
	if _, err := io.Copy(h, data); err != nil {
		return nil, err
	}
	if err := sig.Sign(h, priv, cfg); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := sig.Serialize(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// armoredPublicKey is what rpmkeys --import reads.
func (s *testSigner) armoredPublicKey(t testing.TB) []byte {
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ent.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

var (
	keysOnce sync.Once
	keys     map[SigAlgo]*openpgp.Entity
	keysErr  error
)

func testSigners(t testing.TB) map[string]*testSigner {
	t.Helper()
	keysOnce.Do(func() {
		keys = map[SigAlgo]*openpgp.Entity{}
		for algo, cfg := range map[SigAlgo]*packet.Config{
			SigRSA:   {Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, DefaultHash: crypto.SHA256},
			SigEdDSA: {Algorithm: packet.PubKeyAlgoEdDSA, DefaultHash: crypto.SHA256},
		} {
			cfg.Time = func() time.Time { return testTime.Add(-time.Hour) }
			e, err := openpgp.NewEntity("rpmforge test "+algo.String(), "", "test@example.com", cfg)
			if err != nil {
				keysErr = err
				return
			}
			keys[algo] = e
		}
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return map[string]*testSigner{
		"RSA":   {algo: SigRSA, ent: keys[SigRSA]},
		"EdDSA": {algo: SigEdDSA, ent: keys[SigEdDSA]},
	}
}

// wantSigLines are what rpmkeys --checksig -v prints for each algorithm.
var wantSigLines = map[string][]string{
	"RSA":   {"Header V4 RSA/SHA256 Signature, key ID ", "V4 RSA/SHA256 Signature, key ID "},
	"EdDSA": {"Header V4 EdDSA/SHA256 Signature, key ID "},
}

func TestSignedPackages(t *testing.T) {
	for name, s := range testSigners(t) {
		t.Run(name, func(t *testing.T) {
			e := newRPMEnv(t, "rpmkeys")
			signed, _ := writeFile(t, sampleMetadata(), sampleEntries(), Options{Signer: s})
			unsignedPath, _ := writeFile(t, sampleMetadata(), sampleEntries(), Options{})

			// The signatures fit the reserved space: same layout as unsigned.
			a, _ := os.ReadFile(signed)
			b, _ := os.ReadFile(unsignedPath)
			if len(a) != len(b) {
				t.Errorf("signed package is %d bytes, unsigned %d", len(a), len(b))
			}
			sigRaw, _ := readHeaderBytes(bytes.NewReader(a[leadSize:]))
			sig, _ := parseHeader(sigRaw)
			wantTags := map[string][]uint32{"RSA": {sigTagRSA, sigTagPGP}, "EdDSA": {sigTagDSA}}[name]
			for _, tag := range sigTags {
				if sig.has(tag) != (tag == wantTags[0] || len(wantTags) > 1 && tag == wantTags[1]) {
					t.Errorf("signature tag %d present: %v", tag, sig.has(tag))
				}
			}

			checkSignature(t, e, s, signed, name)

			// go-rpmutils agrees.
			_, sigs, err := rpmutils.Verify(bytes.NewReader(a), openpgp.EntityList{s.ent})
			if err != nil {
				t.Fatalf("go-rpmutils Verify: %v", err)
			}
			if len(sigs) != len(wantTags) {
				t.Errorf("go-rpmutils found %d signatures, want %d", len(sigs), len(wantTags))
			}
		})
	}
}

// checkSignature imports the signer's key into e's root and checks pkg with
// rpmkeys --checksig.
func checkSignature(t *testing.T, e *rpmEnv, s *testSigner, pkg, name string) {
	t.Helper()
	key := filepath.Join(t.TempDir(), "pub.asc")
	if err := os.WriteFile(key, s.armoredPublicKey(t), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run("rpmkeys", "--import", key)
	out := e.run("rpmkeys", "--checksig", "-v", pkg)
	for _, want := range append(wantSigLines[name], "Header SHA256 digest: OK", "Payload SHA256 digest: OK") {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), want) && strings.HasSuffix(line, ": OK") {
				found = true
			}
		}
		if !found {
			t.Errorf("rpmkeys --checksig -v lacks %q ... OK:\n%s", want, out)
		}
	}
	if strings.Contains(out, "NOKEY") || strings.Contains(out, "BAD") {
		t.Errorf("rpmkeys --checksig -v:\n%s", out)
	}
	if out := e.run("rpmkeys", "--checksig", pkg); !strings.HasSuffix(out, "digests signatures OK\n") {
		t.Errorf("rpmkeys --checksig: %s", out)
	}
}

func TestResign(t *testing.T) {
	signers := testSigners(t)
	for name, s := range signers {
		t.Run(name, func(t *testing.T) {
			e := newRPMEnv(t, "rpmkeys")
			unsigned, _ := writeFile(t, sampleMetadata(), sampleEntries(), Options{})
			in, err := os.ReadFile(unsigned)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := Resign(bytes.NewReader(in), int64(len(in)), &out, s); err != nil {
				t.Fatal(err)
			}
			// Signing at write time and re-signing give the same bytes.
			var direct bytes.Buffer
			if _, err := Write(context.Background(), &direct, sampleMetadata(), sampleEntries(), Options{Signer: s}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), direct.Bytes()) {
				t.Errorf("Resign output (%d bytes) differs from a package signed by Write (%d bytes)", out.Len(), direct.Len())
			}
			p := filepath.Join(t.TempDir(), "resigned.rpm")
			os.WriteFile(p, out.Bytes(), 0o644)
			checkSignature(t, e, s, p, name)

			// Re-signing a signed package with the other key replaces the signature.
			other := signers["RSA"]
			otherName := "RSA"
			if name == "RSA" {
				other, otherName = signers["EdDSA"], "EdDSA"
			}
			var again bytes.Buffer
			if err := Resign(bytes.NewReader(out.Bytes()), int64(out.Len()), &again, other); err != nil {
				t.Fatal(err)
			}
			if again.Len() != len(in) {
				t.Errorf("re-signed package is %d bytes, want %d (reserved space reused)", again.Len(), len(in))
			}
			p2 := filepath.Join(t.TempDir(), "again.rpm")
			os.WriteFile(p2, again.Bytes(), 0o644)
			checkSignature(t, newRPMEnv(t, "rpmkeys"), other, p2, otherName)
		})
	}
}

func TestResignRefusesCorrupt(t *testing.T) {
	s := testSigners(t)["EdDSA"]
	_, res := writeFile(t, sampleMetadata(), sampleEntries(), Options{})
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, sampleMetadata(), sampleEntries(), Options{}); err != nil {
		t.Fatal(err)
	}
	pkg := buf.Bytes()
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
		wantErr string
	}{
		{"header", func(b []byte) []byte { b[res.HeaderStart+200] ^= 1; return b }, "header SHA-256 mismatch"},
		{"payload", func(b []byte) []byte { b[len(b)-10] ^= 1; return b }, "MD5 mismatch"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-1] }, "size"},
		{"not rpm", func(b []byte) []byte { b[0] = 0; return b }, "not an rpm package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.corrupt(bytes.Clone(pkg))
			var out bytes.Buffer
			err := Resign(bytes.NewReader(in), int64(len(in)), &out, s)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Resign = %v, want error containing %q", err, tc.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %d bytes", out.Len())
			}
		})
	}
}

// badSigner returns what it was given instead of a signature.
type badSigner struct {
	algo SigAlgo
	pkt  []byte
	err  error
}

func (b badSigner) Algo() SigAlgo { return b.algo }
func (b badSigner) Sign(io.Reader) ([]byte, error) {
	return b.pkt, b.err
}

func TestSignerChecks(t *testing.T) {
	good := testSigners(t)
	rsaSig, err := good["RSA"].Sign(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	edSig, _ := good["EdDSA"].Sign(strings.NewReader("x"))
	errHSM := errors.New("token removed")
	for _, tc := range []struct {
		name    string
		s       Signer
		wantErr string
	}{
		{"error", badSigner{SigRSA, nil, errHSM}, "rpm: signer: token removed"},
		{"garbage", badSigner{SigRSA, []byte("hello"), nil}, "rpm: signer: not an OpenPGP packet"},
		{"algo mismatch", badSigner{SigEdDSA, rsaSig, nil}, "rpm: signer: signature public-key algorithm 1 does not match EdDSA"},
		{"algo mismatch 2", badSigner{SigRSA, edSig, nil}, "rpm: signer: signature public-key algorithm 22 does not match RSA"},
		{"two packets", badSigner{SigRSA, append(bytes.Clone(rsaSig), rsaSig...), nil}, "want exactly one signature packet"},
		{"unknown algo", badSigner{SigAlgo(9), rsaSig, nil}, "unsupported algorithm SigAlgo(9)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Write(context.Background(), &buf, sampleMetadata(), sampleEntries(), Options{Signer: tc.s})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Write = %v, want %q", err, tc.wantErr)
			}
			if tc.name == "error" && !errors.Is(err, errHSM) {
				t.Errorf("error does not wrap the signer's")
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes", buf.Len())
			}
		})
	}
}
