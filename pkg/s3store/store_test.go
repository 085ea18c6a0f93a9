package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpmforge/rpmforge/internal/miniotest"
	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/rpm"
	"github.com/rpmforge/rpmforge/pkg/s3store"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

func TestParseURL(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		in   string
		want s3store.Location
		err  string
	}{
		{in: "s3://rpms", want: s3store.Location{Bucket: "rpms"}},
		{in: "s3://rpms/", want: s3store.Location{Bucket: "rpms"}},
		{in: "s3://rpms/acme/el9", want: s3store.Location{Bucket: "rpms", Prefix: "acme/el9/"}},
		{in: "s3://rpms/acme?endpoint=http://127.0.0.1:9000&region=eu-west-1&path_style=true",
			want: s3store.Location{Bucket: "rpms", Prefix: "acme/", Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: &yes}},
		{in: "s3://rpms?path_style=false", want: s3store.Location{Bucket: "rpms", PathStyle: &no}},
		{in: "/srv/rpms", err: "not an s3:// URL"},
		{in: "s3://AB", err: "bad bucket name"},
		{in: "s3://key:secret@rpms/x", err: "credentials do not belong in the URL"},
		{in: "s3://rpms/a/../b", err: "bad prefix"},
		{in: "s3://rpms/a?foo=1", err: `unknown parameter "foo"`},
		{in: "s3://rpms/a?endpoint=ftp://x", err: "want http(s)://"},
	} {
		got, err := s3store.ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseURL(%q) error %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("ParseURL(%q) printed the secret: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tc.in, err)
			continue
		}
		if got.Bucket != tc.want.Bucket || got.Prefix != tc.want.Prefix || got.Endpoint != tc.want.Endpoint ||
			got.Region != tc.want.Region || (got.PathStyle == nil) != (tc.want.PathStyle == nil) ||
			(got.PathStyle != nil && *got.PathStyle != *tc.want.PathStyle) {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// newStore starts MinIO (once per test) and opens s3://bucket/prefix.
func newStore(t *testing.T, srv *miniotest.Server, bucket, prefix string, ttl time.Duration, holder string) *s3store.Store {
	t.Helper()
	s, err := s3store.Open(context.Background(), "s3://"+bucket+"/"+prefix, s3store.Options{
		Client: srv.Client(), CacheDir: filepath.Join(t.TempDir(), "cache"), LockTTL: ttl, Holder: holder})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var buildTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func buildPkg(t testing.TB, dir, name, version string, s rpm.Signer) string {
	t.Helper()
	md := rpm.Metadata{Name: name, Version: version, Release: "1", Arch: "noarch",
		Summary: "s3 test package", License: "MIT", BuildTime: buildTime}
	content := "this is " + name + " " + version + "\n"
	entries := []rpm.Entry{
		{Path: "/opt/" + name, Mode: fs.ModeDir | 0o755, MTime: buildTime},
		{Path: "/opt/" + name + "/version.txt", Mode: 0o644, MTime: buildTime, Size: int64(len(content)),
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(content)), nil }},
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

func testKey(t testing.TB) *sign.Key {
	k, err := sign.LoadFile(filepath.Join("..", "..", "testdata", "keys", "rsa4096.sec.asc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func openRoot(t *testing.T, s *s3store.Store, k *sign.Key) *channel.Root {
	t.Helper()
	cfg, err := channel.ParseConfig(nil, "test", "acme")
	if err != nil {
		t.Fatal(err)
	}
	r, err := channel.Open(s.Location().String(), channel.Options{Config: cfg, Store: s, Signer: k, User: "ci@test"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestStoreBasics(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	s := newStore(t, srv, "rpms", "acme", 0, "")
	if err := s.WriteFile(ctx, "dev/repodata/repomd.xml", strings.NewReader("<repomd/>")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: spooled to a file
	if err := s.WriteFile(ctx, "pool/ab/big.rpm", io.MultiReader(bytes.NewReader(big))); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Stat(ctx, "pool/ab/big.rpm"); err != nil || n != int64(len(big)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	if err := s.Link(ctx, "pool/ab/big.rpm", "dev/Packages/big-1-1.noarch.rpm"); err != nil {
		t.Fatal(err)
	}
	names, err := s.List(ctx, "dev/Packages")
	if err != nil || !slices.Equal(names, []string{"big-1-1.noarch.rpm"}) {
		t.Fatalf("List = %q, %v", names, err)
	}
	if _, err := s.Open(ctx, "dev/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "dev/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}
	if err := s.Remove(ctx, "dev/missing"); err != nil {
		t.Fatalf("Remove(missing) = %v", err)
	}
	// Cache headers: content-addressed and packages long, repomd.xml short.
	for name, want := range map[string]string{
		"dev/repodata/repomd.xml":         "no-cache",
		"pool/ab/big.rpm":                 "immutable",
		"dev/Packages/big-1-1.noarch.rpm": "immutable",
	} {
		out, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rpms"), Key: aws.String("acme/" + name)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(aws.ToString(out.CacheControl), want) {
			t.Errorf("%s: Cache-Control %q, want %q", name, aws.ToString(out.CacheControl), want)
		}
	}
	for _, bad := range []string{"../x", "/abs", "a/../b", ""} {
		if err := s.WriteFile(ctx, bad, strings.NewReader("x")); err == nil {
			t.Errorf("WriteFile(%q) succeeded", bad)
		}
	}
}

func TestStoreErrors(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	// No such bucket.
	s := newStore(t, srv, "nobucket", "x", 0, "")
	_, err := s.Open(ctx, "repodata/repomd.xml")
	if err == nil || !strings.Contains(err.Error(), `bucket "nobucket" does not exist`) {
		t.Errorf("missing bucket: %v", err)
	}
	// Wrong credentials: a clear error, the secret not in it.
	bad := srv.Client(func(o *s3.Options) {
		o.Credentials = aws.NewCredentialsCache(staticCreds{"AKIAWRONG", "wrong-secret-value"})
	})
	sb, err := s3store.Open(ctx, "s3://rpms/acme", s3store.Options{Client: bad, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = sb.WriteFile(ctx, "x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "access denied") || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("wrong credentials: %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}

type staticCreds struct{ id, secret string }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, Source: "test"}, nil
}

// TestChannelIncrementalRequests: adding one package to a channel of 20
// uploads that package once (to the pool), copies it server-side into the
// channel, and rewrites only metadata and state: no other package is
// uploaded or copied again.
func TestChannelIncrementalRequests(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	s := newStore(t, srv, "rpms", "acme", 0, "")
	k := testKey(t)
	r := openRoot(t, s, k)
	src := t.TempDir()
	var files, names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("pkg%02d", i))
		files = append(files, buildPkg(t, src, names[i], "1.0", k))
	}
	if _, err := r.Add(ctx, "dev", files, channel.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Promote(ctx, "dev", "prod", names, channel.PromoteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Ops()
	extra := buildPkg(t, src, "newpkg", "1.0", k)
	if _, err := r.Add(ctx, "dev", []string{extra}, channel.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	ops := s.Ops()
	t.Logf("%d changes: %s", len(ops), strings.Join(ops, "\n"))
	var rpms, meta []string
	for _, op := range ops {
		name := op[strings.IndexByte(op, ' ')+1:]
		switch {
		case strings.HasSuffix(name, ".rpm"):
			rpms = append(rpms, op)
		case strings.HasPrefix(name, "dev/repodata/") || strings.HasPrefix(name, "dev/RPM-GPG-KEY"):
			meta = append(meta, op)
		case strings.HasPrefix(name, ".rpmforge/"):
		default:
			t.Errorf("unexpected change %s", op)
		}
	}
	slices.Sort(rpms)
	if len(rpms) != 2 || !strings.HasPrefix(rpms[0], "COPY dev/Packages/newpkg-1.0-1.noarch.rpm") || !strings.HasPrefix(rpms[1], "PUT pool/") {
		t.Errorf("package objects changed: %q, want one PUT to the pool and one COPY into dev", rpms)
	}
	// primary, filelists, other, repomd.xml.asc, repomd.xml.
	if len(meta) != 5 {
		t.Errorf("metadata changes %q, want 5", meta)
	}
	// Publishing again changes nothing.
	res, err := r.Add(ctx, "dev", []string{extra}, channel.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Snapshot != nil {
		t.Errorf("re-adding made revision %d", res.Snapshot.Revision)
	}
	if ops := s.Ops(); len(ops) != 0 {
		t.Errorf("re-adding changed %q", ops)
	}
	// A fresh machine (empty local cache) reads the packages from the pool
	// and publishes the same metadata.
	s2 := newStore(t, srv, "rpms", "acme", 0, "")
	r2 := openRoot(t, s2, k)
	if _, err := r2.Promote(ctx, "dev", "prod", []string{"newpkg"}, channel.PromoteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := channel.CheckStore(ctx, s2, r2.Config, "s3://rpms/acme"); err != nil {
		t.Fatal(err)
	}
	pkgs, _, err := r2.Packages(ctx, "prod", 0)
	if err != nil || len(pkgs) != 21 {
		t.Fatalf("prod has %d packages (%v), want 21", len(pkgs), err)
	}
}

// TestConcurrentPublishers: two publishers (two machines: two stores, two
// caches) add to the same channel at once; one waits for the other's lock
// and nothing is lost.
func TestConcurrentPublishers(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	k := testKey(t)
	src := t.TempDir()
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range 2 {
		s := newStore(t, srv, "rpms", "acme", 0, fmt.Sprintf("publisher %d", w))
		r := openRoot(t, s, k)
		var files []string
		for i := range n {
			files = append(files, buildPkg(t, src, fmt.Sprintf("w%d-p%d", w, i), "1.0", k))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, f := range files {
				if _, err := r.Add(ctx, "dev", []string{f}, channel.AddOptions{}); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := newStore(t, srv, "rpms", "acme", 0, "")
	r := openRoot(t, s, k)
	h, err := r.History(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2*n || h[len(h)-1].Packages != 2*n {
		t.Errorf("history: %d revisions, the last with %d packages; want %d and %d", len(h), h[len(h)-1].Packages, 2*n, 2*n)
	}
	res, err := channel.CheckStore(ctx, s, r.Config, "s3://rpms/acme")
	if err != nil {
		t.Fatal(err)
	}
	if res.Channels[0].Packages != 2*n {
		t.Errorf("dev publishes %d packages, want %d", res.Channels[0].Packages, 2*n)
	}
}

// TestLockExpiry: a lock left by a crashed publisher (not renewed) blocks
// --no-wait publishers until it expires, then is taken over; a held lock
// is renewed past its TTL.
func TestLockExpiry(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	ttl := 1500 * time.Millisecond
	a := newStore(t, srv, "rpms", "acme", ttl, "A")
	b := newStore(t, srv, "rpms", "acme", ttl, "B")
	unlock, err := a.Lock(ctx, true, false)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * ttl) // A renews it meanwhile
	if _, err := b.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) || !strings.Contains(err.Error(), "A holds") {
		t.Fatalf("B took a renewed lock: %v", err)
	}
	unlock()
	unlockB, err := b.Lock(ctx, true, true)
	if err != nil {
		t.Fatalf("B after A released: %v", err)
	}
	unlockB()

	// A crash: the lock object stays and nobody renews it.
	crashed := `{"holder":"crashed","expires":"` + time.Now().Add(ttl).UTC().Format(time.RFC3339Nano) + `"}`
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rpms"), Key: aws.String("acme/" + s3store.LockName),
		Body: strings.NewReader(crashed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) {
		t.Fatalf("B took a live lock: %v", err)
	}
	start := time.Now()
	unlockB, err = b.Lock(ctx, true, false) // waits for the expiry
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("took over the crashed lock after %v", time.Since(start))
	unlockB()
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rpms"), Key: aws.String("acme/" + s3store.LockName)}); err == nil {
		t.Error("the lock object is still there after unlock")
	}
}

// TestNetworkCut: the server dies during a publish; the error is clear,
// the previous revision is still what the bucket serves, and once the
// server is back the next change publishes.
func TestNetworkCut(t *testing.T) {
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	ctx := context.Background()
	k := testKey(t)
	src := t.TempDir()
	cacheDir := t.TempDir()
	open := func() (*s3store.Store, *channel.Root) {
		c := srv.Client(func(o *s3.Options) { o.RetryMaxAttempts = 1 })
		s, err := s3store.Open(ctx, "s3://rpms/acme", s3store.Options{Client: c, CacheDir: cacheDir, LockTTL: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return s, openRoot(t, s, k)
	}
	s, r := open()
	if _, err := r.Add(ctx, "dev", []string{buildPkg(t, src, "one", "1.0", k)}, channel.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	before, err := repo.Check(ctx, channel.SubStorage(s, "dev/"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := range 30 {
		files = append(files, buildPkg(t, src, fmt.Sprintf("many%02d", i), "1.0", k))
	}
	go func() {
		time.Sleep(150 * time.Millisecond)
		srv.Stop()
	}()
	_, err = r.Add(ctx, "dev", files, channel.AddOptions{})
	if err == nil {
		t.Skip("the add finished before the server stopped")
	}
	t.Logf("add with the server stopped: %v", err)
	if strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("not one line: %q", err)
	}
	srv.Restart(t)
	time.Sleep(1100 * time.Millisecond) // a lock left by the cut expires
	s, r = open()
	after, err := repo.Check(ctx, channel.SubStorage(s, "dev/"))
	if err != nil {
		t.Fatalf("after the cut, dev does not check: %v", err)
	}
	if after.Packages != before.Packages && after.Packages != 31 {
		t.Errorf("after the cut dev has %d packages, want %d (before) or 31", after.Packages, before.Packages)
	}
	if _, err := r.Add(ctx, "dev", files, channel.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := channel.CheckStore(ctx, s, r.Config, "s3://rpms/acme")
	if err != nil {
		t.Fatal(err)
	}
	if res.Channels[0].Packages != 31 {
		t.Errorf("dev has %d packages, want 31", res.Channels[0].Packages)
	}
}
