package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/checkinstall"
)

func checkInstallCommand() *cli.Command {
	return &cli.Command{
		Name:      "check-install",
		Usage:     "install, upgrade, verify, smoke-test, downgrade and erase a channel's package in a scratch dnf root",
		ArgsUsage: "NAME",
		Description: "Makes a scratch dnf installroot configured as a host (the channels' .repo files from\n" +
			"client-config with file:// URLs of --root, gpgcheck=1, repo_gpgcheck=1, their keys), installs\n" +
			"the version of NAME in --from-channel (if any), upgrades to the newest NAME in --channel,\n" +
			"verifies (rpm -V, every scriptlet exited 0, the systemd unit and its User= exist), runs\n" +
			"--smoke chrooted into the root, downgrades, upgrades again and erases. Each step is a line\n" +
			"on stdout and a test case in --junit. Exits 1 when a step failed. Needs root, rpm, rpmbuild,\n" +
			"dnf and busybox-static on the CI host. See docs/check-install.md.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "root", Usage: "the repository root `DIR` (pool, channels)"},
			&cli.StringFlag{Name: "channel", Aliases: []string{"c"}, Usage: "the channel `NAME` holding the candidate"},
			&cli.StringFlag{Name: "from-channel", Usage: "the channel `NAME` hosts run now (its version is installed first)"},
			&cli.StringFlag{Name: "smoke", Usage: "shell `CMD` run chrooted into the root after the upgrade"},
			&cli.StringFlag{Name: "junit", Usage: "write a JUnit XML report to `FILE`"},
			&cli.StringSliceFlag{Name: "base-provides", Usage: "extra `CAPABILITY` the scratch root provides (such as 'libfoo.so.1()(64bit)'); repeatable"},
			&cli.BoolFlag{Name: "with-python", Value: true, Usage: "put the host's python3.11 and standard library into the root (for %post running manage.py)"},
			&cli.StringFlag{Name: "cache-dir", Usage: "where the root's base package is cached (default $XDG_CACHE_HOME/rpmforge/hostroot)"},
			&cli.StringFlag{Name: "work-dir", Usage: "make the scratch root in `DIR` (kept) instead of a temporary directory"},
		},
		Action: runCheckInstall,
	}
}

func runCheckInstall(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("check-install needs one package NAME (got %d arguments)", c.NArg())
	}
	for _, n := range []string{"root", "channel"} {
		if strings.TrimSpace(c.String(n)) == "" {
			return usagef("check-install: --%s is required", n)
		}
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := checkinstall.Run(ctx, checkinstall.Options{
		RootDir: c.String("root"), Channel: c.String("channel"), FromChannel: c.String("from-channel"),
		Name: c.Args().First(), Smoke: c.String("smoke"), Python: c.Bool("with-python"),
		BaseProvides: c.StringSlice("base-provides"), CacheDir: c.String("cache-dir"),
		WorkDir: c.String("work-dir"), Keep: c.IsSet("work-dir"), Out: c.App.Writer,
	})
	if err != nil {
		// Jenkins still gets a report: one failed setup case.
		if f := c.String("junit"); f != "" {
			rep = &checkinstall.Report{Name: c.Args().First(), Channel: c.String("channel"), Start: time.Now(),
				Cases: []checkinstall.Case{{Name: checkinstall.StepSetup, Failure: err.Error()}}}
			var b bytes.Buffer
			if rep.WriteJUnit(&b) == nil {
				_ = writeJUnitFile(f, b.Bytes())
			}
		}
		return err
	}
	if f := c.String("junit"); f != "" {
		var b bytes.Buffer
		if err := rep.WriteJUnit(&b); err != nil {
			return err
		}
		if err := writeJUnitFile(f, b.Bytes()); err != nil {
			return fmt.Errorf("check-install: %w", err)
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		names := make([]string, len(failed))
		for i, f := range failed {
			names[i] = f.Name
		}
		return fmt.Errorf("check-install %s: %d of %d steps failed (%s)", rep.Candidate, len(failed), len(rep.Cases), strings.Join(names, ", "))
	}
	fmt.Fprintf(c.App.Writer, "check-install %s: all steps passed (%.1fs)\n", rep.Candidate, rep.Duration.Seconds())
	return nil
}

// writeJUnitFile writes the report through a temporary file and a rename, so
// Jenkins never reads half of it.
func writeJUnitFile(name string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(name), ".junit-*.xml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// runGate runs repo promote's --gate command with sh -c, its output passed
// through; a failure refuses the promotion. An empty gate passes.
func runGate(c *cli.Context, gate string) error {
	if strings.TrimSpace(gate) == "" {
		return nil
	}
	fmt.Fprintf(c.App.ErrWriter, "rpmforge: gate: %s\n", gate)
	cmd := exec.CommandContext(c.Context, "sh", "-c", gate)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = c.App.Writer, c.App.ErrWriter
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("repo promote: gate %q failed (%v): nothing promoted", gate, err)
	}
	return nil
}
