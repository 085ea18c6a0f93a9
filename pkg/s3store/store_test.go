package s3store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
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

// s3Server is a running test server, MinIO (internal/miniotest) or
// SeaweedFS (internal/seaweedtest), holding the bucket "rpms": what the
// shared test bodies below need of it.
type s3Server struct {
	Endpoint  string
	AccessKey string
	Client    func(optFns ...func(*s3.Options)) *s3.Client
}

// startMinIO starts MinIO for t (skipping t without a binary) and creates
// the bucket "rpms".
func startMinIO(t *testing.T) s3Server {
	t.Helper()
	srv := miniotest.Start(t)
	srv.CreateBucket(t, "rpms")
	return s3Server{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, Client: srv.Client}
}

// newStore opens s3://bucket/prefix on srv with a fresh local cache.
func newStore(t *testing.T, srv s3Server, bucket, prefix string, ttl time.Duration, holder string) *s3store.Store {
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

// The tests below run the shared test bodies against MinIO; TestSeaweedFS
// runs them against SeaweedFS.

func TestStoreBasics(t *testing.T) { testStoreBasics(t, startMinIO(t)) }

func TestStoreErrors(t *testing.T) { testStoreErrors(t, startMinIO(t)) }

// TestChannelIncrementalRequests: adding one package to a channel of 20
// uploads that package once (to the pool), copies it server-side into the
// channel, and rewrites only metadata and state: no other package is
// uploaded or copied again.
func TestChannelIncrementalRequests(t *testing.T) { testChannel(t, startMinIO(t), 20) }

// TestConcurrentPublishers: two publishers (two machines: two stores, two
// caches) add to the same channel at once; one waits for the other's lock
// and nothing is lost.
func TestConcurrentPublishers(t *testing.T) { testConcurrentPublishers(t, startMinIO(t), 3) }

// TestLockExpiry: a lock left by a crashed publisher (not renewed) blocks
// --no-wait publishers until it expires, then is taken over; a held lock
// is renewed past its TTL.
func TestLockExpiry(t *testing.T) { testLock(t, startMinIO(t)) }

// testStoreBasics: writing, reading, server-side copies (with the metadata
// replaced), listing (with a delimiter, over several pages), walking,
// not-exist errors, removing, and the headers of the objects.
func testStoreBasics(t *testing.T, srv s3Server) {
	ctx := context.Background()
	s := newStore(t, srv, "rpms", "basics", 0, "")
	if err := s.WriteFile(ctx, "dev/repodata/repomd.xml", strings.NewReader("<repomd/>")); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB: spooled to a file (several SeaweedFS filer chunks)
	if err := s.WriteFile(ctx, "pool/ab/big.rpm", io.MultiReader(bytes.NewReader(big))); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Stat(ctx, "pool/ab/big.rpm"); err != nil || n != int64(len(big)) {
		t.Fatalf("Stat = %d, %v", n, err)
	}
	rc, err := s.Open(ctx, "dev/repodata/repomd.xml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "<repomd/>" {
		t.Fatalf("read back %q, %v", got, err)
	}

	// CopyObject, server side, with the metadata replaced.
	if err := s.Link(ctx, "pool/ab/big.rpm", "dev/Packages/big-1-1.noarch.rpm"); err != nil {
		t.Fatal(err)
	}
	rc, err = s.Open(ctx, "dev/Packages/big-1-1.noarch.rpm")
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("copy reads back %d bytes (%v), want the %d bytes of the source", len(got), err, len(big))
	}
	// A name that needs escaping in x-amz-copy-source.
	if err := s.WriteFile(ctx, "pool/cd/a+b c%.rpm", strings.NewReader("odd name")); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, "pool/cd/a+b c%.rpm", "dev/Packages/odd-1-1.noarch.rpm"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Stat(ctx, "dev/Packages/odd-1-1.noarch.rpm"); err != nil || n != int64(len("odd name")) {
		t.Fatalf("Stat(copy of an escaped name) = %d, %v", n, err)
	}

	// ListObjectsV2 with a delimiter: only the objects directly under the
	// directory, not those below a subdirectory.
	if err := s.WriteFile(ctx, "dev/Packages/sub/deeper.rpm", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	names, err := s.List(ctx, "dev/Packages")
	if err != nil || !slices.Equal(names, []string{"big-1-1.noarch.rpm", "odd-1-1.noarch.rpm"}) {
		t.Fatalf("List = %q, %v", names, err)
	}
	if names, err := s.List(ctx, "nothing/here"); err != nil || len(names) != 0 {
		t.Fatalf("List(missing dir) = %q, %v", names, err)
	}
	var walked []string
	if err := s.Walk(ctx, "", func(o s3store.Object) error {
		walked = append(walked, o.Name)
		if o.ETag == "" || o.ModTime.IsZero() {
			t.Errorf("Walk: %s has ETag %q, mtime %v", o.Name, o.ETag, o.ModTime)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"dev/Packages/big-1-1.noarch.rpm", "dev/Packages/odd-1-1.noarch.rpm", "dev/Packages/sub/deeper.rpm",
		"dev/repodata/repomd.xml", "pool/ab/big.rpm", "pool/cd/a+b c%.rpm"}
	if !slices.Equal(walked, want) {
		t.Errorf("Walk = %q, want %q", walked, want)
	}
	// More objects than one ListObjectsV2 page (1000).
	page := newStore(t, srv, "rpms", "paged", 0, "")
	const many = 1005
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range many {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := page.WriteFile(ctx, fmt.Sprintf("d/%04d", i), strings.NewReader("x")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if names, err := page.List(ctx, "d"); err != nil || len(names) != many || names[0] != "0000" || names[many-1] != fmt.Sprintf("%04d", many-1) {
		t.Errorf("List of %d objects: %d names, %v", many, len(names), err)
	}

	// Not-exist errors; Remove.
	if _, err := s.Open(ctx, "dev/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Stat(ctx, "dev/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.ObjectSHA256(ctx, "dev/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ObjectSHA256(missing) = %v, want fs.ErrNotExist", err)
	}
	if err := s.Remove(ctx, "dev/missing"); err != nil {
		t.Errorf("Remove(missing) = %v", err)
	}
	if err := s.Link(ctx, "pool/missing.rpm", "dev/Packages/x.rpm"); err == nil {
		t.Error("Link from a missing object succeeded")
	} else {
		t.Logf("Link from a missing object: %v", err)
	}
	if err := s.Remove(ctx, "dev/Packages/sub/deeper.rpm"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "dev/Packages/sub/deeper.rpm"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Remove = %v, want fs.ErrNotExist", err)
	}
	if names, err := s.List(ctx, "dev/Packages/sub"); err != nil || len(names) != 0 {
		t.Errorf("List of an emptied dir = %q, %v", names, err)
	}
	// SeaweedFS keeps objects in a file tree: no directory entry may show
	// up as an object once its last object is gone.
	walked = nil
	if err := s.Walk(ctx, "dev/Packages", func(o s3store.Object) error {
		walked = append(walked, o.Name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(walked, []string{"dev/Packages/big-1-1.noarch.rpm", "dev/Packages/odd-1-1.noarch.rpm"}) {
		t.Errorf("Walk(dev/Packages) after removing sub/deeper.rpm = %q", walked)
	}

	// Cache-Control and Content-Type, also on copies (MetadataDirective
	// REPLACE).
	for name, want := range map[string][2]string{
		"dev/repodata/repomd.xml":         {"no-cache", "application/xml"},
		"pool/ab/big.rpm":                 {"immutable", "application/x-rpm"},
		"dev/Packages/big-1-1.noarch.rpm": {"immutable", "application/x-rpm"},
	} {
		out, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rpms"), Key: aws.String("basics/" + name)})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(aws.ToString(out.CacheControl), want[0]) {
			t.Errorf("%s: Cache-Control %q, want %q", name, aws.ToString(out.CacheControl), want[0])
		}
		if aws.ToString(out.ContentType) != want[1] {
			t.Errorf("%s: Content-Type %q, want %q", name, aws.ToString(out.ContentType), want[1])
		}
	}
	for _, bad := range []string{"../x", "/abs", "a/../b", ""} {
		if err := s.WriteFile(ctx, bad, strings.NewReader("x")); err == nil {
			t.Errorf("WriteFile(%q) succeeded", bad)
		}
	}
}

// testStoreErrors: a missing bucket, wrong credentials and anonymous
// requests give clear one-line errors, without the secret.
func testStoreErrors(t *testing.T, srv s3Server) {
	ctx := context.Background()
	// No such bucket: reading, and writing (no bucket is created on upload).
	s := newStore(t, srv, "nobucket", "x", 0, "")
	if _, err := s.Open(ctx, "repodata/repomd.xml"); err == nil || !strings.Contains(err.Error(), `bucket "nobucket" does not exist`) {
		t.Errorf("missing bucket, read: %v", err)
	}
	if err := s.WriteFile(ctx, "repodata/repomd.xml", strings.NewReader("x")); err == nil || !strings.Contains(err.Error(), `bucket "nobucket" does not exist`) {
		t.Errorf("missing bucket, write: %v", err)
	}
	// Wrong credentials: a clear error, the secret not in it.
	for _, c := range []struct{ what, id, secret string }{
		{"unknown key", "AKIAWRONG", "wrong-secret-value"},
		{"wrong secret", srv.AccessKey, "wrong-secret-value"},
	} {
		bad := srv.Client(func(o *s3.Options) {
			o.Credentials = aws.NewCredentialsCache(staticCreds{c.id, c.secret})
			o.RetryMaxAttempts = 1
		})
		sb, err := s3store.Open(ctx, "s3://rpms/acme", s3store.Options{Client: bad, CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		err = sb.WriteFile(ctx, "x", strings.NewReader("x"))
		if err == nil || !strings.Contains(err.Error(), "access denied") || strings.Contains(err.Error(), "wrong-secret-value") {
			t.Errorf("%s: %v", c.what, err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", c.what, err)
		}
	}
	// Anonymous requests are refused too (no bucket policy; SeaweedFS
	// has no anonymous identity).
	for _, method := range []string{http.MethodPut, http.MethodGet} {
		req, _ := http.NewRequestWithContext(ctx, method, srv.Endpoint+"/rpms/anonymous", strings.NewReader("x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous %s: %s, want 403 Forbidden", method, resp.Status)
		}
	}
}

type staticCreds struct{ id, secret string }

func (c staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: c.id, SecretAccessKey: c.secret, Source: "test"}, nil
}

// testLock: a held lock is renewed past its TTL; a lock left by a crashed
// publisher (not renewed) blocks --no-wait publishers until it expires,
// then is taken over; an unreadable lock counts as expired.
func testLock(t *testing.T, srv s3Server) {
	ctx := context.Background()
	ttl := 1500 * time.Millisecond
	a := newStore(t, srv, "rpms", "locked", ttl, "A")
	b := newStore(t, srv, "rpms", "locked", ttl, "B")
	unlock, err := a.Lock(ctx, true, false)
	if err != nil {
		if strings.Contains(err.Error(), "ignores conditional writes") {
			t.Fatalf("the server ignores If-None-Match, the probe refused it: %v", err)
		}
		t.Fatal(err)
	}
	t.Log("Lock: the conditional-write probe passed")
	if _, err := b.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) || !strings.Contains(err.Error(), "A holds") {
		t.Fatalf("B took a held lock: %v", err)
	}
	time.Sleep(2 * ttl) // A renews it meanwhile (If-Match)
	if _, err := b.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) || !strings.Contains(err.Error(), "A holds") {
		t.Fatalf("B took a renewed lock: %v", err)
	}
	unlock()
	key := aws.String("locked/" + s3store.LockName)
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rpms"), Key: key}); err == nil {
		t.Error("the lock object is still there after A's unlock")
	}
	unlockB, err := b.Lock(ctx, true, true)
	if err != nil {
		t.Fatalf("B after A released: %v", err)
	}
	unlockB()

	// A crash: the lock object stays and nobody renews it.
	crashed := `{"holder":"crashed","expires":"` + time.Now().Add(ttl).UTC().Format(time.RFC3339Nano) + `"}`
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rpms"), Key: key,
		Body: strings.NewReader(crashed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) || !strings.Contains(err.Error(), "crashed holds") {
		t.Fatalf("B took a live lock: %v", err)
	}
	start := time.Now()
	unlockB, err = b.Lock(ctx, true, false) // waits for the expiry, takes over with If-Match
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("took over the crashed lock after %v", time.Since(start).Round(time.Millisecond))
	// Now B holds it: A is refused.
	if _, err := a.Lock(ctx, true, true); !errors.Is(err, channel.ErrLocked) || !strings.Contains(err.Error(), "B holds") {
		t.Errorf("A took B's lock: %v", err)
	}
	unlockB()
	if _, err := srv.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rpms"), Key: key}); err == nil {
		t.Error("the lock object is still there after B's unlock")
	}
	// A lock object that is not JSON counts as expired and is taken over.
	if _, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rpms"), Key: key,
		Body: strings.NewReader("garbage")}); err != nil {
		t.Fatal(err)
	}
	unlockA, err := a.Lock(ctx, true, true)
	if err != nil {
		t.Fatalf("taking over an unreadable lock: %v", err)
	}
	unlockA()
}

// testChannel: adding one package to a channel of n uploads that package
// once (to the pool), copies it server-side into the channel, and rewrites
// only metadata and state; re-adding changes nothing; a fresh machine
// promotes and checks.
func testChannel(t *testing.T, srv s3Server, n int) {
	ctx := context.Background()
	s := newStore(t, srv, "rpms", "acme", 0, "")
	k := testKey(t)
	r := openRoot(t, s, k)
	src := t.TempDir()
	var files, names []string
	for i := range n {
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
	// Re-adding changes nothing.
	if res, err := r.Add(ctx, "dev", []string{extra}, channel.AddOptions{}); err != nil {
		t.Fatal(err)
	} else if res.Snapshot != nil {
		t.Errorf("re-adding made revision %d", res.Snapshot.Revision)
	}
	if ops := s.Ops(); len(ops) != 0 {
		t.Errorf("re-adding changed %q", ops)
	}
	// A fresh machine (empty local cache) promotes and checks.
	s2 := newStore(t, srv, "rpms", "acme", 0, "")
	r2 := openRoot(t, s2, k)
	if _, err := r2.Promote(ctx, "dev", "prod", []string{"newpkg"}, channel.PromoteOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := channel.CheckStore(ctx, s2, r2.Config, "s3://rpms/acme")
	if err != nil {
		t.Fatal(err)
	}
	published := map[string]bool{}
	for _, c := range res.Channels {
		t.Logf("channel %s: revision %d, %d packages, repomd %q", c.Channel, c.Revision, c.Packages, c.Repomd)
		if c.Channel != "dev" && c.Channel != "prod" {
			continue // staging: never published to here
		}
		published[c.Channel] = true
		if c.Packages != len(files)+1 || c.Pending || c.Repomd == "" {
			t.Errorf("channel %s publishes %d packages (pending %v, repomd %q), want %d", c.Channel, c.Packages, c.Pending, c.Repomd, len(files)+1)
		}
	}
	if !published["dev"] || !published["prod"] {
		t.Errorf("CheckStore checked %v, want dev and prod", published)
	}
	pkgs, _, err := r2.Packages(ctx, "prod", 0)
	if err != nil || len(pkgs) != len(files)+1 {
		t.Fatalf("prod has %d packages (%v), want %d", len(pkgs), err, len(files)+1)
	}
}

// testConcurrentPublishers: two publishers (two stores, two caches) add n
// packages each to the same channel at once; the lock serialises them and
// nothing is lost.
func testConcurrentPublishers(t *testing.T, srv s3Server, n int) {
	ctx := context.Background()
	k := testKey(t)
	src := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range 2 {
		s := newStore(t, srv, "rpms", "together", 0, fmt.Sprintf("publisher %d", w))
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
	s := newStore(t, srv, "rpms", "together", 0, "")
	r := openRoot(t, s, k)
	h, err := r.History(ctx, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) == 0 {
		t.Fatal("dev has no history")
	}
	if len(h) != 2*n || h[len(h)-1].Packages != 2*n {
		t.Errorf("history: %d revisions, the last with %d packages; want %d and %d", len(h), h[len(h)-1].Packages, 2*n, 2*n)
	}
	res, err := channel.CheckStore(ctx, s, r.Config, "s3://rpms/together")
	if err != nil {
		t.Fatal(err)
	}
	if res.Channels[0].Packages != 2*n {
		t.Errorf("dev publishes %d packages, want %d", res.Channels[0].Packages, 2*n)
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
