package sign

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/rpm"
)

const testPassphrase = "correct horse battery staple"

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, algo := range []Algo{Ed25519, RSA4096} {
		t.Run(string(algo), func(t *testing.T) {
			t.Parallel()
			if algo == RSA4096 && testing.Short() {
				t.Skip("RSA-4096 generation is slow")
			}
			k, err := Generate(GenerateOptions{Name: "ACME Packaging", Email: "pkg@acme.example", Algo: algo})
			if err != nil {
				t.Fatal(err)
			}
			wantAlgo := map[Algo]rpm.SigAlgo{Ed25519: rpm.SigEdDSA, RSA4096: rpm.SigRSA}[algo]
			if k.Algo() != wantAlgo || k.UserID() != "ACME Packaging <pkg@acme.example>" || len(k.Fingerprint()) != 40 {
				t.Errorf("algo %v user %q fingerprint %q", k.Algo(), k.UserID(), k.Fingerprint())
			}
			if len(k.entity.Subkeys) != 0 {
				t.Errorf("%d subkeys, want none", len(k.entity.Subkeys))
			}
			if k.SigningFingerprint() != k.Fingerprint() {
				t.Errorf("signs with %s, not its primary key", k.SigningFingerprint())
			}
			// Round trips: plain and passphrase-protected.
			for _, pass := range []string{"", testPassphrase} {
				var sec bytes.Buffer
				if err := k.WritePrivate(&sec, []byte(pass)); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(sec.String(), pass) && pass != "" {
					t.Fatal("private key file holds the passphrase")
				}
				k2, err := Load(bytes.NewReader(sec.Bytes()), "sec", []byte(pass))
				if err != nil {
					t.Fatalf("passphrase %q: %v", pass, err)
				}
				if k2.Fingerprint() != k.Fingerprint() {
					t.Errorf("reloaded key is %s", k2.Fingerprint())
				}
				if pass != "" {
					if _, err := Load(bytes.NewReader(sec.Bytes()), "sec", nil); !errors.Is(err, ErrPassphraseNeeded) {
						t.Errorf("no passphrase: %v", err)
					}
				}
			}
			// k still signs after WritePrivate encrypted a copy.
			if _, err := k.Sign(strings.NewReader("x")); err != nil {
				t.Errorf("Sign after WritePrivate: %v", err)
			}
		})
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, o := range []GenerateOptions{
		{Name: "", Algo: Ed25519},
		{Name: "a <b>", Algo: Ed25519},
		{Name: "x", Algo: "dsa1024"},
	} {
		if _, err := Generate(o); err == nil {
			t.Errorf("Generate(%+v) succeeded", o)
		}
	}
}

// TestGPGKeys: keys made and exported by gpg 2.2 load and sign packages that
// rpmkeys verifies with gpg's public export; the bad ones are refused, each
// with its error, naming the file and never holding the passphrase.
func TestGPGKeys(t *testing.T) {
	t.Parallel()
	g := newGPG(t)
	dir := t.TempDir()

	type keyCase struct {
		name    string
		secret  string // exported secret key file
		public  string // exported public key file
		pass    string // passphrase given to Load
		wantErr error
	}
	var cases []keyCase
	add := func(name, uid, algo, usage, expire, genPass, loadPass string, wantErr error, extra ...string) string {
		fpr := g.genKey(uid, algo, usage, expire, genPass, extra...)
		cases = append(cases, keyCase{name, g.export(uid, genPass, true, dir), g.export(uid, "", false, dir), loadPass, wantErr})
		return fpr
	}
	add("rsa", "gpg rsa <rsa@example.com>", "rsa2048", "sign", "never", "", "", nil)
	add("rsa passphrase", "gpg rsa pass <rsap@example.com>", "rsa2048", "sign", "never", testPassphrase, testPassphrase, nil)
	add("ed25519", "gpg ed <ed@example.com>", "ed25519", "sign", "never", "", "", nil)
	add("ed25519 passphrase", "gpg ed pass <edp@example.com>", "ed25519", "sign", "never", testPassphrase, testPassphrase, nil)
	// gpg's default layout: primary signs and certifies, cv25519 subkey encrypts.
	add("ed25519 with encryption subkey", "gpg default <def@example.com>", "future-default", "default", "never", "", "", nil)
	// Certify-only primary with a signing subkey: the subkey signs.
	fpr := add("signing subkey", "gpg sub <sub@example.com>", "ed25519", "cert", "never", "", "", nil)
	g.run("--pinentry-mode", "loopback", "--passphrase", "", "--quick-add-key", fpr, "rsa2048", "sign", "never")
	cases[len(cases)-1].secret = g.export("gpg sub <sub@example.com>", "", true, dir)
	cases[len(cases)-1].public = g.export("gpg sub <sub@example.com>", "", false, dir)

	add("wrong passphrase", "gpg wrong <wrong@example.com>", "ed25519", "sign", "never", testPassphrase, "not the passphrase", ErrWrongPassphrase)
	add("missing passphrase", "gpg nopass <nopass@example.com>", "ed25519", "sign", "never", testPassphrase, "", ErrPassphraseNeeded)
	add("expired", "gpg expired <exp@example.com>", "ed25519", "sign", "1d", "", "", ErrExpired, "--faked-system-time", "20200101T000000!")
	fpr = add("revoked", "gpg revoked <rev@example.com>", "ed25519", "sign", "never", "", "", ErrRevoked)
	rev, err := os.ReadFile(filepath.Join(g.home, "openpgp-revocs.d", fpr+".rev"))
	if err != nil {
		t.Fatal(err)
	}
	revFile := filepath.Join(dir, "rev.asc")
	os.WriteFile(revFile, bytes.ReplaceAll(rev, []byte(":-----BEGIN"), []byte("-----BEGIN")), 0o644)
	g.run("--import", revFile)
	cases[len(cases)-1].secret = g.export("gpg revoked <rev@example.com>", "", true, dir)
	fpr = add("no signing capability", "gpg encrypt-only <enc@example.com>", "ed25519", "cert", "never", "", "", ErrCannotSign)
	g.run("--pinentry-mode", "loopback", "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never")
	cases[len(cases)-1].secret = g.export("gpg encrypt-only <enc@example.com>", "", true, dir)
	cases = append(cases,
		keyCase{"public only", cases[0].public, "", "", ErrPublicOnly},
		keyCase{"not a key", revFile + ".missing", "", "", os.ErrNotExist},
	)
	garbage := filepath.Join(dir, "garbage.asc")
	os.WriteFile(garbage, []byte("hello\n"), 0o600)
	cases = append(cases, keyCase{"garbage", garbage, "", "", ErrNotKey})
	sigFile := filepath.Join(dir, "sig.asc")
	os.WriteFile(sigFile, []byte(g.run("--armor", "--detach-sign", "-u", "gpg ed <ed@example.com>", "--output", "-", garbage)), 0o600)
	cases = append(cases, keyCase{"a signature, not a key", sigFile, "", "", ErrNotKey})

	e := newRPMEnv(t)
	pkgDir := t.TempDir()
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k, err := LoadFile(tc.secret, []byte(tc.pass))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %v, want %v", err, tc.wantErr)
				}
				msg := err.Error()
				if !strings.Contains(msg, tc.secret) || strings.Contains(msg, "\n") {
					t.Errorf("error does not name the file on one line: %q", msg)
				}
				if strings.Contains(msg, testPassphrase) || tc.pass != "" && strings.Contains(msg, tc.pass) {
					t.Errorf("error holds the passphrase: %q", msg)
				}
				t.Logf("%s", msg)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// gpg's public export, imported into rpm, verifies what k signs.
			pkg := buildPackage(t, pkgDir, "g"+string(rune('a'+i)), "1", k)
			e.importKey(tc.public)
			out, code := e.try("rpmkeys", "--checksig", "-v", pkg)
			if code != 0 || !strings.Contains(out, "key ID "+k.KeyID()+": OK") || strings.Contains(out, "NOKEY") {
				t.Errorf("rpmkeys --checksig -v (exit %d):\n%s", code, out)
			}
			var keys KeyRing
			if err := keys.ReadKeyFile(tc.public); err != nil {
				t.Fatal(err)
			}
			if rep, err := VerifyFile(pkg, &keys, VerifyOptions{RequireSignature: true}); err != nil || !rep.OK {
				t.Errorf("Verify: %v %s", err, rep.Summary())
			}
		})
	}
}

func TestLoadRejectsSmallRSA(t *testing.T) {
	t.Parallel()
	g := newGPG(t)
	g.genKey("small <s@example.com>", "rsa1024", "sign", "never", "")
	_, err := LoadFile(g.export("small <s@example.com>", "", true, t.TempDir()), nil)
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "RSA-1024") {
		t.Errorf("got %v", err)
	}
}

func TestLoadTwoSecretKeys(t *testing.T) {
	var both bytes.Buffer
	for _, n := range []string{"rsa4096", "ed25519"} {
		b, _ := os.ReadFile(testKeyFiles[n] + ".sec.asc")
		both.Write(b)
	}
	// A file with two private keys is refused, binary or armored.
	k := testKey(t, "rsa4096")
	var raw bytes.Buffer
	k.entity.SerializePrivateWithoutSigning(&raw, nil)
	testKey(t, "ed25519").entity.SerializePrivateWithoutSigning(&raw, nil)
	if _, err := Load(&raw, "two", nil); !errors.Is(err, ErrTooManyKeys) {
		t.Errorf("two keys: %v", err)
	}
	if _, err := Load(&both, "armored", nil); !errors.Is(err, ErrTooManyKeys) {
		t.Errorf("two armored blocks: %v", err)
	}
	// Public keys may be concatenated: the key ring reads them all.
	var pubs bytes.Buffer
	for _, n := range []string{"rsa4096", "ed25519"} {
		b, _ := os.ReadFile(testPub(n))
		pubs.Write(b)
	}
	var kr KeyRing
	if err := kr.Add(&pubs, "pubs"); err != nil || kr.Len() != 2 {
		t.Errorf("two public keys: %v, %d keys", err, kr.Len())
	}
}
