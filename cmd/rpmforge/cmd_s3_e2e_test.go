package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpmforge/rpmforge/internal/miniotest"
	"github.com/rpmforge/rpmforge/internal/testroot"
)

// s3Env points the in-process CLI at srv (credentials from the AWS
// variables, as users set them) with a private local cache.
func s3Env(t *testing.T, srv *miniotest.Server) {
	t.Helper()
	channelEnv(t)
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
}

// TestE2ES3Channels publishes channels to a real S3 store (MinIO on
// loopback) and has the real clients install from the bucket over plain
// HTTP (anonymous read by bucket policy), with gpgcheck and
// repo_gpgcheck: install from prod, upgrade after a promotion, rollback;
// zypper reads the channels; prune, check-root, history, list, plain publish of
// a prefix, repo check and repo sync both ways work on s3:// roots.
func TestE2ES3Channels(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	srv.AllowAnonymousRead(t, "rpms")
	s3Env(t, srv)
	host := testroot.New(t)
	root := "s3://rpms/acme"
	src := t.TempDir()
	v1, v2 := channelPackage(t, src, "hello", "1.0", false), channelPackage(t, src, "hello", "2.0", false)
	key := filepath.Join(testKeyDir, "rsa4096.sec.asc")
	pub := filepath.Join(testKeyDir, "rsa4096.pub.asc")

	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, "--require-key", rsaTestFPR, v1)
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "staging", "--sign-key", key, "hello")
	mustCLI(t, "repo", "promote", "--root", root, "--from", "staging", "--to", "prod", "--sign-key", key, "hello")

	base := srv.URL("rpms", "acme") + "/"
	reposdir := filepath.Join(host.Tmp, "yum.repos.d")
	os.MkdirAll(reposdir, 0o755)
	for _, ch := range []string{"dev", "staging", "prod"} {
		mustCLI(t, "repo", "client-config", "--root", root, "--channel", ch, "--baseurl", base, "--output", reposdir)
	}
	b, err := os.ReadFile(filepath.Join(reposdir, "acme-prod.repo"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "repo_gpgcheck=1") || !strings.Contains(string(b), "gpgcheck=1") {
		t.Fatalf("the .repo file does not check signatures:\n%s", b)
	}
	if out, err := host.RPM("--import", pub); err != nil {
		t.Fatalf("rpm --import: %v\n%s", err, out)
	}
	dnf := func(args ...string) string { t.Helper(); return hostDnf(t, host, reposdir, "acme-prod", args...) }
	installed := func() string {
		t.Helper()
		out, err := host.RPM("-q", "hello")
		if err != nil {
			t.Fatalf("rpm -q hello: %v\n%s", err, out)
		}
		return strings.TrimSpace(out)
	}
	dnf("install", "hello")
	if got := installed(); got != "hello-1.0-1.noarch" {
		t.Fatalf("after install: %s", got)
	}
	mustCLI(t, "repo", "add", "--root", root, "--channel", "dev", "--sign-key", key, v2)
	mustCLI(t, "repo", "promote", "--root", root, "--from", "dev", "--to", "prod", "--sign-key", key, "hello")
	dnf("upgrade")
	if got := installed(); got != "hello-2.0-1.noarch" {
		t.Fatalf("after upgrade: %s", got)
	}
	mustCLI(t, "repo", "rollback", "--root", root, "--channel", "prod", "--sign-key", key)
	dnf("distro-sync")
	if got := installed(); got != "hello-1.0-1.noarch" {
		t.Fatalf("after rollback and distro-sync: %s", got)
	}

	// zypper, through the same .repo files.
	for _, ch := range []string{"dev", "prod"} {
		if out, err := host.Zypper("addrepo", filepath.Join(reposdir, "acme-"+ch+".repo")); err != nil {
			t.Fatalf("zypper addrepo %s: %v\n%s", ch, err, out)
		}
	}
	out, err := host.Zypper("refresh")
	if err != nil {
		t.Fatalf("zypper refresh: %v\n%s", err, out)
	}
	out, err = host.Zypper("search", "-s", "--match-exact", "hello")
	t.Logf("zypper search:\n%s", out)
	if err != nil || !strings.Contains(out, "2.0-1") || !strings.Contains(out, "1.0-1") {
		t.Fatalf("zypper search: %v\n%s", err, out)
	}

	// prune: dev keeps its newest hello; the pool keeps 1.0 (prod has it).
	out = mustCLI(t, "repo", "prune", "--root", root, "--channel", "dev", "--keep", "1", "--sign-key", key)
	t.Logf("prune:\n%s", out)
	if out := mustCLI(t, "repo", "list", "--root", root, "--channel", "dev"); strings.Contains(out, "hello-1.0-1.noarch") || !strings.Contains(out, "hello-2.0-1.noarch") {
		t.Errorf("dev after prune --keep 1:\n%s", out)
	}

	// The read commands.
	out = mustCLI(t, "repo", "check-root", "--root", root)
	if !strings.Contains(out, "prod: OK, revision 3") || !strings.Contains(out, "pool: OK, 2 objects") {
		t.Errorf("check-root:\n%s", out)
	}
	var hist []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, "repo", "history", "--root", root, "--channel", "prod", "--json")), &hist); err != nil || len(hist) != 3 {
		t.Errorf("history: %d snapshots, %v", len(hist), err)
	}
	if out := mustCLI(t, "repo", "list", "--root", root, "--channel", "prod", "--revision", "2"); !strings.Contains(out, "hello-2.0-1.noarch") {
		t.Errorf("list prod -r 2:\n%s", out)
	}
	if out := mustCLI(t, "repo", "check", "s3://rpms/acme/prod"); !strings.Contains(out, "OK, 1 packages") {
		t.Errorf("repo check:\n%s", out)
	}

	// The inventory of what is published where, from the bucket.
	if out := mustCLI(t, "inventory", "repo", "--root", root, "--format", "csv"); strings.Count(out, "hello") < 3 || !strings.Contains(out, "prod") {
		t.Errorf("inventory repo --root %s:\n%s", root, out)
	}

	// repo sync: the root to a directory and on to another prefix; both
	// check, and dnf reads the copy.
	dir := filepath.Join(t.TempDir(), "acme")
	mustCLI(t, "repo", "sync", "--from", root, "--to", dir)
	mustCLI(t, "repo", "check", "--root", dir) // repo check --root is check-root
	mustCLI(t, "repo", "sync", "--from", dir, "--to", "s3://rpms/mirror")
	if out := mustCLI(t, "repo", "sync", "--from", dir, "--to", "s3://rpms/mirror"); !strings.Contains(out, "copied 0 files") {
		t.Errorf("second sync copied something:\n%s", out)
	}
	mustCLI(t, "repo", "check-root", "--root", "s3://rpms/mirror")
	out, err = host.DnfWithOptions("", testroot.DnfOptions{}, "--refresh",
		"--repofrompath=mirror,"+srv.URL("rpms", "mirror/staging")+"/", "--repo=mirror",
		"--setopt=mirror.gpgcheck=1", "--setopt=mirror.repo_gpgcheck=1", "--setopt=mirror.gpgkey=file://"+absPath(t, pub), "repoquery", "hello")
	if err != nil || !strings.Contains(out, "hello-0:1.0-1.noarch") {
		t.Errorf("dnf repoquery on the mirror: %v\n%s", err, out)
	}

	// repo publish of a plain prefix holding packages.
	ctx := context.Background()
	for _, f := range []string{v1, v2} {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rpms"), Key: aws.String("flat/" + filepath.Base(f)), Body: fh})
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	out = mustCLI(t, "repo", "publish", "--sign-key", key, "s3://rpms/flat")
	if !strings.Contains(out, "2 packages") {
		t.Errorf("publish s3://rpms/flat:\n%s", out)
	}
	if out := mustCLI(t, "repo", "publish", "--sign-key", key, "s3://rpms/flat"); !strings.Contains(out, "unchanged") {
		t.Errorf("second publish:\n%s", out)
	}
	out, err = host.DnfWithOptions("", testroot.DnfOptions{}, "--refresh",
		"--repofrompath=flat,"+srv.URL("rpms", "flat")+"/", "--repo=flat",
		"--setopt=flat.gpgcheck=1", "--setopt=flat.repo_gpgcheck=1", "--setopt=flat.gpgkey="+srv.URL("rpms", "flat/RPM-GPG-KEY"), "repoquery", "hello")
	if err != nil || !strings.Contains(out, "hello-0:2.0-1.noarch") || !strings.Contains(out, "hello-0:1.0-1.noarch") {
		t.Errorf("dnf repoquery on the flat repo: %v\n%s", err, out)
	}
}

// TestS3CLIErrors: wrong credentials and a missing bucket are one-line
// errors that never print the secret; nothing is written.
func TestS3CLIErrors(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	s3Env(t, srv)
	src := t.TempDir()
	v1 := channelPackage(t, src, "hello", "1.0", false)
	t.Run("missing bucket", func(t *testing.T) {
		_, errOut, code := channelCLI(t, "repo", "add", "--root", "s3://nobucket/acme", "--channel", "dev", "--s3-path-style", v1)
		if code == 0 || !strings.Contains(errOut, `bucket "nobucket" does not exist`) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
	})
	t.Run("wrong credentials", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-123")
		_, errOut, code := channelCLI(t, "repo", "add", "--root", "s3://rpms/acme", "--channel", "dev", v1)
		if code == 0 || !strings.Contains(errOut, "access denied") || strings.Contains(errOut, "not-the-secret-123") ||
			strings.Contains(errOut, srv.SecretKey) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
	})
	t.Run("credentials in the URL", func(t *testing.T) {
		_, errOut, code := channelCLI(t, "repo", "list", "--root", "s3://AKIA:hunter2@rpms/acme", "--channel", "dev")
		if code != 2 || !strings.Contains(errOut, "credentials do not belong in the URL") || strings.Contains(errOut, "hunter2") {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
	})
	out, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("rpms")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 0 {
		t.Errorf("the failed commands wrote %d objects", len(out.Contents))
	}
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
