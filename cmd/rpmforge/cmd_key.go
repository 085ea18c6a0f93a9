package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/rpmforge/rpmforge/pkg/fsutil"
	"github.com/rpmforge/rpmforge/pkg/sign"
)

// Environment variables for signing keys. Passphrases are never taken from
// the command line, where ps would show them.
const (
	envSigningKey = "RPMFORGE_SIGNING_KEY"    // an armored private key (CI secret)
	envPassphrase = "RPMFORGE_KEY_PASSPHRASE" // its passphrase
)

type keyGenerateOptions struct {
	name, email    string
	algo           sign.Algo
	out            string
	passphraseFile string
	force          bool
	json           bool
}

func keyCommand() *cli.Command {
	return &cli.Command{
		Name:  "key",
		Usage: "manage package signing keys",
		Subcommands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "make a signing key: PREFIX.sec.asc (private) and PREFIX.pub.asc (the RPM-GPG-KEY to publish)",
				Description: "The private key is passphrase-protected when " + envPassphrase + " or --passphrase-file\n" +
					"gives one. RSA-4096 is the default: rpm before 4.16 (EL 7, EL 8) does not verify EdDSA.",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true, Usage: "user ID name, such as \"ACME Packaging\""},
					&cli.StringFlag{Name: "email", Usage: "user ID email address"},
					&cli.StringFlag{Name: "algo", Value: string(sign.RSA4096), Usage: "rsa4096 or ed25519"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "`PREFIX` of the files to write"},
					&cli.StringFlag{Name: "passphrase-file", Usage: "read the passphrase protecting the private key from `FILE` (default: $" + envPassphrase + ")"},
					&cli.BoolFlag{Name: "force", Usage: "overwrite existing key files"},
					&cli.BoolFlag{Name: "json", Usage: "print a machine-readable result on stdout"},
				},
				Action: func(c *cli.Context) error {
					if c.NArg() > 0 {
						return usagef("key generate takes no arguments (got %q)", c.Args().First())
					}
					algo := sign.Algo(c.String("algo"))
					if !slices.Contains(sign.Algos, algo) {
						return usagef("--algo %q: want rsa4096 or ed25519", algo)
					}
					return runKeyGenerate(keyGenerateOptions{
						name: c.String("name"), email: c.String("email"), algo: algo, out: c.String("out"),
						passphraseFile: c.String("passphrase-file"), force: c.Bool("force"), json: c.Bool("json"),
					}, c.App.Writer, c.App.ErrWriter)
				},
			},
		},
	}
}

// keyResult is key generate's --json output.
type keyResult struct {
	Fingerprint string `json:"fingerprint"`
	KeyID       string `json:"key_id"`
	Algo        string `json:"algo"`
	UserID      string `json:"user_id"`
	RPMName     string `json:"rpm_name"` // gpg-pubkey-... once imported
	PrivateKey  string `json:"private_key"`
	PublicKey   string `json:"public_key"`
	Protected   bool   `json:"protected"` // private key passphrase-protected
}

func runKeyGenerate(opts keyGenerateOptions, stdout, stderr io.Writer) error {
	pass, err := readPassphrase(opts.passphraseFile)
	if err != nil {
		return err
	}
	secPath, pubPath := opts.out+".sec.asc", opts.out+".pub.asc"
	if !opts.force {
		for _, p := range []string{secPath, pubPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("key generate: %s already exists (use --force to overwrite, or another --out)", p)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(secPath), 0o755); err != nil {
		return fmt.Errorf("key generate: %w", err)
	}
	k, err := sign.Generate(sign.GenerateOptions{Name: opts.name, Email: opts.email, Algo: opts.algo})
	if err != nil {
		return err
	}
	var sec, pub bytes.Buffer
	if err := k.WritePrivate(&sec, pass); err != nil {
		return err
	}
	if err := k.WritePublic(&pub); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(secPath, sec.Bytes(), 0o600); err != nil {
		return fmt.Errorf("key generate: %w", err)
	}
	if err := fsutil.WriteFileAtomic(pubPath, pub.Bytes(), 0o644); err != nil {
		return fmt.Errorf("key generate: %w", err)
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(keyResult{
			Fingerprint: k.Fingerprint(), KeyID: k.KeyID(), Algo: string(opts.algo), UserID: k.UserID(),
			RPMName: k.RPMName(), PrivateKey: secPath, PublicKey: pubPath, Protected: len(pass) > 0,
		})
	}
	fmt.Fprintf(stdout, "key %s (%s) %s\n  private: %s\n  public:  %s (publish it as RPM-GPG-KEY-%s)\n",
		k.Fingerprint(), opts.algo, k.UserID(), secPath, pubPath, publicName(opts.name))
	if len(pass) == 0 {
		fmt.Fprintf(stderr, "rpmforge: note: %s is not passphrase-protected (set %s or --passphrase-file to protect it)\n", secPath, envPassphrase)
	}
	return nil
}

// publicName turns a key name into the usual RPM-GPG-KEY-<name> suffix.
func publicName(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, name)
}

// readPassphrase returns the passphrase from --passphrase-file, else from
// $RPMFORGE_KEY_PASSPHRASE, else nil. One trailing newline is dropped from
// the file. Errors never contain it.
func readPassphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("--passphrase-file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return nil, fmt.Errorf("--passphrase-file %s is empty: put the passphrase in it", file)
		}
		return b, nil
	}
	if v := os.Getenv(envPassphrase); v != "" {
		return []byte(v), nil
	}
	return nil, nil
}

// loadSigningKey loads the private key from keyFile, else from
// $RPMFORGE_SIGNING_KEY; it returns nil, nil when neither is set. Errors say
// what to do.
func loadSigningKey(keyFile, passphraseFile string) (*sign.Key, error) {
	pass, err := readPassphrase(passphraseFile)
	if err != nil {
		return nil, err
	}
	var k *sign.Key
	switch env := os.Getenv(envSigningKey); {
	case keyFile != "":
		k, err = sign.LoadFile(keyFile, pass)
	case env != "":
		k, err = sign.Load(strings.NewReader(env), "$"+envSigningKey, pass)
	default:
		return nil, nil
	}
	switch {
	case errors.Is(err, sign.ErrPassphraseNeeded):
		return nil, fmt.Errorf("%w: set %s or pass --passphrase-file", err, envPassphrase)
	case errors.Is(err, sign.ErrWrongPassphrase):
		return nil, fmt.Errorf("%w: check %s or the --passphrase-file", err, envPassphrase)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w (make one with rpmforge key generate)", err)
	}
	return k, err
}
