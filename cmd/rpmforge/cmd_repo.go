package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/s3store"
)

type repoPublishOptions struct {
	dir             string
	signKey         string
	passphraseFile  string
	compress        repo.Compression
	database        bool
	changelogLimit  int
	keepGenerations int
	noWait          bool
	strict          bool
	json            bool
	quiet           bool
	// s3 publishes an s3:// URL (dir).
	s3 func(context.Context, repo.Options) (*repo.Result, error)
}

func repoCommand() *cli.Command {
	return &cli.Command{
		Name:  "repo",
		Usage: "publish yum/dnf/zypper repositories",
		Subcommands: append([]*cli.Command{
			{
				Name:      "publish",
				Usage:     "write or update the repodata of a directory of RPM packages (or of the packages under s3://BUCKET/PREFIX)",
				ArgsUsage: "DIR",
				Description: "Writes DIR/repodata (primary, filelists and other, plus repomd.xml, last and atomically)\n" +
					"for the .rpm files under DIR. Unchanged packages are neither read nor recompressed\n" +
					"(cache in DIR/.rpmforge); with nothing changed nothing is written. Files named by the\n" +
					"previous --keep-generations repomd.xml stay, so clients holding one do not get 404s.\n" +
					"A file that is not a valid package is reported and left out (--strict: the publish fails).",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "sign-key", Usage: "sign repomd.xml with the private key in `FILE` and publish its public key (passphrase from $" + envPassphrase + " or --passphrase-file)"},
					&cli.StringFlag{Name: "passphrase-file", Usage: "read the signing key's passphrase from `FILE`"},
					&cli.StringFlag{Name: "compress", Value: string(repo.Gzip), Usage: "metadata compression: gzip (every client), xz, or zstd (dnf and zypper only)"},
					&cli.BoolFlag{Name: "database", Usage: "also write the sqlite databases (yum 3 uses them; dnf and zypper never download them)"},
					&cli.IntFlag{Name: "changelog-limit", Value: repo.DefaultChangelogLimit, Usage: "changelog entries kept per package (-1: all)"},
					&cli.IntFlag{Name: "keep-generations", Value: repo.DefaultKeepGenerations, Usage: "keep the files of the last `N` repomd.xml generations, the new one included"},
					&cli.BoolFlag{Name: "no-wait", Usage: "fail instead of waiting when another publish holds the repository's lock"},
					&cli.BoolFlag{Name: "strict", Usage: "fail when a file is not a valid package (default: report and skip it)"},
					&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
					&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
				}, s3Flags()...),
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return usagef("repo publish takes one directory (got %d arguments)", c.NArg())
					}
					comp, err := repo.ParseCompression(c.String("compress"))
					if err != nil {
						return usageError{err}
					}
					limit := c.Int("changelog-limit")
					if limit < -1 {
						return usagef("--changelog-limit %d: want -1 (all), 0 (none) or more", limit)
					}
					if c.Int("keep-generations") < 1 {
						return usagef("--keep-generations %d: want at least 1", c.Int("keep-generations"))
					}
					return runRepoPublish(c.Context, repoPublishOptions{
						dir: c.Args().First(), signKey: c.String("sign-key"), passphraseFile: c.String("passphrase-file"),
						compress: comp, database: c.Bool("database"), changelogLimit: limit,
						keepGenerations: c.Int("keep-generations"), noWait: c.Bool("no-wait"), strict: c.Bool("strict"),
						json: c.Bool("json"), quiet: c.Bool("quiet") || c.Bool("json"),
						s3: func(ctx context.Context, ro repo.Options) (*repo.Result, error) {
							return publishS3(ctx, c, c.Args().First(), ro)
						},
					}, c.App.Writer, c.App.ErrWriter)
				},
			},
			{
				Name:      "check",
				Usage:     "verify a published repository: checksums, sizes, open-checksums, package counts",
				ArgsUsage: "DIR",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "root", Usage: "check a repository root of channels instead (as repo check-root)"},
					&cli.BoolFlag{Name: "json", Usage: "with --root: print a machine-readable result"},
				}, s3Flags()...),
				Action: func(c *cli.Context) error {
					if c.IsSet("root") {
						if c.NArg() != 0 {
							return usagef("repo check --root takes no arguments")
						}
						return runCheckRoot(c)
					}
					if c.NArg() != 1 {
						return usagef("repo check takes one directory, or --root (got %d arguments)", c.NArg())
					}
					var st repo.Storage = &repo.DirStorage{Root: c.Args().First()}
					if s3store.IsURL(c.Args().First()) {
						s, err := openS3(c, c.Args().First())
						if err != nil {
							return err
						}
						st = s
					}
					res, err := repo.Check(c.Context, st)
					if err != nil {
						return fmt.Errorf("repo check %s: %w", c.Args().First(), err)
					}
					fmt.Fprintf(c.App.Writer, "%s: OK, %d packages, revision %s\n", c.Args().First(), res.Packages, res.Repomd.Revision)
					return nil
				},
			},
		}, append(channelCommands(), syncCommand())...),
	}
}

// repoPublishJSON is repo publish's --json output.
type repoPublishJSON struct {
	Dir          string              `json:"dir"`
	Unchanged    bool                `json:"unchanged"`
	Packages     int                 `json:"packages"`
	Added        []string            `json:"added"`
	Changed      []string            `json:"changed"`
	Removed      []string            `json:"removed"`
	Read         int                 `json:"read"`
	Skipped      []repoSkippedJSON   `json:"skipped"`
	Revision     string              `json:"revision"`
	Metadata     map[string]repoFile `json:"metadata"`
	Signed       string              `json:"signed_by,omitempty"`
	Written      []string            `json:"written"`
	Deleted      []string            `json:"deleted"`
	Chunks       int                 `json:"chunks"`
	ChunksReused int                 `json:"chunks_reused"`
	Seconds      float64             `json:"seconds"`
}

type repoSkippedJSON struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type repoFile struct {
	Location     string `json:"location"`
	Checksum     string `json:"checksum"`
	Size         int64  `json:"size"`
	OpenChecksum string `json:"open_checksum,omitempty"`
	OpenSize     int64  `json:"open_size,omitempty"`
}

func runRepoPublish(ctx context.Context, opts repoPublishOptions, stdout, stderr io.Writer) error {
	if !s3store.IsURL(opts.dir) {
		st, err := os.Stat(opts.dir)
		if err != nil {
			return fmt.Errorf("repo publish: %w", err)
		}
		if !st.IsDir() {
			return usagef("repo publish: %s is not a directory", opts.dir)
		}
	}
	ro := repo.Options{
		Compression: opts.compress, Database: opts.database, ChangelogLimit: opts.changelogLimit,
		KeepGenerations: opts.keepGenerations, NoWait: opts.noWait, Strict: opts.strict,
	}
	if opts.changelogLimit == 0 {
		ro.ChangelogLimit = repo.ChangelogNone
	}
	if opts.signKey != "" {
		k, err := loadSigningKey(opts.signKey, opts.passphraseFile)
		if err != nil {
			return err
		}
		ro.Signer = k
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newProgress(stderr, opts.quiet)
	ro.Progress = prog
	start := time.Now()
	var res *repo.Result
	var err error
	if s3store.IsURL(opts.dir) {
		res, err = opts.s3(ctx, ro)
	} else {
		res, err = repo.Publish(ctx, opts.dir, ro)
	}
	prog.Done()
	if err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stderr, "rpmforge: skipped %s\n", s.Error())
	}
	if opts.json {
		out := repoPublishJSON{
			Dir: opts.dir, Unchanged: res.Unchanged, Packages: res.Packages,
			Added: nonNil(res.Added), Changed: nonNil(res.Changed), Removed: nonNil(res.Removed), Read: res.Read,
			Skipped: []repoSkippedJSON{}, Revision: res.Revision, Metadata: map[string]repoFile{},
			Written: nonNil(res.Written), Deleted: nonNil(res.Deleted), Chunks: res.Chunks, ChunksReused: res.ChunksReused,
			Seconds: time.Since(start).Seconds(),
		}
		for _, s := range res.Skipped {
			out.Skipped = append(out.Skipped, repoSkippedJSON{Path: s.Path, Error: s.Err.Error()})
		}
		if res.Repomd != nil {
			for _, r := range res.Repomd.Records {
				f := repoFile{Location: r.Location, Checksum: r.Checksum, Size: r.Size, OpenChecksum: r.OpenChecksum}
				if r.OpenSize > 0 {
					f.OpenSize = r.OpenSize
				}
				out.Metadata[r.Type] = f
			}
		}
		if ro.Signer != nil {
			out.Signed = ro.Signer.Fingerprint()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(out)
	}
	if res.Unchanged {
		fmt.Fprintf(stdout, "%s: unchanged, %d packages, revision %s\n", opts.dir, res.Packages, res.Revision)
	} else {
		fmt.Fprintf(stdout, "%s: %d packages (%d added, %d changed, %d removed; %d read), revision %s\n",
			opts.dir, res.Packages, len(res.Added), len(res.Changed), len(res.Removed), res.Read, res.Revision)
		if ro.Signer != nil {
			fmt.Fprintf(stdout, "  repomd.xml signed by %s\n", ro.Signer.Fingerprint())
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
