// Package seaweedtest starts a real SeaweedFS server on loopback for Go
// tests.
//
// It is the second real object store the S3 code is tested against (the
// first is MinIO, see internal/miniotest): [Start] launches a private
// `weed server` (master, volume server, filer and S3 gateway in one
// process) with its own data directory, free loopback ports and an S3
// identity file holding random credentials, so that unsigned or wrongly
// signed requests are refused. It waits until a signed PUT succeeds (the
// first write only works some seconds after the ports are open) and kills
// the server when the test ends.
//
// The weed binary is found by [Binary]. When it is missing the test is
// skipped, or fails when RPMFORGE_SEAWEEDFS_REQUIRE=1; run
// scripts/ci-seaweedfs.sh to build it into the cache (several minutes).
// SeaweedFS is Apache-2.0 and is only ever run as a separate process: it is
// never linked into rpmforge.
package seaweedtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
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
	"github.com/aws/smithy-go"

	"github.com/rpmforge/rpmforge/internal/s3test"
)

// BinaryEnv names the environment variable that, when set, gives the path of
// the weed binary to use.
const BinaryEnv = "RPMFORGE_SEAWEEDFS"

// RequireEnv, set to 1, turns a missing binary into a test failure instead
// of a skip. (It is separate from RPMFORGE_TESTROOT because building weed
// takes minutes: CI opts in on its own.)
const RequireEnv = "RPMFORGE_SEAWEEDFS_REQUIRE"

// ReadyTimeout bounds how long Start and Restart wait for the server to
// accept a signed PUT. SeaweedFS needs about 11 s on an idle machine (the
// master must see the volume server and grow volumes first).
const ReadyTimeout = 90 * time.Second

// readyBucket is the bucket the readiness probe writes to; it is removed
// once the server is ready.
const readyBucket = "seaweedtest-ready"

// Binary returns the path of the weed binary: $RPMFORGE_SEAWEEDFS when set,
// else "weed" on $PATH, else the copy scripts/ci-seaweedfs.sh builds into
// ${XDG_CACHE_HOME:-$HOME/.cache}/rpmforge-ci/bin/weed.
func Binary() (string, error) { return s3test.Binary("seaweedtest", "weed", BinaryEnv, "SeaweedFS") }

// Server is a running SeaweedFS server owned by one test.
type Server struct {
	// Endpoint is the S3 API base URL, http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the credentials of the server's only S3
	// identity, which may do everything (Admin).
	AccessKey string
	SecretKey string
	// Region is the signing region, "us-east-1" (SeaweedFS accepts any).
	Region string
	// Started is how long the last start took, until a signed PUT
	// succeeded.
	Started time.Duration

	bin     string
	baseDir string // working directory, $HOME and config directory
	dataDir string
	s3Conf  string
	ports   ports
	run     s3test.Runner
}

// ports are the loopback ports of one server: HTTP and gRPC of each part.
type ports struct {
	master, masterGrpc int
	volume, volumeGrpc int
	filer, filerGrpc   int
	s3, s3Grpc         int
}

// Start starts a SeaweedFS server for t and waits until it accepts a signed
// PUT. It skips t when no binary is found (see [Binary]), or fails it when
// RPMFORGE_SEAWEEDFS_REQUIRE=1. The server is killed when t ends; its output
// is logged if t failed.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		v := os.Getenv(RequireEnv)
		s3test.NoBinary(t, err, fmt.Sprintf("run scripts/ci-seaweedfs.sh to build it (or set $%s)", BinaryEnv),
			v != "" && v != "0")
	}

	base := t.TempDir()
	s := &Server{
		AccessKey: "rpmforge" + strings.ToUpper(rand.Text()[:12]),
		SecretKey: rand.Text(),
		Region:    "us-east-1",
		bin:       bin,
		baseDir:   base,
		dataDir:   filepath.Join(base, "data"),
		s3Conf:    filepath.Join(base, "s3.json"),
	}
	if err := os.Mkdir(s.dataDir, 0o700); err != nil {
		t.Fatalf("seaweedtest: %v", err)
	}
	if err := s.writeS3Config(); err != nil {
		t.Fatalf("seaweedtest: %v", err)
	}
	s.run.Cleanup(t, "seaweedtest", s.bin)
	// A port found free may be taken before weed binds it: each attempt
	// takes fresh ports.
	s3test.Retry(t, "seaweedtest", 3, func() error {
		s.ports = freePorts(t)
		s.Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.s3))
		return s.start()
	})
	return s
}

// writeS3Config writes the S3 identity file: one identity with the server's
// credentials and every right, and no anonymous identity, so that requests
// without (or with other) credentials are refused.
func (s *Server) writeS3Config() error {
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	conf := struct {
		Identities []identity `json:"identities"`
	}{[]identity{{
		Name:        "rpmforge",
		Credentials: []credential{{AccessKey: s.AccessKey, SecretKey: s.SecretKey}},
		Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(s.s3Conf, b, 0o600)
}

func (s *Server) conn() s3test.Conn {
	return s3test.Conn{Endpoint: s.Endpoint, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Region: s.Region}
}

// Client returns an S3 client for the server: static credentials, path-style
// addressing and Endpoint as base endpoint. optFns adjust its options
// further (for instance the Retryer).
func (s *Server) Client(optFns ...func(*s3.Options)) *s3.Client { return s.conn().Client(optFns...) }

// CreateBucket creates bucket name, failing t on error.
func (s *Server) CreateBucket(t testing.TB, name string) {
	s.conn().CreateBucket(t, name, ReadyTimeout)
}

// Env returns environment entries (KEY=value) that point an AWS SDK based
// program at the server: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION and AWS_ENDPOINT_URL_S3. The program must still use path-style
// addressing.
func (s *Server) Env() []string { return s.conn().Env() }

// Stop kills the server (SIGKILL to its process group) and waits for it to
// exit. Its data stays for [Server.Restart]. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	s.run.Stop()
	// weed server puts its gRPC Unix sockets in /tmp, named by port; a
	// killed server leaves them behind.
	for name, port := range map[string]int{"master": s.ports.masterGrpc, "volume": s.ports.volumeGrpc,
		"filer": s.ports.filerGrpc, "s3": s.ports.s3Grpc} {
		os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, port))
	}
}

// Restart starts the server again, on the same ports with the same data and
// credentials, and waits until it is ready, failing t otherwise. A running
// server is stopped first.
func (s *Server) Restart(t testing.TB) { s3test.Restart(t, "seaweedtest", s.Stop, s.start) }

func (s *Server) start() error {
	p := s.ports
	args := []string{
		"-logtostderr",
		"-config_dir=" + s.baseDir,
		"server",
		"-dir=" + s.dataDir,
		"-ip=127.0.0.1",
		"-ip.bind=127.0.0.1",
		"-master.telemetry=false",
		// A single master: no election to wait for. (The default, 10s,
		// delays a restart on existing data by as much.)
		"-master.electionTimeout=1s",
		"-master.port=" + strconv.Itoa(p.master),
		"-master.port.grpc=" + strconv.Itoa(p.masterGrpc),
		// Each bucket is a collection, for which the master grows several
		// volumes at its first write: allow many small ones (nothing is
		// preallocated), or the second bucket finds no free volume.
		"-master.volumeSizeLimitMB=64",
		"-volume.port=" + strconv.Itoa(p.volume),
		"-volume.port.grpc=" + strconv.Itoa(p.volumeGrpc),
		"-volume.max=100",
		"-volume.preStopSeconds=0",
		"-filer",
		"-filer.port=" + strconv.Itoa(p.filer),
		"-filer.port.grpc=" + strconv.Itoa(p.filerGrpc),
		"-s3",
		"-s3.port=" + strconv.Itoa(p.s3),
		"-s3.port.grpc=" + strconv.Itoa(p.s3Grpc),
		"-s3.port.iceberg=0",
		"-s3.port.lance=0",
		"-s3.config=" + s.s3Conf,
		// As AWS: writing to a missing bucket is an error, not a new bucket.
		"-s3.autoCreateBucket=false",
	}
	// Unix sockets must have short paths (108 bytes on Linux); the default
	// is /tmp/seaweedfs-<part>-<port>.sock.
	if sock := filepath.Join(s.baseDir, "filer.sock"); len(sock) < 100 {
		args = append(args, "-filer.localSocket="+sock, "-s3.localSocket="+filepath.Join(s.baseDir, "s3.sock"))
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.baseDir // weed reads *.toml from its working directory and $HOME/.seaweedfs
	// The caller's settings (WEED_* configuration, AWS_* credentials,
	// which weed would turn into an S3 identity) cannot leak in.
	env := s3test.EnvironWithout("WEED_", "AWS_", "S3_", "HOME=")
	cmd.Env = append(env, "HOME="+s.baseDir)
	began := time.Now()
	if err := s.run.Start(cmd, ReadyTimeout, 250*time.Millisecond, 5*time.Second, s.readyProbe()); err != nil {
		s.Stop() // removes the sockets
		return err
	}
	s.Started = time.Since(began)
	s.removeReadyBucket()
	s.run.Logf("%s ready after %v", time.Now().Format(time.TimeOnly), s.Started.Round(time.Millisecond))
	return nil
}

// readyProbe writes an object with a signed PUT (creating readyBucket
// first). An open port is not enough: SeaweedFS answers requests some
// seconds before it can store anything.
func (s *Server) readyProbe() s3test.ReadyFunc {
	c := s.Client(func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
	bucket, key := aws.String(readyBucket), aws.String("ready")
	bucketMade := false
	return func(ctx context.Context) error {
		if !bucketMade {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
			var ae smithy.APIError
			if err != nil && !(errors.As(err, &ae) && (ae.ErrorCode() == "BucketAlreadyOwnedByYou" || ae.ErrorCode() == "BucketAlreadyExists")) {
				return err
			}
			bucketMade = true
		}
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: strings.NewReader("ready")})
		return err
	}
}

// removeReadyBucket removes the readiness object and bucket.
func (s *Server) removeReadyBucket() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := s.Client()
	bucket := aws.String(readyBucket)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("ready")}); err != nil {
		s.run.Logf("seaweedtest: removing the readiness object: %v", err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: bucket}); err != nil {
		s.run.Logf("seaweedtest: removing the readiness bucket: %v", err)
	}
}

// freePorts returns loopback ports that were free a moment ago, all
// different. (weed's default gRPC port is its HTTP port + 10000, which may
// be above 65535 or taken: every port is given explicitly.)
func freePorts(t testing.TB) ports {
	t.Helper()
	p := s3test.FreePorts(t, 8)
	return ports{
		master: p[0], masterGrpc: p[1],
		volume: p[2], volumeGrpc: p[3],
		filer: p[4], filerGrpc: p[5],
		s3: p[6], s3Grpc: p[7],
	}
}
