package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/channel"
	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/s3store"
)

// channelCommands are the repo subcommands that manage a repository root
// of release channels (pkg/channel): add, promote, prune, rollback,
// history, list, client-config.
func channelCommands() []*cli.Command {
	rootFlag := &cli.StringFlag{Name: "root", Usage: "the repository root: a `DIR`, or s3://BUCKET/PREFIX (pool, channels, history; see docs/channels.md, docs/s3.md)"}
	channelFlag := &cli.StringFlag{Name: "channel", Aliases: []string{"c"}, Usage: "the channel `NAME` (default channels: dev, staging, prod)"}
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"}
	// Flags of the commands that publish a channel.
	publish := []cli.Flag{
		&cli.StringFlag{Name: "sign-key", Usage: "sign repomd.xml with the private key in `FILE` and publish its public key (default: $" + envSigningKey + "; passphrase from $" + envPassphrase + " or --passphrase-file)"},
		&cli.StringFlag{Name: "passphrase-file", Usage: "read the signing key's passphrase from `FILE`"},
		&cli.BoolFlag{Name: "allow-unsigned", Usage: "publish a channel that was signed without a key (hosts with repo_gpgcheck=1 then refuse it)"},
		&cli.StringSliceFlag{Name: "keyring", Usage: "public key `FILE` package signatures are checked against (besides the root's keyring); repeatable"},
		&cli.BoolFlag{Name: "no-wait", Usage: "fail instead of waiting when another rpmforge holds the root's lock"},
		jsonFlag,
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
	}
	publish = append(publish, s3Flags()...)
	with := func(fs ...cli.Flag) []cli.Flag { return append(fs, publish...) }
	return []*cli.Command{
		{
			// "repo check DIR" (cmd_repo.go) checks one repository; this checks a root of channels.
			Name:  "check-root",
			Usage: "verify a repository root: every channel's repodata (repo check), its packages in the pool by SHA-256, history, sets, pool.json",
			Flags: append([]cli.Flag{rootFlag, jsonFlag}, s3Flags()...),
			Action: func(c *cli.Context) error {
				if err := needFlags(c, "root"); err != nil {
					return err
				}
				if c.NArg() != 0 {
					return usagef("repo check-root takes no arguments")
				}
				return runCheckRoot(c)
			},
		},
		{
			Name:      "add",
			Usage:     "verify packages, add them to the root's pool and publish a channel with them",
			ArgsUsage: "PKG.rpm...",
			Description: "Each package's digests are checked (and its signature, when the channel has require_key\n" +
				"or --require-key is given) before anything changes. A package whose NEVRA is already in\n" +
				"the pool with other bytes is refused: bump the release. The channel gets a new snapshot\n" +
				"and its repodata is republished incrementally (repomd.xml last).",
			Flags: with(rootFlag, channelFlag,
				&cli.StringFlag{Name: "require-key", Usage: "refuse packages not signed by the key with this `FINGERPRINT` (or long key ID)"}),
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return usagef("repo add needs at least one package file")
				}
				if err := needFlags(c, "root", "channel"); err != nil {
					return err
				}
				return runChannelChange(c, func(ctx context.Context, r *channel.Root) (*channel.Result, error) {
					return r.Add(ctx, c.String("channel"), c.Args().Slice(), channel.AddOptions{RequireKey: c.String("require-key")})
				}, nil)
			},
		},
		{
			Name:      "promote",
			Usage:     "make packages of one channel part of another: the same bytes, the same signature",
			ArgsUsage: "NAME[-VERSION[-RELEASE]]...",
			Description: "NAME alone promotes the newest version of NAME in the source channel (by rpm's version\n" +
				"comparison; the newest of each architecture). Nothing is copied or re-signed: the target's\n" +
				"new snapshot refers to the same pool objects, which are checked (SHA-256, digests, and\n" +
				"signatures with --require-key or the target's require_key) first.",
			Flags: with(rootFlag,
				&cli.StringFlag{Name: "from", Usage: "the source channel `NAME`"},
				&cli.StringFlag{Name: "to", Usage: "the target channel `NAME`"},
				&cli.StringFlag{Name: "require-key", Usage: "refuse packages not signed by the key with this `FINGERPRINT` (or long key ID)"},
				&cli.StringFlag{Name: "gate", Usage: "run `CMD` with sh -c first (such as 'rpmforge check-install ...'); promote only if it exits 0"}),
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return usagef("repo promote needs the names of the packages to promote")
				}
				if err := needFlags(c, "root", "from", "to"); err != nil {
					return err
				}
				if err := runGate(c, c.String("gate")); err != nil {
					return err
				}
				return runChannelChange(c, func(ctx context.Context, r *channel.Root) (*channel.Result, error) {
					return r.Promote(ctx, c.String("from"), c.String("to"), c.Args().Slice(), channel.PromoteOptions{RequireKey: c.String("require-key")})
				}, nil)
			},
		},
		{
			Name:  "prune",
			Usage: "keep the newest versions of each package in a channel; remove pool files nothing uses",
			Description: "With --channel, keeps the --keep newest versions (by rpm's version comparison) of each\n" +
				"package name and architecture in the channel, as a new snapshot. Then, with or without\n" +
				"--channel, pool files that no retained snapshot of any channel references (the newest\n" +
				"retain_snapshots of each) are removed once unreferenced for the grace period.",
			Flags: with(rootFlag, channelFlag,
				&cli.IntFlag{Name: "keep", Usage: "keep the `N` newest versions of each package (with --channel)"},
				&cli.DurationFlag{Name: "grace", Usage: "remove pool files unreferenced for this `DURATION` (default: grace in rpmforge-channels.toml, 24h)"},
				&cli.IntFlag{Name: "keep-snapshots", Usage: "retain the package sets of the newest `N` snapshots of each channel (default: retain_snapshots, 10)"}),
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return usagef("repo prune takes no arguments (got %q)", c.Args().Slice())
				}
				if err := needFlags(c, "root"); err != nil {
					return err
				}
				if c.IsSet("channel") != c.IsSet("keep") {
					return usagef("repo prune: --channel and --keep go together (neither: only the pool is collected)")
				}
				if c.IsSet("keep") && c.Int("keep") < 1 {
					return usagef("repo prune: --keep %d: want at least 1", c.Int("keep"))
				}
				if c.Duration("grace") < 0 || c.Int("keep-snapshots") < 0 {
					return usagef("repo prune: --grace and --keep-snapshots must not be negative")
				}
				var gc *channel.GCResult
				change := func(ctx context.Context, r *channel.Root) (*channel.Result, error) {
					var res *channel.Result
					if c.IsSet("channel") {
						var err error
						if res, err = r.Prune(ctx, c.String("channel"), c.Int("keep")); err != nil {
							return nil, err
						}
					}
					var err error
					gc, err = r.CollectGarbage(ctx, channel.GCOptions{Grace: c.Duration("grace"), RetainSnapshots: c.Int("keep-snapshots")})
					if err != nil {
						return nil, err
					}
					return res, nil
				}
				return runChannelChange(c, change, func() any { return gc })
			},
		},
		{
			Name:  "rollback",
			Usage: "publish an earlier snapshot's package set as a new revision of a channel",
			Description: "Without --to, goes back to the revision before the current state (repeated rollbacks walk\n" +
				"further back). The new repomd.xml has fresh timestamps, so yum and dnf accept it; hosts\n" +
				"return to the old versions with dnf distro-sync (or downgrade).",
			Flags: with(rootFlag, channelFlag,
				&cli.IntFlag{Name: "to", Usage: "the `REVISION` whose package set to publish (see repo history)"}),
			Action: func(c *cli.Context) error {
				if c.NArg() != 0 {
					return usagef("repo rollback takes no arguments (got %q); use --to REVISION", c.Args().Slice())
				}
				if err := needFlags(c, "root", "channel"); err != nil {
					return err
				}
				if c.IsSet("to") && c.Int("to") < 1 {
					return usagef("repo rollback: --to %d: want a revision number (see rpmforge repo history)", c.Int("to"))
				}
				return runChannelChange(c, func(ctx context.Context, r *channel.Root) (*channel.Result, error) {
					return r.Rollback(ctx, c.String("channel"), c.Int("to"))
				}, nil)
			},
		},
		{
			Name:  "history",
			Usage: "list a channel's snapshots: revision, time, who, what changed",
			Flags: append([]cli.Flag{rootFlag, channelFlag, jsonFlag}, s3Flags()...),
			Action: func(c *cli.Context) error {
				if err := needFlags(c, "root", "channel"); err != nil {
					return err
				}
				if c.NArg() != 0 {
					return usagef("repo history takes no arguments")
				}
				return runChannelHistory(c)
			},
		},
		{
			Name:  "list",
			Usage: "list the packages of a channel (now, or at a revision)",
			Flags: append([]cli.Flag{rootFlag, channelFlag, jsonFlag,
				&cli.IntFlag{Name: "revision", Aliases: []string{"r"}, Usage: "list the package set of `REVISION` (default: the current one)"}}, s3Flags()...),
			Action: func(c *cli.Context) error {
				if err := needFlags(c, "root", "channel"); err != nil {
					return err
				}
				if c.NArg() != 0 {
					return usagef("repo list takes no arguments")
				}
				return runChannelList(c)
			},
		},
		{
			Name:  "client-config",
			Usage: "print the /etc/yum.repos.d/<name>-<channel>.repo file for hosts",
			Description: "The file has gpgcheck=1, repo_gpgcheck=1 and gpgkey= pointing at the key published at the\n" +
				"channel's root (RPM-GPG-KEY-<name>). --baseurl is where the repository root is served;\n" +
				"the channel is the directory below it.",
			Flags: append([]cli.Flag{rootFlag, channelFlag,
				&cli.StringFlag{Name: "baseurl", Usage: "`URL` of the repository root, such as https://repo.example.com/rpm"},
				&cli.StringFlag{Name: "name", Usage: "repository id prefix `NAME` (default: name in rpmforge-channels.toml, else the root's directory name)"},
				&cli.StringSliceFlag{Name: "gpgkey", Usage: "further key `URL` (a package signing key other than the repository's); repeatable"},
				&cli.StringFlag{Name: "metadata-expire", Value: "1h", Usage: "how long hosts cache the metadata (dnf's `DURATION` syntax)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the file to `PATH` instead of stdout"}}, s3Flags()...),
			Action: func(c *cli.Context) error {
				if err := needFlags(c, "root", "channel", "baseurl"); err != nil {
					return err
				}
				if c.NArg() != 0 {
					return usagef("repo client-config takes no arguments")
				}
				return runClientConfig(c)
			},
		},
	}
}

// needFlags reports the first of the named flags that was not given.
func needFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if strings.TrimSpace(c.String(n)) == "" {
			return usagef("repo %s: --%s is required", c.Command.Name, n)
		}
	}
	return nil
}

// checkRoot runs channel.CheckRoot on --root.
func checkRoot(c *cli.Context) (*channel.CheckResult, error) {
	root := c.String("root")
	if !s3store.IsURL(root) {
		return channel.CheckRoot(c.Context, root)
	}
	s, err := openS3(c, root)
	if err != nil {
		return nil, err
	}
	cfg, err := loadS3Config(c.Context, s)
	if err != nil {
		return nil, err
	}
	return channel.CheckStore(c.Context, s, cfg, s.Location().String())
}

// openRoot opens --root with the signing key and keyring of the flags.
func openRoot(c *cli.Context, prog *progress) (*channel.Root, error) {
	dir := c.String("root")
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return nil, usagef("repo %s: --root %s is not a directory", c.Command.Name, dir)
	}
	opts := channel.Options{
		KeyringFiles:  c.StringSlice("keyring"),
		AllowUnsigned: c.Bool("allow-unsigned"),
		NoWait:        c.Bool("no-wait"),
	}
	if prog != nil {
		opts.Progress = prog
	}
	if c.Command.HasName("add") || c.Command.HasName("promote") || c.Command.HasName("prune") || c.Command.HasName("rollback") {
		k, err := loadSigningKey(c.String("sign-key"), c.String("passphrase-file"))
		if err != nil {
			return nil, err
		}
		if k != nil {
			opts.Signer = k
		}
	}
	return openRootAt(c, dir, opts)
}

// openRootAt opens the root at dir, a directory or an s3:// URL.
func openRootAt(c *cli.Context, dir string, opts channel.Options) (*channel.Root, error) {
	if s3store.IsURL(dir) {
		return openS3Root(c, dir, opts)
	}
	return channel.Open(dir, opts)
}

// channelChangeJSON is the --json output of add, promote, prune and
// rollback.
type channelChangeJSON struct {
	Channel   string            `json:"channel,omitempty"`
	Unchanged bool              `json:"unchanged"`
	Snapshot  *channel.Snapshot `json:"snapshot"`
	Recovered *channel.Snapshot `json:"recovered,omitempty"`
	GC        any               `json:"gc,omitempty"`
	Seconds   float64           `json:"seconds"`
}

// runChannelChange opens the root and runs change, printing its result.
// extra, if set, is added to the JSON output (prune's collection).
func runChannelChange(c *cli.Context, change func(context.Context, *channel.Root) (*channel.Result, error), extra func() any) error {
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	quiet := c.Bool("quiet") || c.Bool("json")
	prog := newProgress(c.App.ErrWriter, quiet)
	r, err := openRoot(c, prog)
	if err != nil {
		return err
	}
	start := time.Now()
	res, err := change(ctx, r)
	prog.Done()
	if err != nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("json") {
		j := channelChangeJSON{Seconds: time.Since(start).Seconds()}
		if res != nil {
			j.Channel, j.Snapshot, j.Recovered, j.Unchanged = res.Channel, res.Snapshot, res.Recovered, res.Snapshot == nil
		}
		if extra != nil {
			j.GC = extra()
		}
		return writeJSON(out, j)
	}
	if res != nil {
		if s := res.Recovered; s != nil {
			fmt.Fprintf(out, "%s: published revision %d (%s), left pending by an interrupted run\n", res.Channel, s.Revision, s.Action)
		}
		printChange(out, res)
	}
	if extra != nil {
		if gc, ok := extra().(*channel.GCResult); ok && gc != nil {
			fmt.Fprintf(out, "pool: %s in use", plural(gc.Referenced, "file"))
			if len(gc.Removed) > 0 {
				fmt.Fprintf(out, ", %d removed (%s freed): %s", len(gc.Removed), humanBytes(gc.Freed), strings.Join(gc.Removed, ", "))
			}
			if len(gc.Waiting) > 0 {
				fmt.Fprintf(out, ", %d unreferenced, kept for the grace period: %s", len(gc.Waiting), strings.Join(gc.Waiting, ", "))
			}
			fmt.Fprintln(out)
		}
	}
	return nil
}

func printChange(w io.Writer, res *channel.Result) {
	s := res.Snapshot
	if s == nil {
		fmt.Fprintf(w, "%s: unchanged (the packages are there already)\n", res.Channel)
		return
	}
	fmt.Fprintf(w, "%s: revision %d (%s", res.Channel, s.Revision, s.Action)
	switch {
	case s.From != "":
		fmt.Fprintf(w, " from %s", s.From)
	case s.RollbackTo != 0:
		fmt.Fprintf(w, " to revision %d", s.RollbackTo)
	}
	fmt.Fprintf(w, "), %s\n", plural(s.Packages, "package"))
	for _, n := range s.Added {
		fmt.Fprintf(w, "  + %s\n", n)
	}
	for _, n := range s.Removed {
		fmt.Fprintf(w, "  - %s\n", n)
	}
	fmt.Fprintf(w, "  repomd.xml revision %s", s.Repomd)
	if s.SignedBy != "" {
		fmt.Fprintf(w, ", signed by %s", s.SignedBy)
	} else {
		fmt.Fprint(w, ", unsigned")
	}
	fmt.Fprintln(w)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func runChannelHistory(c *cli.Context) error {
	r, err := openRoot(c, nil)
	if err != nil {
		return err
	}
	h, err := r.History(c.Context, c.String("channel"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if h == nil {
			h = []channel.Snapshot{}
		}
		return writeJSON(c.App.Writer, h)
	}
	if len(h) == 0 {
		fmt.Fprintf(c.App.Writer, "%s: no snapshots yet\n", c.String("channel"))
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REV\tTIME\tUSER\tACTION\tPKGS\tCHANGES")
	for _, s := range h {
		act := s.Action
		switch {
		case s.From != "":
			act += " from " + s.From
		case s.RollbackTo != 0:
			act += fmt.Sprintf(" to %d", s.RollbackTo)
		}
		if s.Pending {
			act += " (pending)"
		}
		var ch []string
		for _, n := range s.Added {
			ch = append(ch, "+"+n)
		}
		for _, n := range s.Removed {
			ch = append(ch, "-"+n)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", s.Revision, s.Time.Format(time.RFC3339), s.User, act, s.Packages, strings.Join(ch, " "))
	}
	return tw.Flush()
}

// channelListJSON is list's --json output.
type channelListJSON struct {
	Channel  string               `json:"channel"`
	Snapshot *channel.Snapshot    `json:"snapshot"`
	Packages []channelListPackage `json:"packages"`
}

type channelListPackage struct {
	NEVRA string `json:"nevra"`
	channel.PoolObject
}

func runChannelList(c *cli.Context) error {
	if c.IsSet("revision") && c.Int("revision") < 1 {
		return usagef("repo list: --revision %d: want a revision number (see rpmforge repo history)", c.Int("revision"))
	}
	r, err := openRoot(c, nil)
	if err != nil {
		return err
	}
	ch := c.String("channel")
	pkgs, snap, err := r.Packages(c.Context, ch, c.Int("revision"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := channelListJSON{Channel: ch, Snapshot: snap, Packages: []channelListPackage{}}
		for _, p := range pkgs {
			out.Packages = append(out.Packages, channelListPackage{NEVRA: p.NEVRA(), PoolObject: p})
		}
		return writeJSON(c.App.Writer, out)
	}
	w := c.App.Writer
	if snap == nil {
		fmt.Fprintf(w, "%s: empty (no snapshots yet)\n", ch)
		return nil
	}
	fmt.Fprintf(w, "%s revision %d (%s, %s by %s): %s\n", ch, snap.Revision, snap.Time.Format(time.RFC3339), snap.Action, snap.User, plural(len(pkgs), "package"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, p := range pkgs {
		signed := "unsigned"
		if len(p.Signers) > 0 {
			signed = "signed by " + strings.Join(p.Signers, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\tsha256:%s\t%s\n", p.NEVRA(), humanBytes(p.Size), p.SHA256[:16], signed)
	}
	return tw.Flush()
}

func runClientConfig(c *cli.Context) error {
	r, err := openRoot(c, nil)
	if err != nil {
		return err
	}
	cc, err := r.ClientConfig(c.Context, c.String("channel"), channel.ClientOptions{
		BaseURL: c.String("baseurl"), Name: c.String("name"), ExtraKeys: c.StringSlice("gpgkey"),
		MetadataExpire: c.String("metadata-expire"),
	})
	if err != nil {
		return err
	}
	for _, w := range cc.Warnings {
		fmt.Fprintf(c.App.ErrWriter, "rpmforge: warning: %s\n", w)
	}
	if out := c.String("output"); out != "" {
		if st, err := os.Stat(out); err == nil && st.IsDir() {
			out = filepath.Join(out, cc.FileName)
		}
		if err := fsutil.WriteFileAtomic(out, []byte(cc.Text), 0o644); err != nil {
			return fmt.Errorf("repo client-config: %w", err)
		}
		fmt.Fprintf(c.App.ErrWriter, "rpmforge: wrote %s\n", out)
		return nil
	}
	_, err = io.WriteString(c.App.Writer, cc.Text)
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// runCheckRoot is repo check-root (and repo check --root).
func runCheckRoot(c *cli.Context) error {
	res, err := checkRoot(c)
	if err != nil {
		return fmt.Errorf("repo check-root %s: %w", c.String("root"), err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, res)
	}
	for _, cc := range res.Channels {
		pending := ""
		if cc.Pending {
			pending = " (revision pending: the next change publishes it)"
		}
		fmt.Fprintf(c.App.Writer, "%s: OK, revision %d, repomd.xml %s, %s%s\n", cc.Channel, cc.Revision, cc.Repomd, plural(cc.Packages, "package"), pending)
	}
	fmt.Fprintf(c.App.Writer, "pool: OK, %s\n", plural(res.PoolObjects, "object"))
	return nil
}
