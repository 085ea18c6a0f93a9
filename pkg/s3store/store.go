// Package s3store keeps a repository root in S3-compatible object storage
// (AWS S3, Ceph RGW, MinIO, SeaweedFS): a channel.Store and a repo.Storage
// whose files are the objects under s3://bucket/prefix/.
//
// Object storage has no rename, no symlink and no flock, so the store maps
// each operation onto what S3 makes atomic:
//
//   - a file is written with one PUT (readers see the old object or the
//     new one); pkg/repo writes content-addressed metadata first and
//     repomd.xml last, so a client never sees a repomd.xml that names a
//     missing object;
//   - a channel's package is a server-side copy of its pool object
//     (CopyObject: nothing is downloaded or uploaded again);
//   - the root's lock is an object created with a conditional PUT
//     (If-None-Match: *), renewed while held and taken over (If-Match on
//     its ETag) once it has expired, so a killed publisher blocks others
//     for at most the lock's time to live;
//   - what only a publisher needs (pkg/repo's publish cache) stays in a
//     local cache directory, which may be lost at any time: the next
//     publish then reads the packages again.
//
// Objects that never change (pool objects, content-addressed metadata,
// channel packages, whose NEVRA is never reused for other bytes) get a
// long-lived Cache-Control; repomd.xml, its signature and the keys a short
// one, so that a CDN in front of the bucket serves a new revision quickly.
package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/rpmforge/rpmforge/pkg/channel"
)

// Scheme starts the URL of a root in object storage.
const Scheme = "s3://"

// IsURL reports whether s names a root in object storage (s3://...).
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Location is a parsed s3:// URL.
type Location struct {
	Bucket string
	Prefix string // "" or ending in "/"
	// From the URL's query (optional): endpoint=URL, region=NAME,
	// path_style=true|false.
	Endpoint  string
	Region    string
	PathStyle *bool
}

// String returns the URL without its query.
func (l Location) String() string { return Scheme + l.Bucket + "/" + l.Prefix }

// ParseURL parses s3://bucket[/prefix][?endpoint=...&region=...&path_style=true].
func ParseURL(s string) (Location, error) {
	if !IsURL(s) {
		return Location{}, fmt.Errorf("%q is not an s3:// URL", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("%q: %w", s, err)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("%s%s: credentials do not belong in the URL: use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or ~/.aws/credentials", Scheme, u.Host)
	}
	l := Location{Bucket: u.Host}
	if !validBucket(l.Bucket) {
		return Location{}, fmt.Errorf("%q: bad bucket name %q", s, l.Bucket)
	}
	p := strings.Trim(u.Path, "/")
	if p != "" {
		if path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." || strings.Contains(p, "//") {
			return Location{}, fmt.Errorf("%q: bad prefix %q", s, p)
		}
		l.Prefix = p + "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint":
			l.Endpoint = q.Get(k)
			if eu, err := url.Parse(l.Endpoint); err != nil || (eu.Scheme != "http" && eu.Scheme != "https") || eu.Host == "" {
				return Location{}, fmt.Errorf("%q: endpoint %q: want http(s)://host[:port]", s, l.Endpoint)
			}
		case "region":
			l.Region = q.Get(k)
		case "path_style":
			b := q.Get(k) == "true" || q.Get(k) == "1"
			if !b && q.Get(k) != "false" && q.Get(k) != "0" {
				return Location{}, fmt.Errorf("%q: path_style=%q: want true or false", s, q.Get(k))
			}
			l.PathStyle = &b
		default:
			return Location{}, fmt.Errorf("%q: unknown parameter %q (known: endpoint, region, path_style)", s, k)
		}
	}
	return l, nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Options configure Open.
type Options struct {
	// Client, if set, is used as it is (tests); otherwise one is made from
	// the AWS environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
	// AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL_S3, ~/.aws/config and
	// credentials) and the URL's parameters.
	Client *s3.Client
	// Endpoint, Region and PathStyle override the environment and URL.
	Endpoint  string
	Region    string
	PathStyle *bool
	// CacheDir is the local cache (publish state, temporary files);
	// default $XDG_CACHE_HOME/rpmforge/s3/<endpoint host>/<bucket>/<prefix>.
	CacheDir string
	// LockTTL is how long a lock lives without being renewed (default
	// DefaultLockTTL): a crashed publisher blocks others this long.
	LockTTL time.Duration
	// Holder names who takes the lock (default user@host pid).
	Holder string
}

// DefaultLockTTL is the default time to live of the root's lock.
const DefaultLockTTL = 2 * time.Minute

// Store is a repository root (or a plain repository) in a bucket.
type Store struct {
	client   *s3.Client
	loc      Location
	cacheDir string
	lockTTL  time.Duration
	holder   string

	mu  sync.Mutex
	ops []string // "PUT name", "COPY name", ...: what changed (tests count them)

	conditionalOK atomic.Bool // the server honours If-None-Match (probed once)
}

// Open returns the store of the s3:// URL rawURL. It does not contact the
// server: the first operation does.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := opts.Client
	if client == nil {
		if client, err = newClient(ctx, loc, opts); err != nil {
			return nil, err
		}
	}
	cache := opts.CacheDir
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("%s: no cache directory for the publish state (set XDG_CACHE_HOME): %w", loc, err)
		}
		// Per endpoint: the same bucket name on two servers is two roots.
		server := "default"
		if o := client.Options(); o.BaseEndpoint != nil {
			if u, err := url.Parse(*o.BaseEndpoint); err == nil && u.Host != "" {
				server = u.Host
			}
		}
		cache = filepath.Join(base, "rpmforge", "s3", server, loc.Bucket, filepath.FromSlash(strings.TrimSuffix(loc.Prefix, "/")))
	}
	ttl := opts.LockTTL
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	holder := opts.Holder
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s pid %d", host, os.Getpid())
	}
	return &Store{client: client, loc: loc, cacheDir: cache, lockTTL: ttl, holder: holder}, nil
}

func newClient(ctx context.Context, loc Location, opts Options) (*s3.Client, error) {
	var lo []func(*awsconfig.LoadOptions) error
	region := firstNonEmpty(opts.Region, loc.Region)
	if region != "" {
		lo = append(lo, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the AWS configuration: %w", loc, err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // MinIO, SeaweedFS and RGW accept any
	}
	endpoint := firstNonEmpty(opts.Endpoint, loc.Endpoint)
	pathStyle := opts.PathStyle
	if pathStyle == nil {
		pathStyle = loc.PathStyle
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		switch {
		case pathStyle != nil:
			o.UsePathStyle = *pathStyle
		case endpoint != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != "":
			// Self-hosted stores (MinIO, SeaweedFS, RGW) are addressed by
			// path unless told otherwise.
			o.UsePathStyle = true
		}
		// Checksums only when the operation requires one: not every
		// S3-compatible store knows the newer CRC headers.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Location returns where the store is.
func (s *Store) Location() Location { return s.loc }

// Client returns the S3 client.
func (s *Store) Client() *s3.Client { return s.client }

// Ops returns what changed objects since the last call ("PUT name",
// "COPY name", "DELETE name"), for tests and --json output.
func (s *Store) Ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops
	s.ops = nil
	return o
}

func (s *Store) record(op, name string) {
	s.mu.Lock()
	s.ops = append(s.ops, op+" "+name)
	s.mu.Unlock()
}

func (s *Store) key(name string) (string, error) {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || name == ".." || strings.HasPrefix(name, "../") {
		return "", fmt.Errorf("%s: bad object name %q", s.loc, name)
	}
	return s.loc.Prefix + name, nil
}

// cacheControl is the Cache-Control of the object name.
func cacheControl(name string) string {
	base := path.Base(name)
	switch {
	case strings.HasPrefix(name, ".") || strings.Contains(name, "/."):
		return "no-store" // state: never cached
	case base == "repomd.xml" || base == "repomd.xml.asc" || base == "repomd.xml.key" || strings.HasPrefix(base, "RPM-GPG-KEY"):
		return "no-cache, max-age=0"
	case strings.HasSuffix(base, ".rpm") || strings.HasPrefix(name, "repodata/") || strings.Contains(name, "/repodata/"):
		return "public, max-age=31536000, immutable"
	default:
		return "max-age=300"
	}
}

func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".xml":
		return "application/xml"
	case ".gz":
		return "application/gzip"
	case ".xz":
		return "application/x-xz"
	case ".zst":
		return "application/zstd"
	case ".bz2":
		return "application/x-bzip2"
	case ".rpm":
		return "application/x-rpm"
	case ".json":
		return "application/json"
	case ".asc", ".key", ".repo", ".toml":
		return "text/plain; charset=utf-8"
	}
	if strings.HasPrefix(path.Base(name), "RPM-GPG-KEY") {
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// body makes r seekable (the SDK signs the payload, which needs its
// length and a rewind for retries): small bodies in memory, large ones
// spooled to a temporary file. The returned cleanup removes the spool.
func (s *Store) body(r io.Reader) (io.ReadSeeker, int64, func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if f, ok := r.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
				return rs, st.Size(), func() {}, nil
			}
		}
		if br, ok := r.(*bytes.Reader); ok {
			return rs, int64(br.Len()), func() {}, nil
		}
	}
	const memLimit = 8 << 20
	var buf bytes.Buffer
	n, err := io.CopyN(&buf, r, memLimit+1)
	if err != nil && err != io.EOF {
		return nil, 0, nil, err
	}
	if n <= memLimit {
		return bytes.NewReader(buf.Bytes()), n, func() {}, nil
	}
	dir, err := s.TempDir()
	if err != nil {
		return nil, 0, nil, err
	}
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return nil, 0, nil, err
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	m, err := io.Copy(f, io.MultiReader(&buf, r))
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		cleanup()
		return nil, 0, nil, err
	}
	return f, m, cleanup, nil
}

// WriteFile stores what r yields as the object name (one PUT: atomic).
func (s *Store) WriteFile(ctx context.Context, name string, r io.Reader) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	b, n, cleanup, err := s.body(r)
	if err != nil {
		return fmt.Errorf("%s%s: %w", s.loc, name, err)
	}
	defer cleanup()
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.loc.Bucket, Key: &key, Body: b, ContentLength: aws.Int64(n),
		CacheControl: aws.String(cacheControl(name)), ContentType: aws.String(contentType(name)),
	})
	if err != nil {
		return s.wrap("writing", name, err)
	}
	s.record("PUT", name)
	return nil
}

// Sync implements the stores' Sync: a PUT is durable when it returns.
func (s *Store) Sync(context.Context) error { return nil }

// Open opens the object name; the error wraps fs.ErrNotExist if there is
// none.
func (s *Store) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	key, err := s.key(name)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.loc.Bucket, Key: &key})
	if err != nil {
		return nil, s.wrap("reading", name, err)
	}
	return out.Body, nil
}

// Stat returns the size of the object name.
func (s *Store) Stat(ctx context.Context, name string) (int64, error) {
	key, err := s.key(name)
	if err != nil {
		return 0, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.loc.Bucket, Key: &key})
	if err != nil {
		return 0, s.wrap("reading", name, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// List returns the names of the objects directly under dir.
func (s *Store) List(ctx context.Context, dir string) ([]string, error) {
	var names []string
	err := s.list(ctx, dir, false, func(o Object) error {
		names = append(names, path.Base(o.Name))
		return nil
	})
	return names, err
}

// Object is an object found by Walk.
type Object struct {
	Name    string // relative to the store's prefix
	Size    int64
	ETag    string
	ModTime time.Time
}

// Walk calls fn for every object under dir ("" for all), recursively, in
// key order.
func (s *Store) Walk(ctx context.Context, dir string, fn func(Object) error) error {
	return s.list(ctx, dir, true, fn)
}

func (s *Store) list(ctx context.Context, dir string, recursive bool, fn func(Object) error) error {
	prefix := s.loc.Prefix
	if dir != "" && dir != "." {
		k, err := s.key(dir)
		if err != nil {
			return err
		}
		prefix = k + "/"
	}
	in := &s3.ListObjectsV2Input{Bucket: &s.loc.Bucket, Prefix: &prefix}
	if !recursive {
		in.Delimiter = aws.String("/")
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.wrap("listing", dir, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), s.loc.Prefix)
			if err := fn(Object{Name: name, Size: aws.ToInt64(o.Size), ETag: strings.Trim(aws.ToString(o.ETag), `"`),
				ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Remove deletes the object name; a missing object is not an error.
func (s *Store) Remove(ctx context.Context, name string) error {
	key, err := s.key(name)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key}); err != nil {
		if err := s.wrap("removing", name, err); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	s.record("DELETE", name)
	return nil
}

// Link makes name a server-side copy of the object poolName.
func (s *Store) Link(ctx context.Context, poolName, name string) error {
	src, err := s.key(poolName)
	if err != nil {
		return err
	}
	dst, err := s.key(name)
	if err != nil {
		return err
	}
	_, err = s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.loc.Bucket, Key: &dst, CopySource: aws.String(copySource(s.loc.Bucket, src)),
		MetadataDirective: types.MetadataDirectiveReplace,
		CacheControl:      aws.String(cacheControl(name)), ContentType: aws.String(contentType(name)),
	})
	if err != nil {
		return s.wrap("copying "+poolName+" to", name, err)
	}
	s.record("COPY", name)
	return nil
}

func copySource(bucket, key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return bucket + "/" + strings.Join(parts, "/")
}

// Ingest uploads the local file localPath as the object name and removes
// the local file.
func (s *Store) Ingest(ctx context.Context, localPath, name string) error {
	f, err := os.Open(localPath)
	if err != nil {
		return err
	}
	err = s.WriteFile(ctx, name, f)
	f.Close()
	if err != nil {
		return err
	}
	return os.Remove(localPath)
}

// LocalDir implements channel.Store: objects have no local directory.
func (s *Store) LocalDir(string) (string, error) { return "", channel.ErrNotLocal }

// CacheDir is the local cache directory for name.
func (s *Store) CacheDir(name string) (string, error) {
	if _, err := s.key(name); err != nil {
		return "", err
	}
	return filepath.Join(s.cacheDir, filepath.FromSlash(name)), nil
}

// TempDir is a local directory for files being verified before upload.
func (s *Store) TempDir() (string, error) {
	p := filepath.Join(s.cacheDir, "tmp")
	return p, os.MkdirAll(p, 0o755)
}

// wrap turns an SDK error into a one-line error naming the object and
// saying what to do; a missing object wraps fs.ErrNotExist.
func (s *Store) wrap(what, name string, err error) error {
	where := s.loc.String() + name
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return fmt.Errorf("%s %s: %w", what, where, fs.ErrNotExist)
		case "NoSuchBucket":
			return fmt.Errorf("%s %s: bucket %q does not exist (create it, or check the URL and endpoint)", what, where, s.loc.Bucket)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "InvalidToken", "ExpiredToken":
			return fmt.Errorf("%s %s: access denied (%s): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the bucket policy", what, where, ae.ErrorCode())
		}
		return fmt.Errorf("%s %s: %s: %s", what, where, ae.ErrorCode(), ae.ErrorMessage())
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotFound:
			return fmt.Errorf("%s %s: %w", what, where, fs.ErrNotExist)
		case http.StatusForbidden:
			return fmt.Errorf("%s %s: access denied: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the bucket policy", what, where)
		}
	}
	return fmt.Errorf("%s %s: %w (is the endpoint reachable?)", what, where, unwrapOp(err))
}

// unwrapOp drops the SDK's long operation prefix when a network error is
// underneath.
func unwrapOp(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue
	}
	return err
}

// ObjectSHA256 downloads the object name and returns its SHA-256 (hex).
func (s *Store) ObjectSHA256(ctx context.Context, name string) (string, error) {
	rc, err := s.Open(ctx, name)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", s.wrap("reading", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
