package miniotest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/rpmforge/rpmforge/internal/miniotest"
)

func TestServer(t *testing.T) {
	t0 := time.Now()
	srv := miniotest.Start(t)
	t.Logf("server at %s ready in %v", srv.Endpoint, time.Since(t0).Round(time.Millisecond))

	ctx := t.Context()
	c := srv.Client()
	const bucket, key, body = "repo", "el9/x86_64/repodata/repomd.xml", "<repomd/>"

	srv.CreateBucket(t, bucket)
	putObject(t, c, bucket, key, body)
	if got := getObject(t, c, bucket, key); got != body {
		t.Fatalf("GetObject = %q, want %q", got, body)
	}

	// Anonymous reads are refused until the bucket policy allows them.
	if code, _ := httpGet(t, srv.URL(bucket, key)); code != http.StatusForbidden {
		t.Fatalf("anonymous GET before policy: status %d, want 403", code)
	}
	srv.AllowAnonymousRead(t, bucket)
	if code, got := httpGet(t, srv.URL(bucket, key)); code != http.StatusOK || got != body {
		t.Fatalf("anonymous GET after policy: status %d body %q, want 200 %q", code, got, body)
	}

	// A create-only write (If-None-Match: *) of an existing key fails.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		Body:        strings.NewReader("other"),
		IfNoneMatch: aws.String("*"),
	})
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("conditional PutObject on existing key: %v, want HTTP 412", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" {
		t.Errorf("conditional PutObject error code: %v, want PreconditionFailed", err)
	}
	if got := getObject(t, c, bucket, key); got != body {
		t.Fatalf("object changed by failed conditional put: %q", got)
	}
	// It succeeds for a new key.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String("new"),
		Body:        strings.NewReader("n"),
		IfNoneMatch: aws.String("*"),
	})
	if err != nil {
		t.Fatalf("conditional PutObject on new key: %v", err)
	}

	// Stopped, the server refuses connections.
	srv.Stop()
	noRetry := srv.Client(func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := noRetry.HeadBucket(sctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
		t.Fatal("HeadBucket succeeded on a stopped server")
	} else {
		t.Logf("stopped server: %v", err)
	}
	srv.Stop() // idempotent

	// Restarted, it serves the same data, policy included.
	t0 = time.Now()
	srv.Restart(t)
	t.Logf("restarted in %v", time.Since(t0).Round(time.Millisecond))
	if got := getObject(t, c, bucket, key); got != body {
		t.Fatalf("GetObject after restart = %q, want %q", got, body)
	}
	if code, got := httpGet(t, srv.URL(bucket, key)); code != http.StatusOK || got != body {
		t.Fatalf("anonymous GET after restart: status %d body %q", code, got)
	}
}

func TestEnvAndURL(t *testing.T) {
	srv := &miniotest.Server{
		Endpoint:  "http://127.0.0.1:9000",
		AccessKey: "ak",
		SecretKey: "sk",
		Region:    "us-east-1",
	}
	want := []string{
		"AWS_ACCESS_KEY_ID=ak",
		"AWS_SECRET_ACCESS_KEY=sk",
		"AWS_REGION=us-east-1",
		"AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000",
	}
	if got := srv.Env(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env() = %q, want %q", got, want)
	}
	if got, want := srv.URL("b", "a dir/x+1.rpm"), "http://127.0.0.1:9000/b/a%20dir/x+1.rpm"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

func putObject(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	_, err := c.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   strings.NewReader(body),
	})
	if err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

func getObject(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s: read: %v", bucket, key, err)
	}
	return string(b)
}

// httpGet does an unsigned GET and returns the status code and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", url, err)
	}
	return resp.StatusCode, string(b)
}
