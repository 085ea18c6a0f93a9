package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/sign"
)

type signOptions struct {
	key            string
	passphraseFile string
	json           bool
	packages       []string
}

func signCommand() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign existing RPM packages in place",
		ArgsUsage: "PKG.rpm...",
		Description: "Each package is rewritten atomically (temporary file, fsync, rename) with an RSA header\n" +
			"and header+payload signature, or an EdDSA header signature, both over SHA-256.\n" +
			"The key comes from --key or from the armored key in $" + envSigningKey + "; its\n" +
			"passphrase from --passphrase-file or $" + envPassphrase + ".",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Aliases: []string{"k"}, Usage: "private key `FILE` (default: $" + envSigningKey + ")"},
			&cli.StringFlag{Name: "passphrase-file", Usage: "read the key's passphrase from `FILE` (default: $" + envPassphrase + ")"},
			&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("sign needs at least one package")
			}
			return runSign(signOptions{
				key: c.String("key"), passphraseFile: c.String("passphrase-file"),
				json: c.Bool("json"), packages: c.Args().Slice(),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// signResult is one package in sign's --json output.
type signResult struct {
	Path        string `json:"path"`
	Signed      bool   `json:"signed"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Error       string `json:"error,omitempty"`
}

func runSign(opts signOptions, stdout, stderr io.Writer) error {
	// Everything that can be checked is checked before any package is
	// touched: the key, then that every package is a readable file.
	k, err := loadSigningKey(opts.key, opts.passphraseFile)
	if err != nil {
		return err
	}
	if k == nil {
		return usagef("sign: no key: pass --key FILE or set %s", envSigningKey)
	}
	for _, p := range opts.packages {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("sign: %w (nothing was signed)", err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("sign: %s is not a regular file (nothing was signed)", p)
		}
	}
	var results []signResult
	failed := 0
	for _, p := range opts.packages {
		r := signResult{Path: p}
		if err := sign.SignFile(p, k); err != nil {
			failed++
			r.Error = err.Error()
			fmt.Fprintf(stderr, "rpmforge: %v\n", err)
		} else {
			r.Signed, r.Fingerprint = true, k.Fingerprint()
			if !opts.json {
				fmt.Fprintf(stdout, "%s: signed (key %s)\n", p, k.Fingerprint())
			}
		}
		results = append(results, r)
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
		return fmt.Errorf("sign: %d of %d packages not signed (left unchanged)", failed, len(opts.packages))
	}
	return nil
}
