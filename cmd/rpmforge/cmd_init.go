package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/config"
	"github.com/rpmforge/rpmforge/pkg/project"
)

type initOptions struct {
	dir   string
	force bool
}

func initCommand() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "write a commented rpmforge.toml for the Django project in DIR",
		ArgsUsage: "[DIR]",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing rpmforge.toml"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usagef("init takes at most one directory")
			}
			opts := initOptions{dir: c.Args().First(), force: c.Bool("force")}
			if opts.dir == "" {
				opts.dir = "."
			}
			return runInit(opts, c.App.Writer)
		},
	}
}

func runInit(opts initOptions, w io.Writer) error {
	d, err := project.Detect(opts.dir)
	if err != nil {
		return err
	}
	path := filepath.Join(d.Dir, config.FileName)
	if _, err := os.Stat(path); err == nil && !opts.force {
		return fmt.Errorf("%s already exists (use --force to overwrite)", path)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	c := &config.Config{}
	c.Package.Name = d.Name
	c.Package.Version = "git"
	c.Package.License = "LicenseRef-Proprietary"
	c.Package.Summary = d.Name + " Django application"
	c.Venv.Path = d.Venv
	c.Django.Manage = d.Manage
	c.Django.Settings = d.Settings
	c.Django.WSGI = d.WSGI
	if c.Django.Settings == "" {
		c.Django.Settings = d.Name + ".settings"
	}
	if c.Django.WSGI == "" {
		c.Django.WSGI = d.Name + ".wsgi:application"
	}
	data := config.Template(c)
	// The template must read back as a valid config: refuse to write one that does not.
	if _, err := config.Parse(path, data); err != nil {
		return fmt.Errorf("init: generated config does not parse (please report): %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s (package %q, settings %s, venv %s)\n", path, d.Name, c.Django.Settings, d.Venv)
	return nil
}
