package seaweedtest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpmforge/rpmforge/internal/seaweedtest"
)

// TestStart: the server serves signed requests with its credentials only,
// and keeps its data over a restart.
func TestStart(t *testing.T) {
	srv := seaweedtest.Start(t)
	t.Logf("ready after %v", srv.Started)
	srv.CreateBucket(t, "bkt")
	ctx := context.Background()
	c := srv.Client()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k"), Body: strings.NewReader("v")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var buckets []string
	for _, b := range out.Buckets {
		buckets = append(buckets, aws.ToString(b.Name))
	}
	if len(buckets) != 1 || buckets[0] != "bkt" {
		t.Errorf("buckets %q, want only bkt (the readiness bucket removed)", buckets)
	}

	wrong := srv.Client(func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(srv.AccessKey, "not-the-secret", "")
		o.RetryMaxAttempts = 1
	})
	_, err = wrong.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("wrong secret: %v, want 403", err)
	}
	resp, err := http.Get(srv.Endpoint + "/bkt/k")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET: %s, want 403", resp.Status)
	}

	srv.Restart(t)
	t.Logf("restarted in %v", srv.Started)
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("k")})
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "v" {
		t.Errorf("after restart: %q", b)
	}
}
