package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	rpmutils "github.com/sassoftware/go-rpmutils"
	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/inventory"
	"github.com/rpmforge/rpmforge/pkg/inventory/chancat"
	"github.com/rpmforge/rpmforge/pkg/inventory/export"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdb"
	"github.com/rpmforge/rpmforge/pkg/inventory/rpmdir"
	"github.com/rpmforge/rpmforge/pkg/sbom"
)

func inventoryCommand() *cli.Command {
	return &cli.Command{
		Name:  "inventory",
		Usage: "SBOMs of packages, and what runs where: host inventories, drift, FedRAMP export",
		Subcommands: []*cli.Command{
			inventorySBOMCommand(),
			inventoryCollectCommand(),
			inventoryHostsCommand(),
			inventoryRepoCommand(),
		},
	}
}

func inventorySBOMCommand() *cli.Command {
	return &cli.Command{
		Name:      "sbom",
		Usage:     "print the SBOM embedded in a package (read from the RPM, not rebuilt)",
		ArgsUsage: "PKG.rpm",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "cyclonedx", Usage: "`cyclonedx` (CycloneDX 1.6 JSON) or spdx (SPDX 2.3 JSON)"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedFlags(c)
			if err != nil {
				return err
			}
			if len(args) != 1 {
				return usagef("inventory sbom takes one RPM file (got %d arguments)", len(args))
			}
			f, err := sbom.ParseFormat(c.String("format"))
			if err != nil {
				return usageError{fmt.Errorf("--format: %w", err)}
			}
			return runInventorySBOM(args[0], f, c.App.Writer)
		},
	}
}

func runInventorySBOM(path string, f sbom.Format, stdout io.Writer) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	r, err := rpmutils.ReadRpm(fh)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	emb, err := sbom.Extract(r)
	if errors.Is(err, sbom.ErrNotFound) {
		return fmt.Errorf("%s: the package carries no SBOM (none under %s; built before rpmforge embedded them?)", path, sbom.Dir)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	data := emb.Get(f)
	if data == nil {
		return fmt.Errorf("%s: the package has no %s SBOM (it has %s)", path, f, sbomFormatsIn(emb))
	}
	_, err = stdout.Write(data)
	return err
}

func sbomFormatsIn(e *sbom.Embedded) string {
	var have []string
	if e.CycloneDX != nil {
		have = append(have, e.CycloneDXPath)
	}
	if e.SPDX != nil {
		have = append(have, e.SPDXPath)
	}
	return strings.Join(have, " and ")
}

func inventoryCollectCommand() *cli.Command {
	return &cli.Command{
		Name:  "collect-command",
		Usage: "print the read-only rpm query to run on each host (one dump file per host)",
		Description: "Run the printed command on each host (by hand or with Ansible's shell module) and save its\n" +
			"output as one file per host; give the files to 'rpmforge inventory hosts'. On EL7 (rpm 4.11)\n" +
			"use --el7: that rpm does not know SHA256HEADER, and rpm answers an unknown tag with exit\n" +
			"status 0 and nothing on stdout. --script adds the header lines (host, time, OS).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "el7", Usage: "the variant for rpm 4.11 (EL7), without SHA256HEADER"},
			&cli.BoolFlag{Name: "script", Usage: "a shell snippet that also writes the host, time and OS header lines"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("collect-command takes no arguments")
			}
			cmd := inventory.CollectCommand(c.Bool("el7"))
			if c.Bool("script") {
				cmd = inventory.CollectScript(c.Bool("el7"))
			}
			_, err := fmt.Fprintln(c.App.Writer, cmd)
			return err
		},
	}
}

var inventoryHostFormats = []string{"csv", "json", "fedramp-csv", "cyclonedx", "html"}

func inventoryHostsCommand() *cli.Command {
	return &cli.Command{
		Name:      "hosts",
		Usage:     "report installed packages per host: provenance, drift against the host's channel, Python components",
		ArgsUsage: "DUMP_OR_RPMDB...",
		Description: "Each argument is a collector dump (see collect-command) or an rpm database copied from a\n" +
			"host (rpmdb.sqlite, Packages, Packages.db, or a directory holding one); HOST=PATH names the\n" +
			"host of a database. --rpms [CHANNEL=]DIR (repeatable) is a directory of published RPMs,\n" +
			"one per channel; hosts.toml assigns each host its channel.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "hosts", Usage: "hosts.toml: address, channel, owner... of each host (`FILE`)"},
			&cli.StringSliceFlag{Name: "rpms", Usage: "published RPMs of a channel: `[CHANNEL=]DIR` (repeatable)"},
			&cli.StringFlag{Name: "root", Usage: "repository root whose channels hosts are compared with (`DIR` or s3://BUCKET/PREFIX, instead of --rpms)"},
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "`FORMAT`: " + strings.Join(inventoryHostFormats, ", ")},
			&cli.StringFlag{Name: "granularity", Value: "application", Usage: "csv and fedramp-csv rows: `application` or python (one per Python component)"},
			&cli.StringFlag{Name: "eol", Usage: "end-of-life table (`FILE`, TOML or CSV) for the End-of-Life column"},
			&cli.BoolFlag{Name: "all", Usage: "report every installed package, not only those a channel carries"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
		}, s3Flags()...),
		Action: func(c *cli.Context) error {
			args, err := interspersedFlags(c)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return usagef("inventory hosts needs at least one dump or rpm database")
			}
			return runInventoryHosts(inventoryHostsOptions{
				hosts: c.String("hosts"), rpms: c.StringSlice("rpms"), root: c.String("root"), format: c.String("format"),
				granularity: c.String("granularity"), eol: c.String("eol"), all: c.Bool("all"), output: c.String("output"),
				inputs: args, openRoot: func(root string) (*channel.Root, error) { return openRootAt(c, root, channel.Options{}) },
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

type inventoryHostsOptions struct {
	hosts, format, granularity, eol, output, root string
	rpms, inputs                                  []string
	all                                           bool
	openRoot                                      func(string) (*channel.Root, error)
}

func runInventoryHosts(opt inventoryHostsOptions, stdout, stderr io.Writer) error {
	if !inventoryHas(inventoryHostFormats, opt.format) {
		return usagef("--format %q: want one of %s", opt.format, strings.Join(inventoryHostFormats, ", "))
	}
	gran, err := export.ParseGranularity(opt.granularity)
	if err != nil {
		return usageError{fmt.Errorf("--granularity: %w", err)}
	}
	cat, err := inventoryCatalog(opt.rpms, opt.root, "", 0, opt.openRoot)
	if err != nil {
		return err
	}
	var hosts *inventory.Hosts
	if opt.hosts != "" {
		if hosts, err = inventory.LoadHosts(opt.hosts); err != nil {
			return err
		}
	}
	meta, err := inventoryMeta(opt.eol)
	if err != nil {
		return err
	}
	var data []*inventory.HostData
	for _, in := range opt.inputs {
		d, err := readInventoryInput(in)
		if err != nil {
			return err
		}
		data = append(data, d)
	}
	rep, err := inventory.Analyze(hosts, data, cat, inventory.Options{All: opt.all})
	if err != nil {
		return err
	}
	warnings := rep.Warnings
	var buf bytes.Buffer
	switch opt.format {
	case "csv":
		err = export.CSV(&buf, rep, gran, meta)
	case "json":
		err = export.JSON(&buf, rep, meta)
	case "fedramp-csv":
		var w []string
		w, err = export.FedRAMP(&buf, rep, gran, meta)
		warnings = append(warnings, w...)
	case "cyclonedx":
		err = export.CycloneDX(&buf, rep, meta)
	case "html":
		err = export.HTML(&buf, rep, meta)
	}
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "rpmforge: warning: "+w)
	}
	return writeInventoryOutput(opt.output, buf.Bytes(), stdout)
}

// inventoryCatalog is where published packages come from: a channel root
// (snapshots, promotion history; at a past revision with at > 0), or
// --rpms directories. Nil when neither is given.
func inventoryCatalog(specs []string, root, only string, at int, open func(string) (*channel.Root, error)) (inventory.Catalog, error) {
	if root != "" {
		if len(specs) > 0 {
			return nil, usagef("give --root or --rpms, not both")
		}
		if open == nil {
			open = func(root string) (*channel.Root, error) { return channel.Open(root, channel.Options{}) }
		}
		r, err := open(root)
		if err != nil {
			return nil, err
		}
		return chancat.New(context.Background(), r, only, at)
	}
	if only != "" || at != 0 {
		return nil, usagef("--channel and --at need --root")
	}
	if len(specs) == 0 {
		return nil, nil
	}
	dirs := map[string]string{}
	for _, s := range specs {
		ch, dir, err := rpmdir.ParseSpec(s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--rpms: %w", err)}
		}
		if prev, dup := dirs[ch]; dup {
			return nil, usagef("--rpms: channel %q given twice (%s and %s)", ch, prev, dir)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, usagef("--rpms %s: not a directory", s)
		}
		dirs[ch] = dir
	}
	return rpmdir.New(dirs), nil
}

func inventoryMeta(eolPath string) (export.Meta, error) {
	meta := export.Meta{Tool: "rpmforge " + version, Version: version, Generated: time.Now().UTC().Truncate(time.Second)}
	sde, err := sourceDateEpoch()
	if err != nil {
		return meta, usageError{err}
	}
	if !sde.IsZero() {
		meta.Generated = sde
	}
	if eolPath != "" {
		if meta.EOL, err = inventory.LoadEOL(eolPath); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// readInventoryInput reads a collector dump, or a raw rpm database (a binary
// file or a directory); "HOST=PATH" names the host of a database.
func readInventoryInput(arg string) (*inventory.HostData, error) {
	host, path := "", arg
	if _, err := os.Stat(arg); err != nil {
		if h, p, ok := strings.Cut(arg, "="); ok && h != "" {
			host, path = h, p
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	isDB := st.IsDir()
	if !isDB {
		backend, err := rpmdb.Detect(path)
		if err != nil {
			return nil, err
		}
		isDB = backend != ""
	}
	if isDB {
		return rpmdb.Read(path, host)
	}
	d, err := inventory.ReadDump(path)
	if err != nil {
		return nil, err
	}
	if host != "" {
		d.Name = host
	}
	return d, nil
}

func inventoryRepoCommand() *cli.Command {
	return &cli.Command{
		Name:  "repo",
		Usage: "list published packages: NEVRA, digests, signing key, build time, commit, licence, Python components",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "repository root (`DIR` or s3://BUCKET/PREFIX): one row per package per channel"},
			&cli.StringFlag{Name: "channel", Usage: "only this `CHANNEL` of --root"},
			&cli.IntFlag{Name: "at", Usage: "the baseline as it was at `REVISION` of --channel"},
			&cli.StringSliceFlag{Name: "rpms", Usage: "directory of RPMs (`DIR`, repeatable), instead of --root"},
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "`csv`, json or html"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
		}, s3Flags()...),
		Action: func(c *cli.Context) error {
			args, err := interspersedFlags(c)
			if err != nil {
				return err
			}
			if len(args) > 0 {
				return usagef("inventory repo takes no arguments; use --root DIR or --rpms DIR")
			}
			if len(c.StringSlice("rpms")) == 0 && c.String("root") == "" {
				return usagef("inventory repo needs --root DIR (a channel root) or --rpms DIR")
			}
			cat, err := inventoryCatalog(c.StringSlice("rpms"), c.String("root"), c.String("channel"), c.Int("at"),
				func(root string) (*channel.Root, error) { return openRootAt(c, root, channel.Options{}) })
			if err != nil {
				return err
			}
			return runInventoryRepo(cat, c.String("format"), c.String("output"), c.App.Writer)
		},
	}
}

func runInventoryRepo(cat inventory.Catalog, format, output string, stdout io.Writer) error {
	if !inventoryHas([]string{"csv", "json", "html"}, format) {
		return usagef("--format %q: want csv, json or html", format)
	}
	var pkgs []inventory.PublishedPackage
	for _, ch := range cat.Channels() {
		p, err := cat.Packages(ch)
		if err != nil {
			return err
		}
		pkgs = append(pkgs, p...)
	}
	meta, err := inventoryMeta("")
	if err != nil {
		return err
	}
	meta.Title = "rpmforge published packages"
	var buf bytes.Buffer
	switch format {
	case "csv":
		err = export.RepoCSV(&buf, pkgs)
	case "json":
		err = export.RepoJSON(&buf, pkgs)
	case "html":
		err = export.RepoHTML(&buf, pkgs, meta)
	}
	if err != nil {
		return err
	}
	return writeInventoryOutput(output, buf.Bytes(), stdout)
}

// writeInventoryOutput writes to stdout, or to file through a temp file renamed
// into place.
func writeInventoryOutput(file string, data []byte, stdout io.Writer) error {
	if file == "" || file == "-" {
		_, err := stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

func inventoryHas(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// interspersedFlags lets flags follow the arguments, as in
// "inventory sbom PKG.rpm --format spdx" (urfave/cli stops parsing flags at
// the first argument): it sets the flags it finds among c.Args() and
// returns the other arguments. "--" ends the flags.
func interspersedFlags(c *cli.Context) ([]string, error) {
	in := c.Args().Slice()
	var args []string
	for i := 0; i < len(in); i++ {
		a := in[i]
		if a == "--" {
			return append(args, in[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var flag cli.Flag
		for _, f := range c.Command.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return nil, usagef("flag provided but not defined: -%s", name)
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(in) {
				return nil, usagef("flag needs an argument: -%s", name)
			}
			i++
			value = in[i]
		}
		if err := c.Set(flag.Names()[0], value); err != nil {
			return nil, usagef("invalid value %q for flag -%s: %v", value, name, err)
		}
	}
	return args, nil
}
