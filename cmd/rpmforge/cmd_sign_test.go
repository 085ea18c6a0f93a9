package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/internal/testroot"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

const (
	testKeyDir     = "../../testdata/keys"
	testPassphrase = "s3cret passphrase (never printed)"
)

// runCLI runs rpmforge ARGS as main does, capturing stdout and stderr.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	err := app.Run(append([]string{"rpmforge"}, args...))
	if err != nil {
		fmt.Fprintln(&errOut, "rpmforge: "+err.Error())
		code = exitCode(err)
	}
	for _, s := range []string{out.String(), errOut.String()} {
		if strings.Contains(s, testPassphrase) {
			t.Errorf("rpmforge %s printed the passphrase:\n%s", strings.Join(args, " "), s)
		}
	}
	return out.String(), errOut.String(), code
}

// clearSignEnv keeps the caller's signing variables out of the test.
func clearSignEnv(t *testing.T) {
	t.Setenv(envSigningKey, "")
	t.Setenv(envPassphrase, "")
}

func writeTestPackage(t *testing.T, dir, name string) string {
	t.Helper()
	mt := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	body := "hello\n"
	md := rpm.Metadata{Name: name, Version: "1", Release: "1", Arch: "noarch", Summary: "test", License: "MIT"}
	entries := []rpm.Entry{{Path: "/opt/" + name + "/hello", Mode: 0o644, MTime: mt, Size: int64(len(body)),
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+".rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeyGenerateCLI(t *testing.T) {
	clearSignEnv(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "keys", "acme")
	t.Setenv(envPassphrase, testPassphrase)
	out, errOut, code := runCLI(t, "key", "generate", "--name", "ACME Packaging", "--email", "pkg@acme.example",
		"--algo", "ed25519", "--out", prefix, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res keyResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if !res.Protected || res.Algo != "ed25519" || res.UserID != "ACME Packaging <pkg@acme.example>" || len(res.Fingerprint) != 40 {
		t.Errorf("result %+v", res)
	}
	for p, mode := range map[string]fs.FileMode{prefix + ".sec.asc": 0o600, prefix + ".pub.asc": 0o644} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", p, err, fi.Mode().Perm(), mode)
		}
	}
	if _, err := sign.LoadFile(prefix+".sec.asc", nil); err == nil {
		t.Errorf("private key loads without its passphrase")
	}
	k, err := sign.LoadFile(prefix+".sec.asc", []byte(testPassphrase))
	if err != nil || k.Fingerprint() != res.Fingerprint {
		t.Errorf("reloading: %v", err)
	}

	// No overwriting without --force.
	before, _ := os.ReadFile(prefix + ".sec.asc")
	if _, errOut, code := runCLI(t, "key", "generate", "--name", "x", "--algo", "ed25519", "--out", prefix); code != exitFailure || !strings.Contains(errOut, "already exists") {
		t.Errorf("second generate: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(prefix + ".sec.asc"); !bytes.Equal(before, after) {
		t.Errorf("existing key overwritten")
	}
	// --passphrase-file beats the environment; --force overwrites.
	pf := filepath.Join(dir, "pass")
	os.WriteFile(pf, []byte("from the file\n"), 0o600)
	if _, errOut, code := runCLI(t, "key", "generate", "--name", "x", "--algo", "ed25519", "--out", prefix, "--force", "--passphrase-file", pf); code != 0 {
		t.Fatalf("--force: exit %d: %s", code, errOut)
	}
	if _, err := sign.LoadFile(prefix+".sec.asc", []byte("from the file")); err != nil {
		t.Errorf("key from --passphrase-file: %v", err)
	}

	if _, _, code := runCLI(t, "key", "generate", "--name", "x", "--algo", "dsa", "--out", prefix); code != exitUsage {
		t.Errorf("--algo dsa: exit %d, want usage", code)
	}
	t.Setenv(envPassphrase, "")
	if _, errOut, code := runCLI(t, "key", "generate", "--name", "x", "--algo", "ed25519", "--out", filepath.Join(dir, "plain")); code != 0 || !strings.Contains(errOut, "not passphrase-protected") {
		t.Errorf("unprotected key: exit %d, stderr %q", code, errOut)
	}
}

func TestSignAndVerifyCLI(t *testing.T) {
	clearSignEnv(t)
	dir := t.TempDir()
	a, b, c := writeTestPackage(t, dir, "a"), writeTestPackage(t, dir, "b"), writeTestPackage(t, dir, "c")
	os.Chmod(a, 0o664)
	rsaSec, rsaPub := filepath.Join(testKeyDir, "rsa4096.sec.asc"), filepath.Join(testKeyDir, "rsa4096.pub.asc")
	edSec, edPub := filepath.Join(testKeyDir, "ed25519.sec.asc"), filepath.Join(testKeyDir, "ed25519.pub.asc")
	rsa, err := sign.LoadFile(rsaSec, nil)
	if err != nil {
		t.Fatal(err)
	}
	ed, _ := sign.LoadFile(edSec, nil)

	out, errOut, code := runCLI(t, "sign", "--key", rsaSec, a, b)
	if code != 0 || !strings.Contains(out, a+": signed (key "+rsa.Fingerprint()+")") {
		t.Fatalf("sign: exit %d\n%s%s", code, out, errOut)
	}
	if fi, _ := os.Stat(a); fi.Mode().Perm() != 0o664 {
		t.Errorf("sign changed the mode to %v", fi.Mode().Perm())
	}
	// The key can come from the environment (a CI secret).
	sec, _ := os.ReadFile(edSec)
	t.Setenv(envSigningKey, string(sec))
	if out, errOut, code := runCLI(t, "sign", "--json", c); code != 0 || !strings.Contains(out, ed.Fingerprint()) {
		t.Fatalf("sign with $%s: exit %d\n%s%s", envSigningKey, code, out, errOut)
	}
	t.Setenv(envSigningKey, "")
	u := writeTestPackage(t, dir, "u")

	for _, tc := range []struct {
		args     []string
		code     int
		want     string
		wantJSON bool
	}{
		{[]string{"--key", rsaPub, "--key", edPub, a, b, c}, 0, a + ": digests OK, signature OK (key " + rsa.Fingerprint() + ")\n", false},
		{[]string{"--key", rsaPub, "--key", edPub, c}, 0, c + ": digests OK, signature OK (key " + ed.Fingerprint() + ")\n", false},
		{[]string{"--key", rsaPub, c}, exitFailure, "EdDSA/SHA256 Signature, key ID " + ed.KeyID() + ": NOKEY", false},
		{[]string{a}, exitFailure, "NOKEY", false},
		{[]string{u}, 0, u + ": digests OK, not signed\n", false},
		{[]string{"--require-signature", u}, exitFailure, "NOT OK", false},
		{[]string{"-v", "--key", rsaPub, a}, 0, "    Header V4 RSA/SHA256 Signature, key ID " + rsa.KeyID() + ": OK [key " + rsa.Fingerprint() + "]\n", false},
		{[]string{"--json", "--key", rsaPub, a, u}, 0, "", true},
		{[]string{"--key", filepath.Join(dir, "missing.asc"), a}, exitFailure, "missing.asc", false},
		{[]string{"--key", rsaPub, filepath.Join(dir, "nope.rpm")}, exitFailure, "no such file", false},
		{[]string{}, exitUsage, "", false},
	} {
		out, errOut, code := runCLI(t, append([]string{"verify"}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("verify %s: exit %d, want %d with %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
		if tc.wantJSON {
			var res []struct {
				Path         string   `json:"path"`
				OK           bool     `json:"ok"`
				SignaturesOK bool     `json:"signatures_ok"`
				Keys         []string `json:"keys"`
				Summary      string   `json:"summary"`
				Checks       []sign.Check
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("--json: %v\n%s", err, out)
			}
			if len(res) != 2 || !res[0].OK || !res[0].SignaturesOK || res[0].Keys[0] != rsa.Fingerprint() ||
				len(res[0].Checks) != 6 || !res[1].OK || res[1].SignaturesOK {
				t.Errorf("--json:\n%s", out)
			}
		}
	}
}

// TestSignRefusesBadKeys: key problems fail before any package is touched,
// with an error that names the key file, says what to do and never holds
// the passphrase.
func TestSignRefusesBadKeys(t *testing.T) {
	clearSignEnv(t)
	dir := t.TempDir()
	pkg := writeTestPackage(t, dir, "p")
	orig, _ := os.ReadFile(pkg)
	origFi, _ := os.Stat(pkg)

	k, err := sign.LoadFile(filepath.Join(testKeyDir, "ed25519.sec.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	protected := filepath.Join(dir, "protected.sec.asc")
	var sec bytes.Buffer
	if err := k.WritePrivate(&sec, []byte(testPassphrase)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(protected, sec.Bytes(), 0o600)
	wrongFile := filepath.Join(dir, "wrong")
	os.WriteFile(wrongFile, []byte("not it\n"), 0o600)
	rightFile := filepath.Join(dir, "right")
	os.WriteFile(rightFile, []byte(testPassphrase+"\n"), 0o600)

	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want []string
	}{
		{"no key", nil, nil, exitUsage, []string{"--key", envSigningKey}},
		{"public key", nil, []string{"--key", filepath.Join(testKeyDir, "ed25519.pub.asc")}, exitFailure, []string{"ed25519.pub.asc", "public key only", "--export-secret-keys"}},
		{"no passphrase", nil, []string{"--key", protected}, exitFailure, []string{protected, "passphrase-protected", envPassphrase}},
		{"wrong passphrase file", nil, []string{"--key", protected, "--passphrase-file", wrongFile}, exitFailure, []string{protected, "wrong passphrase"}},
		{"wrong passphrase env", map[string]string{envPassphrase: "nope"}, []string{"--key", protected}, exitFailure, []string{protected, "wrong passphrase"}},
		{"env key, wrong passphrase", map[string]string{envSigningKey: sec.String(), envPassphrase: testPassphrase + "x"}, nil, exitFailure, []string{"$" + envSigningKey, "wrong passphrase"}},
		{"missing key file", nil, []string{"--key", filepath.Join(dir, "missing.asc")}, exitFailure, []string{"missing.asc", "rpmforge key generate"}},
		{"missing package", nil, []string{"--key", protected, "--passphrase-file", rightFile, filepath.Join(dir, "nope.rpm")}, exitFailure, []string{"nope.rpm", "nothing was signed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, errOut, code := runCLI(t, append(append([]string{"sign"}, tc.args...), pkg)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d: %s", code, tc.code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q: %s", w, errOut)
				}
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
				t.Errorf("error is not one line: %q", errOut)
			}
			now, _ := os.ReadFile(pkg)
			fi, _ := os.Stat(pkg)
			if !bytes.Equal(now, orig) || !fi.ModTime().Equal(origFi.ModTime()) {
				t.Errorf("the package was touched")
			}
		})
	}

	// With the right passphrase it signs; a damaged package beside it is
	// left as it was and reported.
	bad := filepath.Join(dir, "bad.rpm")
	b := bytes.Clone(orig)
	b[len(b)-5] ^= 1
	os.WriteFile(bad, b, 0o644)
	out, errOut, code := runCLI(t, "sign", "--key", protected, "--passphrase-file", rightFile, pkg, bad)
	if code != exitFailure || !strings.Contains(out, pkg+": signed") || !strings.Contains(errOut, "bad.rpm") || !strings.Contains(errOut, "1 of 2 packages not signed") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	if now, _ := os.ReadFile(bad); !bytes.Equal(now, b) {
		t.Errorf("damaged package was changed")
	}
}

// TestLoadSigningKeySources: sign and build take the key from --key
// (--sign-key), else from $RPMFORGE_SIGNING_KEY; none means unsigned.
func TestLoadSigningKeySources(t *testing.T) {
	clearSignEnv(t)
	if k, err := loadSigningKey("", ""); k != nil || err != nil {
		t.Errorf("no key anywhere: %v %v", k, err)
	}
	ed, _ := os.ReadFile(filepath.Join(testKeyDir, "ed25519.sec.asc"))
	t.Setenv(envSigningKey, string(ed))
	k, err := loadSigningKey("", "")
	if err != nil || k.Algo() != rpm.SigEdDSA {
		t.Fatalf("from the environment: %v", err)
	}
	k, err = loadSigningKey(filepath.Join(testKeyDir, "rsa4096.sec.asc"), "")
	if err != nil || k.Algo() != rpm.SigRSA {
		t.Errorf("--key over the environment: %v", err)
	}
	if _, err := loadSigningKey("", filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "--passphrase-file") {
		t.Errorf("missing passphrase file: %v", err)
	}
}

// TestE2EBuildSignKey: rpmforge build --sign-key signs the package it
// builds (rpmkeys agrees), and a key it cannot use stops the build before
// anything is written.
func TestE2EBuildSignKey(t *testing.T) {
	b := sharedPackages(t)
	k, err := sign.LoadFile(filepath.Join(testKeyDir, "rsa4096.sec.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, _ := filepath.Abs(filepath.Join(testKeyDir, "rsa4096.sec.asc"))
	pubFile, _ := filepath.Abs(filepath.Join(testKeyDir, "rsa4096.pub.asc"))

	protected := filepath.Join(t.TempDir(), "protected.sec.asc")
	var sec bytes.Buffer
	k.WritePrivate(&sec, []byte(testPassphrase))
	os.WriteFile(protected, sec.Bytes(), 0o600)
	out := filepath.Join(t.TempDir(), "dist")
	stdout, stderr, code := b.proj.forge([]string{envPassphrase + "=wrong"}, "build", "--output", out, "--sign-key", protected)
	if code != exitFailure || !strings.Contains(stderr, "wrong passphrase") || strings.Contains(stdout+stderr, "wrong\n") {
		t.Errorf("bad key: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("build with a bad key wrote %s", out)
	}

	stdout, stderr, code = b.proj.forge(nil, "build", "--output", out, "--sign-key", keyFile, "--json")
	if code != 0 {
		t.Fatalf("build --sign-key: exit %d\n%s%s", code, stdout, stderr)
	}
	var res struct {
		Path   string
		Signed bool
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || !res.Signed {
		t.Fatalf("build --json: %v\n%s", err, stdout)
	}
	if vout, verr, code := runForge(t, b.proj.Dir, nil, "verify", "--require-signature", "--key", pubFile, res.Path); code != 0 ||
		!strings.Contains(vout, "signature OK (key "+k.Fingerprint()+")") {
		t.Errorf("rpmforge verify: exit %d\n%s%s", code, vout, verr)
	}
	env := testroot.ToolEnv(t)
	home := strings.TrimPrefix(env[0], "HOME=")
	root := t.TempDir()
	os.WriteFile(filepath.Join(home, ".rpmmacros"), []byte("%_dbpath /var/lib/rpm\n"), 0o644)
	for _, args := range [][]string{{"--import", pubFile}, {"--checksig", "-v", res.Path}} {
		cmd := exec.Command("rpmkeys", append([]string{"--root", root}, args...)...)
		cmd.Env = env
		o, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(o), "NOKEY") || strings.Contains(string(o), "BAD") {
			t.Fatalf("rpmkeys %v: %v\n%s", args, err, o)
		}
		if args[0] == "--checksig" && !strings.Contains(string(o), "Header V4 RSA/SHA256 Signature, key ID "+k.KeyID()+": OK") {
			t.Errorf("rpmkeys --checksig -v:\n%s", o)
		}
	}
}
