package sign

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gpgEnv runs gpg 2.2 in a scratch home; its agent is stopped at cleanup.
type gpgEnv struct {
	t    testing.TB
	bin  string
	home string
}

func newGPG(t testing.TB) *gpgEnv {
	t.Helper()
	bin, err := exec.LookPath("gpg")
	if err != nil {
		skipOrFail(t, "gpg is not installed (Debian: apt-get install gnupg)")
	}
	// gpg-agent's socket path must stay short: use a short temp dir.
	home, err := os.MkdirTemp("", "gpg")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(home, 0o700)
	g := &gpgEnv{t: t, bin: bin, home: home}
	t.Cleanup(func() {
		c := exec.Command("gpgconf", "--homedir", home, "--kill", "all")
		c.Run()
		os.RemoveAll(home)
	})
	return g
}

func (g *gpgEnv) try(args ...string) (string, error) {
	c := exec.Command(g.bin, append([]string{"--batch", "--homedir", g.home, "--no-tty"}, args...)...)
	c.Env = []string{"HOME=" + g.home, "PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8"}
	out, err := c.CombinedOutput()
	return string(out), err
}

func (g *gpgEnv) run(args ...string) string {
	g.t.Helper()
	out, err := g.try(args...)
	if err != nil {
		g.t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// genKey makes a key with gpg --quick-gen-key and returns its fingerprint.
func (g *gpgEnv) genKey(uid, algo, usage, expire, passphrase string, extra ...string) string {
	g.t.Helper()
	args := append([]string{"--pinentry-mode", "loopback", "--passphrase", passphrase}, extra...)
	g.run(append(args, "--quick-gen-key", uid, algo, usage, expire)...)
	return g.fingerprint(uid)
}

func (g *gpgEnv) fingerprint(uid string) string {
	g.t.Helper()
	for _, l := range strings.Split(g.run("--with-colons", "--list-keys", uid), "\n") {
		if strings.HasPrefix(l, "fpr:") {
			return strings.Split(l, ":")[9]
		}
	}
	g.t.Fatalf("no fingerprint for %s", uid)
	return ""
}

// export writes gpg --export[-secret-keys] --armor of uid to a file.
func (g *gpgEnv) export(uid, passphrase string, secret bool, dir string) string {
	g.t.Helper()
	cmd := "--export"
	if secret {
		cmd = "--export-secret-keys"
	}
	out := g.run("--pinentry-mode", "loopback", "--passphrase", passphrase, "--armor", cmd, uid)
	p := filepath.Join(dir, strings.NewReplacer(" ", "_", "<", "", ">", "", "@", "_").Replace(uid)+cmd+".asc")
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		g.t.Fatal(err)
	}
	return p
}
