package sign

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// variant makes one package file for the agreement test.
type variant struct {
	name string
	make func(t *testing.T, dir string) string
	// want is the verdict both rpmkeys --checksig and Verify must reach,
	// at rpm's default level and with signatures required.
	want, wantRequired bool
}

// corrupt returns a copy of pkg in dir changed by f.
func corrupt(t *testing.T, pkg, dir, name string, f func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(pkg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".rpm")
	if err := os.WriteFile(p, f(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// layout returns where the signature header, main header and payload start.
func layout(t *testing.T, b []byte) (sigStart, hdrStart, payloadStart int) {
	t.Helper()
	size := func(off int) int {
		il := int(binary.BigEndian.Uint32(b[off+8:]))
		dl := int(binary.BigEndian.Uint32(b[off+12:]))
		return 16 + il*16 + dl
	}
	sigStart = leadSize
	s := size(sigStart)
	hdrStart = sigStart + s + (8-s%8)%8
	payloadStart = hdrStart + size(hdrStart)
	return
}

// sigTagData returns the offset in b of the data of a signature header tag.
func sigTagData(t *testing.T, b []byte, tag uint32) int {
	t.Helper()
	sigStart, _, _ := layout(t, b)
	il := int(binary.BigEndian.Uint32(b[sigStart+8:]))
	data := sigStart + 16 + il*16
	for i := range il {
		e := b[sigStart+16+i*16:]
		if binary.BigEndian.Uint32(e) == tag {
			return data + int(binary.BigEndian.Uint32(e[8:]))
		}
	}
	t.Fatalf("no signature tag %d", tag)
	return 0
}

func flip(off int) func([]byte) []byte {
	return func(b []byte) []byte { b[off] ^= 0x01; return b }
}

func variants(t *testing.T) []variant {
	rsa, ed := testKey(t, "rsa4096"), testKey(t, "ed25519")
	signed := func(k *Key) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string { return buildPackage(t, dir, "vt", "1", k) }
	}
	damaged := func(k *Key, where string, f func(t *testing.T, b []byte) []byte) func(t *testing.T, dir string) string {
		return func(t *testing.T, dir string) string {
			var s *Key
			if k != nil {
				s = k
			}
			var pkg string
			if s == nil {
				pkg = buildPackage(t, dir, "vt", "1", nil)
			} else {
				pkg = buildPackage(t, dir, "vt", "1", s)
			}
			return corrupt(t, pkg, dir, where, func(b []byte) []byte { return f(t, b) })
		}
	}
	return []variant{
		{"signed RSA", signed(rsa), true, true},
		{"signed ed25519", signed(ed), true, true},
		{"re-signed RSA", func(t *testing.T, dir string) string {
			p := buildPackage(t, dir, "vt", "1", ed)
			if err := SignFile(p, rsa); err != nil {
				t.Fatal(err)
			}
			return p
		}, true, true},
		{"unsigned", func(t *testing.T, dir string) string { return buildPackage(t, dir, "vt", "1", nil) }, true, false},
		{"unknown key", func(t *testing.T, dir string) string { return buildPackage(t, dir, "vt", "1", otherKey(t)) }, false, false},
		{"payload flip RSA", damaged(rsa, "payload", func(t *testing.T, b []byte) []byte { return flip(len(b) - 20)(b) }), false, false},
		{"payload flip ed25519", damaged(ed, "payload", func(t *testing.T, b []byte) []byte { return flip(len(b) - 20)(b) }), false, false},
		{"payload flip unsigned", damaged(nil, "payload", func(t *testing.T, b []byte) []byte { return flip(len(b) - 20)(b) }), false, false},
		{"header flip RSA", damaged(rsa, "header", func(t *testing.T, b []byte) []byte {
			return flip(bytes.Index(b, []byte("signing test package")))(b)
		}), false, false},
		{"header flip ed25519", damaged(ed, "header", func(t *testing.T, b []byte) []byte {
			return flip(bytes.Index(b, []byte("signing test package")))(b)
		}), false, false},
		{"header flip unsigned", damaged(nil, "header", func(t *testing.T, b []byte) []byte {
			return flip(bytes.Index(b, []byte("signing test package")))(b)
		}), false, false},
		{"header index flip", damaged(rsa, "index", func(t *testing.T, b []byte) []byte {
			_, hdr, _ := layout(t, b)
			return flip(hdr + 16 + 16*3 + 9)(b) // offset of the 4th entry
		}), false, false},
		{"RSA header signature flip", damaged(rsa, "rsasig", func(t *testing.T, b []byte) []byte {
			return flip(sigTagData(t, b, sigTagRSA) + 30)(b)
		}), false, false},
		{"EdDSA signature flip", damaged(ed, "dsasig", func(t *testing.T, b []byte) []byte {
			off := sigTagData(t, b, sigTagDSA)
			return flip(off + len(b[off:off+100]) - 90)(b)
		}), false, false},
		{"reserved space flip", damaged(rsa, "reserved", func(t *testing.T, b []byte) []byte {
			return flip(sigTagData(t, b, 1008) + 10)(b) // RESERVEDSPACE: covered by nothing
		}), true, true},
		{"SHA256 digest tag flip", damaged(rsa, "sha256tag", func(t *testing.T, b []byte) []byte {
			return flip(sigTagData(t, b, sigTagSHA256) + 3)(b)
		}), false, false},
		{"truncated payload", damaged(rsa, "truncated", func(t *testing.T, b []byte) []byte { return b[:len(b)-100] }), false, false},
		{"truncated header", damaged(rsa, "truncated-header", func(t *testing.T, b []byte) []byte {
			_, hdr, _ := layout(t, b)
			return b[:hdr+200]
		}), false, false},
		{"appended byte", damaged(rsa, "appended", func(t *testing.T, b []byte) []byte { return append(b, 0) }), false, false},
		{"lead only", damaged(rsa, "lead", func(t *testing.T, b []byte) []byte { return b[:leadSize] }), false, false},
		{"not an rpm", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "readme.rpm")
			os.WriteFile(p, []byte("this is not a package\n"), 0o644)
			return p
		}, false, false},
		{"empty file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "empty.rpm")
			os.WriteFile(p, nil, 0o644)
			return p
		}, false, false},
	}
}

// checkLines returns rpmkeys -Kv's per-item lines ("Header SHA256 digest:
// OK"), without details in parentheses.
func checkLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "    ") {
			continue
		}
		l = strings.TrimSpace(l)
		if i := strings.Index(l, " ("); i > 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	return lines
}

func reportLines(rep *Report) []string {
	var lines []string
	for _, c := range rep.Checks {
		lines = append(lines, c.Name+": "+string(c.Result))
	}
	slices.Sort(lines)
	return lines
}

// TestVerifyAgreesWithRPMKeys checks Verify's verdict, and each digest and
// signature it reports, against rpmkeys --checksig -v on the same files,
// at rpm's default level and with %_pkgverify_level all.
func TestVerifyAgreesWithRPMKeys(t *testing.T) {
	t.Parallel()
	e := newRPMEnv(t)
	var keys KeyRing
	for _, name := range []string{"rsa4096", "ed25519"} {
		e.importKey(testPub(name))
		if err := keys.ReadKeyFile(testPub(name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range variants(t) {
		t.Run(v.name, func(t *testing.T) {
			pkg := v.make(t, t.TempDir())
			for _, required := range []bool{false, true} {
				args := []string{"--checksig", "-v"}
				want := v.want
				if required {
					args = append([]string{"--define", "_pkgverify_level all"}, args...)
					want = v.wantRequired
				}
				out, code := e.try("rpmkeys", append(args, pkg)...)
				rep, err := VerifyFile(pkg, &keys, VerifyOptions{RequireSignature: required})
				if err != nil {
					t.Fatal(err)
				}
				if (code == 0) != want {
					t.Errorf("required=%v: rpmkeys exit %d, want ok=%v (test expectation wrong?)\n%s", required, code, want, out)
				}
				if rep.OK != (code == 0) {
					t.Errorf("required=%v: Verify OK=%v, rpmkeys exit %d\nrpmkeys:\n%s\nVerify: %s %+v", required, rep.OK, code, out, rep.Summary(), rep.Checks)
				}
				if got, want := reportLines(rep), checkLines(out); rep.Problem == "" && !slices.Equal(got, want) {
					t.Errorf("required=%v: checks differ\n got: %q\nwant: %q\nrpmkeys:\n%s", required, got, want, out)
				}
				if rep.Problem != "" && len(checkLines(out)) > 0 {
					t.Errorf("Verify could not read the package (%s), rpmkeys did:\n%s", rep.Problem, out)
				}
			}
		})
	}
}

// TestVerifySummary checks the one-line verdicts the CLI prints.
func TestVerifySummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rsa, ed := testKey(t, "rsa4096"), testKey(t, "ed25519")
	var keys KeyRing
	keys.AddKey(rsa)
	keys.AddKey(ed)
	for _, tc := range []struct {
		name string
		pkg  string
		want string
	}{
		{"rsa", buildPackage(t, dir, "a", "1", rsa), "digests OK, signature OK (key " + rsa.Fingerprint() + ")"},
		{"ed25519", buildPackage(t, dir, "b", "1", ed), "digests OK, signature OK (key " + ed.Fingerprint() + ")"},
		{"unsigned", buildPackage(t, dir, "c", "1", nil), "digests OK, not signed"},
		{"unknown", buildPackage(t, dir, "d", "1", otherKey(t)), "NOT OK: Header V4 EdDSA/SHA256 Signature, key ID "},
	} {
		rep, err := VerifyFile(tc.pkg, &keys, VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Summary(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestChecksigKeyID: after rpmkeys --import, rpmkeys --checksig -v reports
// each signature OK with the key's ID, for packages signed while written
// and re-signed later, RSA-4096 and ed25519.
func TestChecksigKeyID(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"rsa4096": {"Header V4 RSA/SHA256 Signature, key ID %s: OK", "V4 RSA/SHA256 Signature, key ID %s: OK"},
		"ed25519": {"Header V4 EdDSA/SHA256 Signature, key ID %s: OK"},
	}
	for name, lines := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k := testKey(t, name)
			e := newRPMEnv(t)
			e.importKey(testPub(name))
			if out := e.run("rpm", "-q", "gpg-pubkey"); strings.TrimSpace(out) != k.RPMName() {
				t.Errorf("imported key is %q, want %s", out, k.RPMName())
			}
			dir := t.TempDir()
			written := buildPackage(t, dir, "w", "1", k)
			resigned := buildPackage(t, dir, "r", "1", nil)
			if err := SignFile(resigned, k); err != nil {
				t.Fatal(err)
			}
			for _, pkg := range []string{written, resigned} {
				out := e.run("rpmkeys", "--checksig", "-v", pkg)
				for _, l := range append(lines, "Header SHA256 digest: OK", "Payload SHA256 digest: OK") {
					if l = strings.ReplaceAll(l, "%s", k.KeyID()); !strings.Contains(out, "    "+l+"\n") {
						t.Errorf("%s: rpmkeys -Kv lacks %q:\n%s", filepath.Base(pkg), l, out)
					}
				}
				if out := e.run("rpmkeys", "--checksig", pkg); !strings.HasSuffix(out, ": digests signatures OK\n") {
					t.Errorf("rpmkeys -K: %s", out)
				}
			}
		})
	}
}

// TestRpmsignPackage: a package signed by the real rpmsign (through gpg)
// verifies with Verify, and Verify agrees with rpmkeys on it.
func TestRpmsignPackage(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"gpg", "rpmsign"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, tool+" is not installed")
		}
	}
	g := newGPG(t)
	g.run("--import", testKeyFiles["rsa4096"]+".sec.asc")
	k := testKey(t, "rsa4096")
	pkg := buildPackage(t, t.TempDir(), "rs", "1", nil)
	e := newRPMEnv(t)
	c := exec.Command("rpmsign", "--define", "__gpg "+g.bin, "--define", "_gpg_name "+k.Fingerprint(),
		"--define", "_gpg_path "+g.home, "--addsign", pkg)
	c.Env = []string{"HOME=" + e.home, "GNUPGHOME=" + g.home, "PATH=/usr/bin:/bin"}
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("rpmsign: %v\n%s", err, out)
	}
	var keys KeyRing
	keys.AddKey(k)
	rep, err := VerifyFile(pkg, &keys, VerifyOptions{RequireSignature: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || !rep.SignaturesOK || len(rep.Keys) != 1 || rep.Keys[0] != k.Fingerprint() {
		t.Errorf("rpmsign'd package: %s %+v", rep.Summary(), rep.Checks)
	}
	e.importKey(testPub("rsa4096"))
	out := e.run("rpmkeys", "--checksig", "-v", pkg)
	if got, want := reportLines(rep), checkLines(out); !slices.Equal(got, want) {
		t.Errorf("checks differ\n got: %q\nwant: %q", got, want)
	}
}
