package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/mirror"
	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/s3store"
)

// s3Flags configure roots in object storage (s3://bucket/prefix); the
// credentials come from the AWS environment and files, never from flags.
func s3Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "s3-endpoint", EnvVars: []string{"RPMFORGE_S3_ENDPOINT"}, Usage: "for s3:// roots: the S3 endpoint `URL` (MinIO, SeaweedFS, Ceph RGW; default: $AWS_ENDPOINT_URL_S3, else AWS)"},
		&cli.StringFlag{Name: "s3-region", Usage: "for s3:// roots: the `REGION` (default: $AWS_REGION, the profile's, else us-east-1)"},
		&cli.BoolFlag{Name: "s3-path-style", Usage: "for s3:// roots: address buckets by path (default when an endpoint is set)"},
		&cli.DurationFlag{Name: "s3-lock-ttl", EnvVars: []string{"RPMFORGE_S3_LOCK_TTL"}, Value: s3store.DefaultLockTTL, Usage: "for s3:// roots: how long the root's lock outlives a publisher that stopped renewing it (crashed)"},
	}
}

// openS3 opens the store of an s3:// URL with the flags of c.
func openS3(c *cli.Context, rawURL string) (*s3store.Store, error) {
	opts := s3store.Options{Endpoint: c.String("s3-endpoint"), Region: c.String("s3-region"), LockTTL: c.Duration("s3-lock-ttl")}
	if c.IsSet("s3-path-style") {
		b := c.Bool("s3-path-style")
		opts.PathStyle = &b
	}
	s, err := s3store.Open(c.Context, rawURL, opts)
	if err != nil {
		return nil, usageError{err}
	}
	return s, nil
}

// openS3Root opens a channel root in object storage: its configuration is
// the object rpmforge-channels.toml.
func openS3Root(c *cli.Context, rawURL string, opts channel.Options) (*channel.Root, error) {
	s, err := openS3(c, rawURL)
	if err != nil {
		return nil, err
	}
	cfg, err := loadS3Config(c.Context, s)
	if err != nil {
		return nil, err
	}
	opts.Store, opts.Config = s, cfg
	return channel.Open(s.Location().String(), opts)
}

func loadS3Config(ctx context.Context, s *s3store.Store) (*channel.Config, error) {
	loc := s.Location()
	base := loc.Bucket
	if p := strings.TrimSuffix(loc.Prefix, "/"); p != "" {
		base = path.Base(p)
	}
	return channel.LoadConfigFrom(ctx, s, loc.String()+channel.ConfigName, base)
}

// publishS3 publishes the packages stored under an s3:// prefix, as
// repo publish does for a directory: objects named *.rpm, outside hidden
// directories and the top repodata/, identified by their ETag.
func publishS3(ctx context.Context, c *cli.Context, rawURL string, ro repo.Options) (*repo.Result, error) {
	s, err := openS3(c, rawURL)
	if err != nil {
		return nil, err
	}
	unlock, err := s.Lock(ctx, true, ro.NoWait)
	if err != nil {
		return nil, fmt.Errorf("repo publish %s: %w", rawURL, err)
	}
	defer unlock()
	ro.Files = []repo.PackageFile{}
	err = s.Walk(ctx, "", func(o s3store.Object) error {
		if !strings.HasSuffix(o.Name, ".rpm") || strings.HasPrefix(o.Name, "repodata/") || hiddenPath(o.Name) {
			return nil
		}
		name := o.Name
		ro.Files = append(ro.Files, repo.PackageFile{Href: name, Size: o.Size, Mtime: o.ModTime, ID: "etag:" + o.ETag,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return s.Open(ctx, name) }})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("repo publish %s: %w", rawURL, err)
	}
	if ro.StateDir, err = s.CacheDir(".rpmforge/publish"); err != nil {
		return nil, err
	}
	ro.Storage = s
	return repo.Publish(ctx, s.Location().String(), ro)
}

func hiddenPath(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			return true
		}
	}
	return false
}

// syncCommand is repo sync: mirror a root between a directory and object
// storage (either way, or between two of either).
func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "mirror a repository root (or one repository) from --from to --to, each a DIR or s3://BUCKET/PREFIX, verifying every copy's SHA-256",
		Description: "Copies the files that differ (by size and SHA-256), packages and content-addressed metadata\n" +
			"first, then each repomd.xml.asc, then each repomd.xml, so hosts reading --to never see a\n" +
			"repomd.xml naming a missing file. Every copy is read back and compared. --delete then removes\n" +
			"what --from does not have. Holds --to's lock while it runs.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the source `DIR` or s3:// URL"},
			&cli.StringFlag{Name: "to", Usage: "the destination `DIR` or s3:// URL"},
			&cli.BoolFlag{Name: "delete", Usage: "remove files of --to that --from does not have (after every copy)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "compare and report only"},
			&cli.BoolFlag{Name: "no-wait", Usage: "fail instead of waiting when another rpmforge holds --to's lock"},
			&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		}, s3Flags()...),
		Action: func(c *cli.Context) error {
			if err := needFlags(c, "from", "to"); err != nil {
				return err
			}
			if c.NArg() != 0 {
				return usagef("repo sync takes no arguments (use --from and --to)")
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			from, to := c.String("from"), c.String("to")
			src, srcList, _, err := syncEnd(c, from, false)
			if err != nil {
				return err
			}
			dst, dstList, lock, err := syncEnd(c, to, true)
			if err != nil {
				return err
			}
			if !c.Bool("dry-run") {
				unlock, err := lock(ctx, true, c.Bool("no-wait"))
				if err != nil {
					return fmt.Errorf("repo sync: %s: %w", to, err)
				}
				defer unlock()
			}
			prog := newProgress(c.App.ErrWriter, c.Bool("quiet") || c.Bool("json"))
			prog.Step("syncing " + from + " to " + to)
			start := time.Now()
			res, err := mirror.Sync(ctx, src, srcList, dst, dstList, mirror.Options{
				Delete: c.Bool("delete"), DryRun: c.Bool("dry-run"),
				Progress: func(done, total int) { prog.Bytes(int64(done), int64(total)) },
			})
			prog.Done()
			if err != nil {
				return fmt.Errorf("repo sync %s to %s: %w", from, to, err)
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, map[string]any{
					"from": from, "to": to, "dry_run": c.Bool("dry-run"), "copied": nonNil(res.Copied),
					"unchanged": len(res.Unchanged), "deleted": nonNil(res.Deleted), "bytes": res.Bytes,
					"seconds": time.Since(start).Seconds(),
				})
			}
			verb := "copied"
			if c.Bool("dry-run") {
				verb = "would copy"
			}
			fmt.Fprintf(c.App.Writer, "%s -> %s: %s %s (%s), %d unchanged, %d deleted\n", from, to, verb,
				plural(len(res.Copied), "file"), humanBytes(res.Bytes), len(res.Unchanged), len(res.Deleted))
			return nil
		},
	}
}

// syncEnd opens one end of repo sync.
func syncEnd(c *cli.Context, where string, isDst bool) (mirror.Tree, mirror.Lister, func(context.Context, bool, bool) (func(), error), error) {
	if s3store.IsURL(where) {
		s, err := openS3(c, where)
		if err != nil {
			return nil, nil, nil, err
		}
		return s, mirror.StoreLister(s), s.Lock, nil
	}
	st, err := os.Stat(where)
	switch {
	case err == nil && !st.IsDir():
		return nil, nil, nil, usagef("repo sync: %s is not a directory", where)
	case err != nil && !(isDst && errors.Is(err, fs.ErrNotExist)):
		return nil, nil, nil, fmt.Errorf("repo sync: %w", err)
	}
	d := channel.NewDirStore(where, channel.Hardlink, false)
	return d, mirror.DirLister(where), d.Lock, nil
}
