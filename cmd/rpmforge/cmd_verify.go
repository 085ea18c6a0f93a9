package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/sign"
)

type verifyOptions struct {
	keys             []string
	requireSignature bool
	verbose          bool
	json             bool
	packages         []string
}

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "check the digests and signatures of RPM packages, as rpmkeys --checksig does",
		ArgsUsage: "PKG.rpm...",
		Description: "Signatures are checked against the public keys given with --key (none: every signature\n" +
			"is NOKEY, a failure). Unsigned packages with good digests pass, as with rpmkeys\n" +
			"--checksig, unless --require-signature is given. The exit status is 1 if any\n" +
			"package fails.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "key", Aliases: []string{"k"}, Usage: "public key `FILE` (RPM-GPG-KEY, .pub.asc); repeatable"},
			&cli.BoolFlag{Name: "require-signature", Usage: "fail packages that are not signed"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print every digest and signature, as rpmkeys -Kv"},
			&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("verify needs at least one package")
			}
			return runVerify(verifyOptions{
				keys: c.StringSlice("key"), requireSignature: c.Bool("require-signature"),
				verbose: c.Bool("verbose"), json: c.Bool("json"), packages: c.Args().Slice(),
			}, c.App.Writer)
		},
	}
}

// verifyResult is one package in verify's --json output.
type verifyResult struct {
	Path string `json:"path"`
	*sign.Report
	Summary string `json:"summary"`
}

func runVerify(opts verifyOptions, stdout io.Writer) error {
	var keys sign.KeyRing
	for _, f := range opts.keys {
		if err := keys.ReadKeyFile(f); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	vo := sign.VerifyOptions{RequireSignature: opts.requireSignature}
	var results []verifyResult
	failed := 0
	for _, p := range opts.packages {
		rep, err := sign.VerifyFile(p, &keys, vo)
		if err != nil {
			rep = &sign.Report{Problem: err.Error(), Checks: []sign.Check{}}
		}
		if !rep.OK {
			failed++
		}
		r := verifyResult{Path: p, Report: rep, Summary: rep.Summary()}
		results = append(results, r)
		if opts.json {
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", p, r.Summary)
		if opts.verbose {
			for _, c := range rep.Checks {
				line := "    " + c.Name + ": " + string(c.Result)
				if c.Detail != "" {
					line += " (" + c.Detail + ")"
				}
				if c.Fingerprint != "" {
					line += " [key " + c.Fingerprint + "]"
				}
				fmt.Fprintln(stdout, line)
			}
		}
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(results); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("verify: %d of %d packages NOT OK", failed, len(opts.packages))
	}
	return nil
}
