package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/build"
	"github.com/rpmforge/rpmforge/pkg/config"
	"github.com/rpmforge/rpmforge/pkg/rpm"
)

type buildOptions struct {
	config  string
	output  string
	release string
	json    bool
	quiet   bool
	signKey string
}

func buildCommand() *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "package the Django project and its virtualenv as an RPM",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: config.FileName, Usage: "config file"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output directory (default: dist/ beside the config)"},
			&cli.StringFlag{Name: "release", Usage: "RPM release (default: $BUILD_NUMBER, then package.release)"},
			&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
			&cli.StringFlag{Name: "sign-key", Usage: "sign the package with the private key in `FILE` (default: $" + envSigningKey + " if set; passphrase from $" + envPassphrase + ")"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("build takes no arguments (got %q); use --config", c.Args().First())
			}
			return runBuild(c.Context, buildOptions{
				config: c.String("config"), output: c.String("output"), release: c.String("release"),
				json: c.Bool("json"), quiet: c.Bool("quiet") || c.Bool("json"),
				signKey: c.String("sign-key"),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// loadConfig is Load, ApplyDefaults and Validate.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func runBuild(ctx context.Context, opts buildOptions, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(opts.config)
	if err != nil {
		return err
	}
	release := opts.release
	if release == "" {
		release = os.Getenv("BUILD_NUMBER")
	}
	if release != "" && strings.ContainsAny(release, "- /") {
		return usagef("--release %q: no '-', spaces or '/'", release)
	}
	sde, err := sourceDateEpoch()
	if err != nil {
		return usageError{err}
	}
	// A bad key fails before anything is built.
	var signer rpm.Signer
	if k, err := loadSigningKey(opts.signKey, ""); err != nil {
		return err
	} else if k != nil {
		signer = k
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	prog := newProgress(stderr, opts.quiet)
	res, err := build.Run(ctx, cfg, build.Options{
		OutputDir: opts.output, Release: release, SourceDateEpoch: sde, Progress: prog,
		Signer: signer, ToolVersion: version,
	})
	prog.Done()
	if err != nil {
		return err
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	fmt.Fprintf(stdout, "%s\n  %s, %d files, %s, sha256 %s\n", res.Path, res.NEVRA, res.Files, humanBytes(res.Size), res.SHA256)
	return nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (reproducible builds).
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a positive number of seconds", v)
	}
	return time.Unix(n, 0).UTC(), nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
