// Package s3test holds what the test servers of internal/miniotest and
// internal/seaweedtest share: finding the server binary, skipping or
// failing when it is missing, running it in its own process group with
// its output kept for a failed test, free loopback ports, waiting until a
// real signed request succeeds, and S3 clients for the server.
//
// The servers are only ever run as separate processes: they are never
// linked into rpmforge.
package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Binary returns the path of the server binary name: $env when set, else
// name on $PATH, else ${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin/name,
// where the scripts/ci-*.sh scripts build it. Errors start with prefix
// ("miniotest") and name the server as what ("MinIO").
func Binary(prefix, name, env, what string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s: $%s: %w", prefix, env, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var tried []string
	for _, dir := range cacheDirs() {
		p := filepath.Join(dir, "rpmforge-ci", "bin", name)
		if executable(p) == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("%s: no %s binary: $%s unset, no %s on $PATH, none at %s",
		prefix, what, env, name, strings.Join(tried, " or "))
}

// cacheDirs lists where the scripts may have put their cache:
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

// NoBinary ends t for a missing server binary (err, from [Binary]): it
// fails t when require is true (as in CI), else skips it. hint tells how
// to get the binary.
func NoBinary(t testing.TB, err error, hint string, require bool) {
	t.Helper()
	msg := fmt.Sprintf("%v; %s", err, hint)
	if require {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Conn is where a server listens and the credentials it accepts.
type Conn struct {
	Endpoint  string // S3 API base URL, http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
}

// Client returns an S3 client for c: static credentials, path-style
// addressing and Endpoint as base endpoint. optFns adjust its options
// further (for instance the Retryer).
func (c Conn) Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		Region:       c.Region,
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
	}, optFns...)
}

// CreateBucket creates bucket name within timeout, failing t on error.
func (c Conn) CreateBucket(t testing.TB, name string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := c.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket %q: %v", name, err)
	}
}

// URL returns the path-style URL of an object, for plain (anonymous) HTTP
// requests. Each segment of key is escaped; its slashes are kept.
func (c Conn) URL(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return c.Endpoint + "/" + url.PathEscape(bucket) + "/" + strings.Join(segs, "/")
}

// Env returns environment entries (KEY=value) that point an AWS SDK based
// program at the server: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION and AWS_ENDPOINT_URL_S3. The program must still use path-style
// addressing.
func (c Conn) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + c.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretKey,
		"AWS_REGION=" + c.Region,
		"AWS_ENDPOINT_URL_S3=" + c.Endpoint,
	}
}

// Runner runs a server binary, one process at a time, keeping its output.
// The zero Runner is ready to use.
type Runner struct {
	out  LogBuffer
	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one run of the server binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result, valid after done
}

// Log returns what the server printed so far, each run headed by its
// command line.
func (r *Runner) Log() string { return r.out.String() }

// Logf adds a line to the log.
func (r *Runner) Logf(format string, args ...any) {
	fmt.Fprintf(&r.out, "--- "+format+"\n", args...)
}

// Cleanup makes t stop the server when it ends, and log its output if t
// failed. prefix starts the log line ("miniotest"), bin is the binary.
func (r *Runner) Cleanup(t testing.TB, prefix, bin string) {
	t.Cleanup(func() {
		r.Stop()
		if t.Failed() {
			t.Logf("%s: output of %s:\n%s", prefix, bin, r.Log())
		}
	})
}

// ReadyFunc tries once whether the server is ready: a real signed request.
type ReadyFunc func(ctx context.Context) error

// Start runs cmd in its own process group (on Linux it also dies with the
// test binary, even when cleanups never run), its output going to the
// log, and calls ready until it returns nil (every poll, each call bounded
// by attempt), the process exits (an [*EarlyExitError]) or timeout passes.
// On failure the process is stopped.
func (r *Runner) Start(cmd *exec.Cmd, timeout, poll, attempt time.Duration, ready ReadyFunc) error {
	cmd.Stdout = &r.out
	cmd.Stderr = &r.out
	cmd.WaitDelay = 5 * time.Second
	setProcAttr(cmd)
	r.Logf("%s %s", time.Now().Format(time.TimeOnly), strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		actx, acancel := context.WithTimeout(ctx, attempt)
		err := ready(actx)
		acancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			r.Stop()
			return &EarlyExitError{Name: filepath.Base(cmd.Path), Err: p.err}
		case <-ctx.Done():
			r.Stop()
			return fmt.Errorf("%s not ready after %v: %v", filepath.Base(cmd.Path), timeout, err)
		case <-time.After(poll):
		}
	}
}

// Stop kills the server (SIGKILL to its process group, as a crash or a cut
// network would look to a client) and waits for it to exit. Stopping a
// stopped server does nothing.
func (r *Runner) Stop() {
	r.mu.Lock()
	p := r.proc
	r.proc = nil
	r.mu.Unlock()
	if p == nil {
		return
	}
	killGroup(p.cmd)
	<-p.done
}

// EarlyExitError reports that the server exited before it was ready.
type EarlyExitError struct {
	Name string
	Err  error
}

func (e *EarlyExitError) Error() string {
	return fmt.Sprintf("%s exited before it was ready: %v", e.Name, e.Err)
}

// Restart calls stop, then start, failing t when start does. prefix
// starts the message ("miniotest").
func Restart(t testing.TB, prefix string, stop func(), start func() error) {
	t.Helper()
	stop()
	if err := start(); err != nil {
		t.Fatalf("%s: restart: %v", prefix, err)
	}
}

// Retry calls start up to attempts times while it fails with an
// [*EarlyExitError] (a port found free may be taken before the server
// binds it: each call should pick fresh ports), failing t otherwise.
func Retry(t testing.TB, prefix string, attempts int, start func() error) {
	t.Helper()
	for i := 1; ; i++ {
		err := start()
		if err == nil {
			return
		}
		var exited *EarlyExitError
		if i == attempts || !errors.As(err, &exited) {
			t.Fatalf("%s: %v", prefix, err)
		}
		t.Logf("%s: attempt %d: %v; retrying", prefix, i, err)
	}
}

// FreePorts returns n loopback ports that were free a moment ago, all
// different.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("find a free port: %v", err)
		}
		defer l.Close() // held until all are chosen, so none repeats
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// EnvironWithout returns os.Environ() minus the variables whose name
// starts with one of prefixes, so that the caller's settings cannot leak
// into the server.
func EnvironWithout(prefixes ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return env
}

// LogBuffer is a bytes.Buffer safe for concurrent writes and reads.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
