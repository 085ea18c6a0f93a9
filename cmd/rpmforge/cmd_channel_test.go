package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

var updateGolden = flag.Bool("update-channel-golden", false, "rewrite repo/*.repo from client-config")

const rsaTestFPR = "CE74B1C663C360D54E02FE5A86B7BA63D3D10ECF"

// channelCLI runs rpmforge ARGS in-process with the signing variables
// cleared and RPMFORGE_USER set, as main does.
func channelCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	app := newApp()
	app.Writer, app.ErrWriter = &out, &errOut
	if err := app.Run(append([]string{"rpmforge"}, args...)); err != nil {
		fmt.Fprintln(&errOut, "rpmforge: "+err.Error())
		code = exitCode(err)
	}
	return out.String(), errOut.String(), code
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := channelCLI(t, args...)
	if code != 0 {
		t.Fatalf("rpmforge %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

func channelEnv(t *testing.T) {
	t.Setenv(envSigningKey, "")
	t.Setenv(envPassphrase, "")
	t.Setenv("RPMFORGE_USER", "ci@build")
}

// channelPackage writes hello-VERSION-1.noarch.rpm, signed with the RSA
// test key unless unsigned, installing /opt/hello/version.txt.
func channelPackage(t testing.TB, dir, name, version string, unsigned bool) string {
	t.Helper()
	mt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	body := name + " " + version + "\n"
	md := rpm.Metadata{Name: name, Version: version, Release: "1", Arch: "noarch", Summary: "channel test package",
		License: "MIT", BuildTime: mt}
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: fs.ModeDir | 0o755, MTime: mt},
		{Path: "/opt/" + name + "/version.txt", Mode: 0o644, MTime: mt, Size: int64(len(body)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }},
	}
	var s rpm.Signer
	if !unsigned {
		k, err := sign.LoadFile(filepath.Join(testKeyDir, "rsa4096.sec.asc"), nil)
		if err != nil {
			t.Fatal(err)
		}
		s = k
	}
	var b bytes.Buffer
	if _, err := rpm.Write(context.Background(), &b, md, entries, rpm.Options{Signer: s, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name+"-"+version+"-1.noarch.rpm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestChannelCLI(t *testing.T) {
	channelEnv(t)
	root := filepath.Join(t.TempDir(), "acme")
	src := t.TempDir()
	v1, v2 := channelPackage(t, src, "hello", "1.0", false), channelPackage(t, src, "hello", "2.0", false)
	unsigned := channelPackage(t, src, "plain", "1", true)
	key := filepath.Join(testKeyDir, "rsa4096.sec.asc")

	out := mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, v1, unsigned)
	for _, want := range []string{"dev: revision 1 (add), 2 packages", "+ hello-1.0-1.noarch", "+ plain-1-1.noarch", "signed by " + rsaTestFPR} {
		if !strings.Contains(out, want) {
			t.Errorf("add: %q not in\n%s", want, out)
		}
	}
	// The key from the environment, as in CI.
	sec, _ := os.ReadFile(key)
	t.Setenv(envSigningKey, string(sec))
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "staging", "hello", "plain")
	t.Setenv(envSigningKey, "")
	_, errOut, code := channelCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "prod", "--sign-key", key,
		"--require-key", rsaTestFPR, "plain")
	if code != exitFailure || !strings.Contains(errOut, "plain-1-1.noarch is not signed; it must be signed by key "+rsaTestFPR) {
		t.Errorf("unsigned promotion: exit %d\n%s", code, errOut)
	}
	// Without a key, a signed channel is refused.
	_, errOut, code = channelCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "dev", "hello")
	if code != exitFailure || !strings.Contains(errOut, "channel dev is signed by key") {
		t.Errorf("unsigned publish: exit %d\n%s", code, errOut)
	}
	out = mustCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "prod", "--sign-key", key,
		"--require-key", rsaTestFPR, "--json", "hello")
	var pj channelChangeJSON
	if err := json.Unmarshal([]byte(out), &pj); err != nil || pj.Snapshot == nil || pj.Snapshot.From != "staging" ||
		pj.Snapshot.User != "ci@build" || strings.Join(pj.Snapshot.Added, ",") != "hello-1.0-1.noarch" {
		t.Errorf("promote --json: %v\n%s", err, out)
	}
	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, v2)
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "prod", "--sign-key", key, "hello")
	out = mustCLI(t, "repo", "list", "--root", root, "--channel", "prod")
	if !strings.Contains(out, "prod revision 2 (") || !strings.Contains(out, "hello-2.0-1.noarch") || !strings.Contains(out, "signed by "+rsaTestFPR) {
		t.Errorf("list:\n%s", out)
	}
	out = mustCLI(t, "repo", "rollback", "--root", root, "--channel", "prod", "--sign-key", key)
	if !strings.Contains(out, "prod: revision 3 (rollback to revision 1), 1 package") || !strings.Contains(out, "- hello-2.0-1.noarch") {
		t.Errorf("rollback:\n%s", out)
	}
	out = mustCLI(t, "repo", "history", "--root", root, "--channel", "prod")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "REV") || !strings.Contains(lines[3], "rollback to 1") ||
		!strings.Contains(lines[3], "-hello-2.0-1.noarch") || !strings.Contains(lines[1], "ci@build") {
		t.Errorf("history:\n%s", out)
	}
	out = mustCLI(t, "repo", "history", "--root", root, "--channel", "prod", "--json")
	var hist []channel.Snapshot
	if err := json.Unmarshal([]byte(out), &hist); err != nil || len(hist) != 3 || hist[2].RollbackTo != 1 {
		t.Errorf("history --json: %v\n%s", err, out)
	}
	out = mustCLI(t, "repo", "list", "--root", root, "--channel", "prod", "--revision", "2", "--json")
	var lj channelListJSON
	if err := json.Unmarshal([]byte(out), &lj); err != nil || len(lj.Packages) != 2 || lj.Packages[1].NEVRA != "hello-2.0-1.noarch" ||
		len(lj.Packages[1].SHA256) != 64 || lj.Snapshot.Revision != 2 {
		t.Errorf("list --json: %v\n%s", err, out)
	}
	out = mustCLI(t, "repo", "prune", "--root", root, "--channel", "dev", "--keep", "1", "--sign-key", key)
	if !strings.Contains(out, "- hello-1.0-1.noarch") || !strings.Contains(out, "pool: 3 files in use") {
		t.Errorf("prune:\n%s", out)
	}
	out = mustCLI(t, "repo", "prune", "--root", root, "--json")
	if !strings.Contains(out, `"referenced": 3`) {
		t.Errorf("prune --json:\n%s", out)
	}
	// The same NEVRA with other bytes is refused.
	other := channelPackage(t, t.TempDir(), "hello", "1.0", true)
	_, errOut, code = channelCLI(t, "repo", "add", "--root", root, "--channel", "staging", "--sign-key", key, other)
	if code != exitFailure || !strings.Contains(errOut, "hello-1.0-1.noarch is already in the pool with other bytes") {
		t.Errorf("conflicting NEVRA: exit %d\n%s", code, errOut)
	}
}

func TestChannelCLIUsage(t *testing.T) {
	channelEnv(t)
	root := t.TempDir()
	pkg := channelPackage(t, t.TempDir(), "hello", "1", true)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"repo", "add", "--channel", "dev", pkg}, exitUsage, "--root is required"},
		{[]string{"repo", "add", "--root", root, pkg}, exitUsage, "--channel is required"},
		{[]string{"repo", "add", "--root", root, "--channel", "dev"}, exitUsage, "at least one package"},
		{[]string{"repo", "add", "--root", root, "--channel", "qa", pkg}, exitFailure, `unknown channel "qa": the channels of ` + root + ` are dev, staging, prod`},
		{[]string{"repo", "add", "--root", root, "--channel", "dev", "--nope", pkg}, exitUsage, "nope"},
		{[]string{"repo", "promote", "--root", root, "--from", "dev", "hello"}, exitUsage, "--to is required"},
		{[]string{"repo", "promote", "--root", root, "--from", "dev", "--to", "prod"}, exitUsage, "names of the packages"},
		{[]string{"repo", "promote", "--root", root, "--from", "dev", "--to", "dev", "hello"}, exitFailure, "to itself"},
		{[]string{"repo", "prune", "--root", root, "--channel", "dev"}, exitUsage, "--channel and --keep go together"},
		{[]string{"repo", "prune", "--root", root, "--channel", "dev", "--keep", "0"}, exitUsage, "want at least 1"},
		{[]string{"repo", "rollback", "--root", root, "--channel", "dev", "--to", "0"}, exitUsage, "want a revision number"},
		{[]string{"repo", "rollback", "--root", root, "--channel", "dev"}, exitFailure, "no history to roll back"},
		{[]string{"repo", "list", "--root", root, "--channel", "dev", "--revision", "3"}, exitFailure, "has no revision 3"},
		{[]string{"repo", "client-config", "--root", root, "--channel", "dev"}, exitUsage, "--baseurl is required"},
		{[]string{"repo", "client-config", "--root", root, "--channel", "dev", "--baseurl", "repo.example.com"}, exitFailure, "want an absolute URL"},
		{[]string{"serve"}, exitUsage, "--root is required"},
		{[]string{"serve", "--root", pkg}, exitUsage, "is not a directory"},
	} {
		_, errOut, code := channelCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("rpmforge %s: exit %d, want %d with %q\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, errOut)
		}
	}
	os.WriteFile(filepath.Join(root, channel.ConfigName), []byte("channels = [\"dev\", \"prod\"]\nretain = 3\n"), 0o644)
	_, errOut, code := channelCLI(t, "repo", "list", "--root", root, "--channel", "dev")
	if code != exitFailure || !strings.Contains(errOut, channel.ConfigName+": unknown key retain") {
		t.Errorf("bad config: exit %d\n%s", code, errOut)
	}
	// An empty channel lists as such.
	os.Remove(filepath.Join(root, channel.ConfigName))
	if out := mustCLI(t, "repo", "list", "--root", root, "--channel", "prod"); out != "prod: empty (no snapshots yet)\n" {
		t.Errorf("empty list: %q", out)
	}
}

// TestClientConfigGolden checks repo/acme-prod.repo, the example in the
// repository, against client-config (-update-channel-golden rewrites it).
func TestClientConfigGolden(t *testing.T) {
	channelEnv(t)
	root := filepath.Join(t.TempDir(), "acme")
	os.MkdirAll(root, 0o755)
	out, errOut, code := channelCLI(t, "repo", "client-config", "--root", root, "--channel", "prod", "--baseurl", "https://repo.example.com/rpm/")
	if code != 0 || !strings.Contains(errOut, "warning: channel prod is not published yet") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	golden := filepath.Join(repoRoot(t), "repo", "acme-prod.repo")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("client-config differs from %s (go test -run TestClientConfigGolden -update-channel-golden):\n%s", golden, out)
	}
	dir := t.TempDir()
	mustCLI(t, "repo", "client-config", "--root", root, "--channel", "dev", "--baseurl", "http://h:8080",
		"--gpgkey", "http://h:8080/keys/packages.asc", "--output", dir)
	b, err := os.ReadFile(filepath.Join(dir, "acme-dev.repo"))
	if err != nil || !strings.Contains(string(b), "gpgkey=http://h:8080/dev/RPM-GPG-KEY-acme http://h:8080/keys/packages.asc\n") ||
		!strings.Contains(string(b), "baseurl=http://h:8080/dev/\n") {
		t.Errorf("--output DIR: %v\n%s", err, b)
	}
}
