// Command rpmforge packages a Django project and its virtualenv as a signed
// RPM, publishes yum/dnf repositories and reports a software inventory.
//
// This package is the only one that knows about flags, terminals and exit
// codes; the work happens in pkg/.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/config"
)

// Exit codes, documented in README.md.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed
	exitUsage   = 2 // bad flags or arguments
	exitConfig  = 3 // rpmforge.toml is broken or invalid
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args))
}

func run(args []string) int {
	app := newApp()
	err := app.Run(args)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "rpmforge: "+err.Error())
	return exitCode(err)
}

// usageError marks errors in how the command was called.
type usageError struct{ error }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func exitCode(err error) int {
	var ue usageError
	var ce *config.Error
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitConfig
	default:
		return exitFailure
	}
}

func newApp() *cli.App {
	onUsage := func(c *cli.Context, err error, isSubcommand bool) error { return usageError{err} }
	app := &cli.App{
		Name:    "rpmforge",
		Usage:   "package a Django app as a signed RPM, publish it, inventory it",
		Version: version,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress output"},
		},
		Commands: []*cli.Command{
			initCommand(),
			buildCommand(),
			keyCommand(),
			signCommand(),
			verifyCommand(),
			inventoryCommand(),
			repoCommand(),
			serveCommand(),
			checkInstallCommand(),
		},
		OnUsageError:    onUsage,
		HideHelpCommand: true,
	}
	for _, c := range app.Commands {
		setUsageHandler(c, onUsage)
	}
	return app
}

// setUsageHandler maps flag errors of every (sub)command to exitUsage.
func setUsageHandler(c *cli.Command, h cli.OnUsageErrorFunc) {
	if c.OnUsageError == nil {
		c.OnUsageError = h
	}
	for _, s := range c.Subcommands {
		setUsageHandler(s, h)
	}
}
