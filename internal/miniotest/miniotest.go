// Package miniotest starts a real MinIO server on loopback for Go tests.
//
// Tests that talk S3 run against an actual object store rather than a mock:
// [Start] launches a private MinIO process with its own data directory,
// random root credentials and free loopback ports, waits until a signed
// request succeeds, and stops it when the test ends.
//
// The MinIO binary is found by [Binary]. When it is missing the test is
// skipped (or fails, with RPMFORGE_TESTROOT=require, as in CI); run
// scripts/ci-minio.sh to build it into the cache. MinIO is AGPL-3.0 and is
// only ever run as a separate process: it is never linked into rpmforge.
// What it shares with internal/seaweedtest lives in internal/s3test.
package miniotest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpmforge/rpmforge/internal/s3test"
)

// BinaryEnv names the environment variable that, when set, gives the path of
// the MinIO binary to use.
const BinaryEnv = "RPMFORGE_MINIO"

// requireEnv, set to "require" (as in CI), turns a missing binary into a test
// failure instead of a skip. It is the variable internal/testroot uses.
const requireEnv = "RPMFORGE_TESTROOT"

// ReadyTimeout bounds how long Start and Restart wait for the server to
// answer a signed request.
const ReadyTimeout = 30 * time.Second

// Binary returns the path of the MinIO server binary: $RPMFORGE_MINIO when
// set, else "minio" on $PATH, else the copy scripts/ci-minio.sh builds into
// ${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin/minio.
func Binary() (string, error) { return s3test.Binary("miniotest", "minio", BinaryEnv, "MinIO") }

// Server is a running MinIO server owned by one test.
type Server struct {
	// Endpoint is the S3 API base URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the server's root credentials.
	AccessKey string
	SecretKey string
	// Region is the signing region, "us-east-1".
	Region string

	bin         string
	addr        string // host:port of the S3 API
	consoleAddr string // host:port of the (disabled) console
	dataDir     string
	certsDir    string
	run         s3test.Runner
}

// Start starts a MinIO server for t and waits until it serves signed
// requests. It skips t when no binary is found (see [Binary]), or fails it
// when RPMFORGE_TESTROOT=require. The server is killed when t ends; its
// output is logged if t failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		s3test.NoBinary(t, err, fmt.Sprintf("run scripts/ci-minio.sh to build it (or set $%s)", BinaryEnv),
			os.Getenv(requireEnv) == "require")
	}

	base := t.TempDir()
	s := &Server{
		AccessKey: "rpmforge-" + strings.ToLower(rand.Text()[:8]),
		SecretKey: rand.Text(),
		Region:    "us-east-1",
		bin:       bin,
		dataDir:   filepath.Join(base, "data"),
		certsDir:  filepath.Join(base, "certs"),
	}
	for _, d := range []string{s.dataDir, s.certsDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("miniotest: %v", err)
		}
	}
	s.run.Cleanup(t, "miniotest", s.bin)
	s3test.Retry(t, "miniotest", 3, func() error {
		ports := s3test.FreePorts(t, 2)
		s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
		s.consoleAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1]))
		s.Endpoint = "http://" + s.addr
		return s.start()
	})
	return s
}

func (s *Server) conn() s3test.Conn {
	return s3test.Conn{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
}

// Client returns an S3 client for the server: static root credentials,
// path-style addressing and Endpoint as base endpoint. optFns adjust its
// options further (for instance the Retryer).
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client { return s.conn().Client(optFns...) }

// CreateBucket creates bucket name, failing t on error.
func (s *Server) CreateBucket(t testing.TB, name string) {
	s.conn().CreateBucket(t, name, ReadyTimeout)
}

// AllowAnonymousRead sets a bucket policy letting anyone GET the objects of
// bucket (s3:GetObject for Principal "*"), failing t on error.
func (s *Server) AllowAnonymousRead(t testing.TB, bucket string) {
	t.Helper()
	policy := fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": ["*"]},
    "Action": ["s3:GetObject"],
    "Resource": ["arn:aws:s3:::%s/*"]
  }]
}`, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	_, err := s.Client().PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
		Bucket: aws.String(bucket),
		Policy: aws.String(policy),
	})
	if err != nil {
		t.Fatalf("miniotest: allow anonymous read on %q: %v", bucket, err)
	}
}

// URL returns the path-style URL of an object, for plain (anonymous) HTTP
// requests. Each segment of key is escaped; its slashes are kept.
func (s *Server) URL(bucket, key string) string { return s.conn().URL(bucket, key) }

// Env returns environment entries (KEY=value) that point an AWS SDK based
// program at the server: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION and AWS_ENDPOINT_URL_S3. The program must still use path-style
// addressing.
func (s *Server) Env() []string { return s.conn().Env() }

// Stop kills the server (SIGKILL to its process group, as a crash or a cut
// network would look to a client) and waits for it to exit. Its data stays
// for [Server.Restart]. Stopping a stopped server does nothing.
func (s *Server) Stop() { s.run.Stop() }

// Restart starts the server again, on the same port with the same data and
// credentials, and waits until it is ready, failing t otherwise. A running
// server is stopped first.
func (s *Server) Restart(t testing.TB) { s3test.Restart(t, "miniotest", s.Stop, s.start) }

// start runs the server and polls it with a signed ListBuckets until it
// succeeds.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, "server",
		"--address", s.addr,
		"--console-address", s.consoleAddr,
		"--certs-dir", s.certsDir,
		"--quiet",
		s.dataDir)
	// The caller's MinIO settings cannot leak in.
	cmd.Env = append(s3test.EnvironWithout("MINIO_"),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_SITE_REGION="+s.Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	c := s.Client(func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	return s.run.Start(cmd, ReadyTimeout, 50*time.Millisecond, 2*time.Second, func(ctx context.Context) error {
		_, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	})
}
