package s3store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpmforge/rpmforge/internal/seaweedtest"
)

// TestSeaweedFS runs the store against a second real object store,
// SeaweedFS (internal/seaweedtest), to prove what pkg/s3store relies on is
// not MinIO-specific: the shared test bodies of store_test.go (bucket
// creation, PUT/GET/HEAD/DELETE, server-side CopyObject with replaced
// metadata, ListObjectsV2 with a delimiter, the lock, channels, refused
// credentials), and the SeaweedFS-specific checks below: conditional PUT
// (If-None-Match: *, If-Match) and DELETE (If-Match), and a key that is
// also a prefix. One server serves all the subtests: it takes some seconds
// to start.
func TestSeaweedFS(t *testing.T) {
	srv := seaweedtest.Start(t)
	t.Logf("SeaweedFS at %s ready after %v", srv.Endpoint, srv.Started.Round(time.Millisecond))
	srv.CreateBucket(t, "rpms")
	ss := s3Server{Endpoint: srv.Endpoint, AccessKey: srv.AccessKey, Client: srv.Client}

	t.Run("Basics", func(t *testing.T) { testStoreBasics(t, ss) })
	t.Run("Errors", func(t *testing.T) { testStoreErrors(t, ss) })
	t.Run("Conditional", func(t *testing.T) { seaweedConditional(t, ss) })
	t.Run("Lock", func(t *testing.T) { testLock(t, ss) })
	t.Run("KeyAndPrefix", func(t *testing.T) { seaweedKeyAndPrefix(t, ss) })
	t.Run("Channel", func(t *testing.T) { testChannel(t, ss, 5) })
	t.Run("ConcurrentPublishers", func(t *testing.T) { testConcurrentPublishers(t, ss, 2) })
}

// seaweedConditional checks the conditional requests the lock is built on
// directly, so that a failure says which one the server gets wrong.
func seaweedConditional(t *testing.T, srv s3Server) {
	ctx := context.Background()
	c := srv.Client(func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	bucket := aws.String("rpms")
	put := func(key, ifNoneMatch, ifMatch string) (string, error) {
		in := &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: strings.NewReader(key + time.Now().String())}
		if ifNoneMatch != "" {
			in.IfNoneMatch = aws.String(ifNoneMatch)
		}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		out, err := c.PutObject(ctx, in)
		if err != nil {
			return "", err
		}
		return aws.ToString(out.ETag), nil
	}
	status := func(err error) int {
		var re interface{ HTTPStatusCode() int }
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}

	// If-None-Match: * creates once.
	tag, err := put("cond/a", "*", "")
	if err != nil {
		t.Fatalf("If-None-Match: * on a new key: %v", err)
	}
	if _, err := put("cond/a", "*", ""); status(err) != http.StatusPreconditionFailed {
		t.Errorf("If-None-Match: * on an existing key: %v, want 412 (SeaweedFS ignores If-None-Match?)", err)
	} else {
		t.Logf("If-None-Match: * on an existing key: 412, honoured")
	}
	// If-Match replaces only the version named.
	if _, err := put("cond/a", "", `"0123456789abcdef0123456789abcdef"`); status(err) != http.StatusPreconditionFailed {
		t.Errorf("If-Match with another ETag: %v, want 412 (SeaweedFS ignores If-Match?)", err)
	} else {
		t.Logf("If-Match with another ETag: 412, honoured")
	}
	tag2, err := put("cond/a", "", tag)
	if err != nil {
		t.Fatalf("If-Match with the current ETag: %v", err)
	}
	if tag2 == tag {
		t.Errorf("the ETag did not change on a new content: %s", tag)
	}
	if _, err := put("cond/a", "", tag); status(err) != http.StatusPreconditionFailed {
		t.Errorf("If-Match with the previous ETag: %v, want 412", err)
	}
	if _, err := put("cond/missing", "", tag); err == nil {
		t.Errorf("If-Match on a missing key succeeded")
	} else {
		t.Logf("If-Match on a missing key: HTTP %d (%v)", status(err), err)
	}
	// DeleteObject with If-Match (used by unlock).
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("cond/a"), IfMatch: aws.String(tag)})
	if status(err) != http.StatusPreconditionFailed {
		t.Errorf("DELETE If-Match with a stale ETag: %v, want 412", err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("cond/a"), IfMatch: aws.String(tag2)}); err != nil {
		t.Errorf("DELETE If-Match with the current ETag: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("cond/a")}); status(err) != http.StatusNotFound {
		t.Errorf("after DELETE If-Match: HEAD %v, want 404", err)
	}

	// Racing creates: exactly one wins.
	for round := range 3 {
		key := fmt.Sprintf("cond/race-%d", round)
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := put(key, "*", "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case status(err) == http.StatusPreconditionFailed || status(err) == http.StatusConflict:
					lost++
				default:
					t.Errorf("racing If-None-Match: *: %v", err)
				}
			}()
		}
		began := time.Now()
		close(start)
		wg.Wait()
		t.Logf("round %d: %d racing If-None-Match: * creates: %d succeeded, %d refused, in %v", round, n, won, lost, time.Since(began).Round(time.Millisecond))
		if won != 1 {
			t.Errorf("round %d: %d of %d racing If-None-Match: * creates succeeded (%d refused), want exactly 1", round, won, n, lost)
		}
	}
}

// seaweedKeyAndPrefix: SeaweedFS keeps objects as files in a directory
// tree, yet a key may also be the prefix of other keys ("a" and "a/b"), as
// S3 allows, in either order. (rpmforge's layout does not rely on it.)
func seaweedKeyAndPrefix(t *testing.T, srv s3Server) {
	ctx := context.Background()
	c := srv.Client(func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	bucket := aws.String("rpms")
	put := func(key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String(key), Body: strings.NewReader(key)})
		return err
	}
	if err := put("kp/dir/file"); err != nil {
		t.Fatal(err)
	}
	if err := put("kp/dir"); err != nil {
		t.Errorf("PUT kp/dir when kp/dir/file exists: %v", err)
	}
	if err := put("kp/file"); err != nil {
		t.Fatal(err)
	}
	if err := put("kp/file/x"); err != nil {
		t.Errorf("PUT kp/file/x when kp/file exists: %v", err)
	}
	for _, key := range []string{"kp/dir", "kp/dir/file", "kp/file", "kp/file/x"} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String(key)})
		if err != nil {
			t.Errorf("GET %s: %v", key, err)
			continue
		}
		b, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || string(b) != key {
			t.Errorf("GET %s: %q, %v", key, b, err)
		}
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: bucket, Prefix: aws.String("kp/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	if want := []string{"kp/dir", "kp/dir/file", "kp/file", "kp/file/x"}; !slices.Equal(keys, want) {
		t.Errorf("LIST kp/ = %q, want %q", keys, want)
	}
}
