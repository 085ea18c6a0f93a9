package s3store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/rpmforge/rpmforge/pkg/channel"
)

// LockName is the lock object of a root, relative to its prefix.
const LockName = ".rpmforge/lock"

// lockBody is the lock object's content.
type lockBody struct {
	Holder  string    `json:"holder"`
	Taken   time.Time `json:"taken"`
	Expires time.Time `json:"expires"`
}

// lockPoll is how often a waiting publisher tries the lock again.
var lockPoll = 500 * time.Millisecond

// Lock takes the root's lock. Readers take none (every object they read
// is whole, and repomd.xml names only objects written before it).
// A writer creates the lock object with a conditional PUT
// (If-None-Match: *); while it holds the lock it renews it (If-Match on
// its ETag) every third of its time to live. A lock whose holder stopped
// renewing it is taken over once expired, with If-Match on the ETag read,
// so two waiters cannot both take it.
func (s *Store) Lock(ctx context.Context, exclusive, noWait bool) (func(), error) {
	if !exclusive {
		return func() {}, nil
	}
	key, _ := s.key(LockName)
	for {
		etag, err := s.putLock(ctx, key, "")
		if err == nil {
			if err := s.probeConditional(ctx, key); err != nil {
				return nil, err
			}
			return s.holdLock(key, etag), nil
		}
		if !isConditionFailed(err) {
			return nil, s.wrap("taking the lock", LockName, err)
		}
		// Held by someone: expired?
		cur, curTag, err := s.readLock(ctx, key)
		switch {
		case errors.Is(err, errNoLock):
			continue // released meanwhile
		case err != nil:
			return nil, err
		}
		if time.Now().After(cur.Expires) {
			etag, err := s.putLock(ctx, key, curTag)
			if err == nil {
				return s.holdLock(key, etag), nil
			}
			if !isConditionFailed(err) && !errors.Is(s.wrap("", LockName, err), fs.ErrNotExist) {
				return nil, s.wrap("taking over the expired lock", LockName, err)
			}
			continue // another waiter took it first, or its holder removed it
		}
		if noWait {
			return nil, fmt.Errorf("%w (%s holds %s%s until %s unless renewed; retry later or drop --no-wait)",
				channel.ErrLocked, cur.Holder, s.loc, LockName, cur.Expires.UTC().Format(time.RFC3339))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the lock %s%s (held by %s): %w", s.loc, LockName, cur.Holder, ctx.Err())
		case <-time.After(lockPoll):
		}
	}
}

var errNoLock = errors.New("no lock")

// probeConditional checks, once per store, that the server honours
// If-None-Match: a second create of the lock just taken must fail. A store
// that ignores the condition (some older S3-compatible servers) would let
// two publishers hold the lock at once: it is refused with a clear error.
func (s *Store) probeConditional(ctx context.Context, key string) error {
	if s.conditionalOK.Load() {
		return nil
	}
	_, err := s.putLock(ctx, key, "")
	switch {
	case err == nil:
		s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key})
		return fmt.Errorf("%s: the server ignores conditional writes (If-None-Match), so concurrent publishers could not be serialised: use a server that supports them (AWS S3, MinIO, Ceph RGW 18+, recent SeaweedFS)", s.loc)
	case isConditionFailed(err):
		s.conditionalOK.Store(true)
		return nil
	default:
		s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key})
		return s.wrap("checking conditional writes on", LockName, err)
	}
}

// putLock writes the lock object: created only if absent (ifMatch ""), or
// replacing the version ifMatch. It returns the new ETag.
func (s *Store) putLock(ctx context.Context, key, ifMatch string) (string, error) {
	now := time.Now()
	b, _ := json.Marshal(lockBody{Holder: s.holder, Taken: now.UTC(), Expires: now.Add(s.lockTTL).UTC()})
	in := &s3.PutObjectInput{Bucket: &s.loc.Bucket, Key: &key, Body: bytes.NewReader(b),
		ContentLength: aws.Int64(int64(len(b))), ContentType: aws.String("application/json"),
		CacheControl: aws.String("no-store")}
	if ifMatch == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(ifMatch)
	}
	out, err := s.client.PutObject(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

func (s *Store) readLock(ctx context.Context, key string) (*lockBody, string, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.loc.Bucket, Key: &key})
	if err != nil {
		if w := s.wrap("reading the lock", LockName, err); errors.Is(w, fs.ErrNotExist) {
			return nil, "", errNoLock
		} else {
			return nil, "", w
		}
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	if err != nil {
		return nil, "", s.wrap("reading the lock", LockName, err)
	}
	var lb lockBody
	if err := json.Unmarshal(data, &lb); err != nil {
		// Not ours or damaged: treat as expired so it can be taken over.
		lb = lockBody{Holder: "an unreadable lock object"}
	}
	return &lb, aws.ToString(out.ETag), nil
}

// holdLock renews the lock until the returned unlock is called, which
// removes it.
func (s *Store) holdLock(key, etag string) func() {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.lockTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.lockTTL/3)
				mu.Lock()
				if tag, err := s.putLock(ctx, key, etag); err == nil {
					etag = tag
				}
				mu.Unlock()
				cancel()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			wg.Wait()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			mu.Lock()
			tag := etag
			mu.Unlock()
			// Remove it only if it is still ours.
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key, IfMatch: aws.String(tag)})
			if err != nil && !isConditionFailed(err) {
				if cur, curTag, rerr := s.readLock(ctx, key); rerr == nil && curTag == tag && cur.Holder == s.holder {
					s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.loc.Bucket, Key: &key})
				}
			}
		})
	}
}

// isConditionFailed reports a failed If-None-Match / If-Match (412), or
// a concurrent conditional write (409 ConditionalRequestConflict).
func isConditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return true
		}
	}
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		c := re.HTTPStatusCode()
		return c == http.StatusPreconditionFailed || c == http.StatusConflict
	}
	return false
}
