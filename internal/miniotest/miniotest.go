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
package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("miniotest: $%s: %w", BinaryEnv, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	var tried []string
	for _, dir := range cacheDirs() {
		p := filepath.Join(dir, "rpmforge-ci", "bin", "minio")
		if executable(p) == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("miniotest: no MinIO binary: $%s unset, no minio on $PATH, none at %s",
		BinaryEnv, strings.Join(tried, " or "))
}

// cacheDirs lists where scripts/ci-minio.sh may have put its cache:
// $XDG_CACHE_HOME when set, and $HOME/.cache.
func cacheDirs() []string {
	var dirs []string
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		dirs = append(dirs, d)
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, ".cache"))
	}
	return dirs
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return &fs.PathError{Op: "exec", Path: p, Err: fs.ErrPermission}
	}
	return nil
}

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
	out         *lockedBuffer

	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one run of the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result, valid after done
}

// Start starts a MinIO server for t and waits until it serves signed
// requests. It skips t when no binary is found (see [Binary]), or fails it
// when RPMFORGE_TESTROOT=require. The server is killed when t ends; its
// output is logged if t failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("%v; run scripts/ci-minio.sh to build it (or set $%s)", err, BinaryEnv)
		if os.Getenv(requireEnv) == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	base := t.TempDir()
	s := &Server{
		AccessKey: "rpmforge-" + strings.ToLower(rand.Text()[:8]),
		SecretKey: rand.Text(),
		Region:    "us-east-1",
		bin:       bin,
		dataDir:   filepath.Join(base, "data"),
		certsDir:  filepath.Join(base, "certs"),
		out:       &lockedBuffer{},
	}
	for _, d := range []string{s.dataDir, s.certsDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatalf("miniotest: %v", err)
		}
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("miniotest: output of %s:\n%s", s.bin, s.out.String())
		}
	})

	// A port found free may be taken before MinIO binds it; on an early
	// exit, try again with fresh ports.
	const attempts = 3
	for i := 1; ; i++ {
		s.addr, s.consoleAddr = freeAddr(t), freeAddr(t)
		s.Endpoint = "http://" + s.addr
		err = s.start()
		if err == nil {
			return s
		}
		var exited *earlyExitError
		if i == attempts || !errors.As(err, &exited) {
			t.Fatalf("miniotest: %v", err)
		}
		t.Logf("miniotest: attempt %d: %v; retrying", i, err)
	}
}

// Client returns an S3 client for the server: static root credentials,
// path-style addressing and Endpoint as base endpoint. optFns adjust its
// options further (for instance the Retryer).
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}, optFns...)
}

// CreateBucket creates bucket name, failing t on error.
func (s *Server) CreateBucket(t testing.TB, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("miniotest: create bucket %q: %v", name, err)
	}
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
func (s *Server) URL(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return s.Endpoint + "/" + url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

// Env returns environment entries (KEY=value) that point an AWS SDK based
// program at the server: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION and AWS_ENDPOINT_URL_S3. The program must still use path-style
// addressing.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_ENDPOINT_URL_S3=" + s.Endpoint,
	}
}

// Stop kills the server (SIGKILL to its process group, as a crash or a cut
// network would look to a client) and waits for it to exit. Its data stays
// for [Server.Restart]. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p == nil {
		return
	}
	killGroup(p.cmd)
	<-p.done
}

// Restart starts the server again, on the same port with the same data and
// credentials, and waits until it is ready, failing t otherwise. A running
// server is stopped first.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		t.Fatalf("miniotest: restart: %v", err)
	}
}

// earlyExitError reports that the server exited before it was ready.
type earlyExitError struct{ err error }

func (e *earlyExitError) Error() string {
	return fmt.Sprintf("minio exited before it was ready: %v", e.err)
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin, "server",
		"--address", s.addr,
		"--console-address", s.consoleAddr,
		"--certs-dir", s.certsDir,
		"--quiet",
		s.dataDir)
	cmd.Env = append(environWithout("MINIO_"),
		"MINIO_ROOT_USER="+s.AccessKey,
		"MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_SITE_REGION="+s.Region,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
	)
	cmd.Stdout = s.out
	cmd.Stderr = s.out
	cmd.WaitDelay = 5 * time.Second
	setProcAttr(cmd)
	fmt.Fprintf(s.out, "--- %s %s\n", time.Now().Format(time.TimeOnly), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.Stop()
		return err
	}
	return nil
}

// waitReady polls the server with a signed ListBuckets until it succeeds,
// the process exits, or ReadyTimeout passes.
func (s *Server) waitReady(p *process) error {
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	c := s.Client(func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.ListBuckets(actx, &s3.ListBucketsInput{})
		acancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-p.done:
			return &earlyExitError{err: p.err}
		case <-ctx.Done():
			return fmt.Errorf("minio at %s not ready after %v: %v", s.Endpoint, ReadyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("miniotest: find a free port: %v", err)
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
}

// environWithout returns os.Environ() minus the variables whose name starts
// with prefix, so that the caller's MinIO settings cannot leak in.
func environWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes and reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
