package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/serve"
)

type serveOptions struct {
	root      string
	listen    string
	noListing bool
	quiet     bool
}

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "serve a repository root over HTTP (small setups and demos)",
		Description: "GET and HEAD, range requests, ETag/Last-Modified revalidation. repomd.xml, its signature and\n" +
			"keys are served with Cache-Control: no-cache; repodata/<sha256>-* and pool/ files, whose\n" +
			"names are their content, as immutable. Nothing outside --root is served: not with '..' in\n" +
			"any encoding, not through symlinks pointing outside; hidden files (.rpmforge) never.\n" +
			"For production put nginx or an object store in front (docs/channels.md).\n" +
			"Prints the address it listens on (with port 0, the one the system chose).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "the repository root `DIR` to serve"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8080", Usage: "`ADDRESS` to listen on (host:port; port 0 picks a free one)"},
			&cli.BoolFlag{Name: "no-listing", Usage: "answer 404 for directories instead of an index page"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no access log on stderr"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usagef("serve takes no arguments (got %q); use --root DIR", c.Args().Slice())
			}
			if c.String("root") == "" {
				return usagef("serve: --root is required")
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, serveOptions{
				root: c.String("root"), listen: c.String("listen"), noListing: c.Bool("no-listing"),
				quiet: c.Bool("quiet"),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

func runServe(ctx context.Context, opts serveOptions, stdout, stderr io.Writer) error {
	st, err := os.Stat(opts.root)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if !st.IsDir() {
		return usagef("serve: --root %s is not a directory", opts.root)
	}
	so := serve.Options{NoListing: opts.noListing}
	if !opts.quiet {
		so.Log = log.New(stderr, "", log.LstdFlags)
	}
	h, err := serve.New(opts.root, so)
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := net.Listen("tcp", opts.listen)
	if err != nil {
		return fmt.Errorf("serve: %w (pick another --listen address)", err)
	}
	fmt.Fprintf(stdout, "serving %s on http://%s/\n", opts.root, ln.Addr())
	return serve.Run(ctx, ln, h)
}
