package channel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/rpmforge/rpmforge/pkg/repo"
)

// ConfigName is the optional configuration file at the top of a root.
const ConfigName = "rpmforge-channels.toml"

// DefaultChannels are the channels of a root without a configuration file.
var DefaultChannels = []string{"dev", "staging", "prod"}

// Defaults of the configuration.
const (
	DefaultGrace           = 24 * time.Hour
	DefaultRetainSnapshots = 10
)

// LinkMode says how a channel's package file refers to its pool object.
type LinkMode string

// Link modes. Every client follows all three: the package appears inside
// the channel directory (zypper refuses ../ hrefs and xml:base).
const (
	Hardlink LinkMode = "hardlink" // default: same inode, no traversal for a web server to allow
	Symlink  LinkMode = "symlink"  // relative symlink to ../../pool/...; the server must follow it
	Copy     LinkMode = "copy"     // a copy (another filesystem; object stores copy server-side)
)

// Config is a root's rpmforge-channels.toml. The zero value, filled by
// LoadConfig, is the default configuration.
type Config struct {
	// Name prefixes the repository ids of client configurations
	// ("<name>-<channel>") and names the published key
	// (RPM-GPG-KEY-<name>). Default: the root directory's name.
	Name string `toml:"name"`
	// Channels are the channel names, in promotion order.
	Channels []string `toml:"channels"`
	// Link is how channel package files refer to the pool.
	Link LinkMode `toml:"link"`
	// Grace is how long a pool file nothing references any more is kept
	// before prune removes it ("24h", "7d" is not Go syntax: use "168h").
	Grace Duration `toml:"grace"`
	// RetainSnapshots is how many of each channel's newest snapshots keep
	// their package sets (rollback targets); older ones stay in the
	// history as records only.
	RetainSnapshots int `toml:"retain_snapshots"`
	// Compress is the metadata compression: gzip, xz or zstd.
	Compress string `toml:"compress"`
	// Database also publishes the sqlite databases yum 3 prefers.
	Database bool `toml:"database"`
	// KeepGenerations is how many repomd.xml generations keep their files.
	KeepGenerations int `toml:"keep_generations"`
	// Keyring lists public key files (relative to the root, or absolute)
	// that package signatures are checked against.
	Keyring []string `toml:"keyring"`
	// Channel holds per-channel settings.
	Channel map[string]ChannelConfig `toml:"channel"`
}

// ChannelConfig is a [channel.NAME] table.
type ChannelConfig struct {
	// RequireKey refuses, on add and on promotion into the channel,
	// packages not signed by the key with this fingerprint (or long key
	// ID).
	RequireKey string `toml:"require_key"`
}

// Duration is a time.Duration written as "24h" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// reserved names cannot be channels: they are the root's other entries.
var reserved = []string{"pool", "repodata", "keys"}

// LoadConfig reads root/rpmforge-channels.toml; a missing file gives the
// defaults. Unknown keys are errors.
func LoadConfig(root string) (*Config, error) {
	p := filepath.Join(root, ConfigName)
	b, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("channel: %w", err)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return ParseConfig(b, p, filepath.Base(abs))
}

// LoadConfigFrom reads rpmforge-channels.toml from a store (where names it
// in messages, base is the root's default name); a missing file gives the
// defaults.
func LoadConfigFrom(ctx context.Context, s Store, where, base string) (*Config, error) {
	rc, err := s.Open(ctx, ConfigName)
	var b []byte
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("channel: %w", err)
	default:
		b, err = io.ReadAll(io.LimitReader(rc, 1<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("channel: reading %s: %w", where, err)
		}
	}
	return ParseConfig(b, where, base)
}

// ParseConfig parses the content of rpmforge-channels.toml (nil: the
// defaults); where names the file in errors, base is the root's name
// (the default repository id prefix).
func ParseConfig(b []byte, where, base string) (*Config, error) {
	c := &Config{}
	if b != nil {
		md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(c)
		if err != nil {
			return nil, fmt.Errorf("channel: %s: %w (fix the file; see docs/channels.md)", where, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			keys := make([]string, len(und))
			for i, k := range und {
				keys[i] = k.String()
			}
			return nil, fmt.Errorf("channel: %s: unknown key %s (see docs/channels.md for the keys)", where, strings.Join(keys, ", "))
		}
	}
	if err := c.fill(base); err != nil {
		return nil, fmt.Errorf("channel: %s: %w", where, err)
	}
	return c, nil
}

func (c *Config) fill(base string) error {
	if c.Name == "" {
		c.Name = nameFrom(base)
	}
	if !channelName.MatchString(c.Name) {
		return fmt.Errorf("name %q: use lowercase letters, digits, '.', '_' and '-'", c.Name)
	}
	if c.Channels == nil {
		c.Channels = slices.Clone(DefaultChannels)
	}
	if len(c.Channels) == 0 {
		return errors.New("channels: the list is empty; name at least one channel")
	}
	seen := map[string]bool{}
	for _, ch := range c.Channels {
		if !channelName.MatchString(ch) || slices.Contains(reserved, ch) {
			return fmt.Errorf("channels: %q is not a valid channel name (lowercase letters, digits, '.', '_', '-'; not %s)", ch, strings.Join(reserved, ", "))
		}
		if seen[ch] {
			return fmt.Errorf("channels: %q is listed twice", ch)
		}
		seen[ch] = true
	}
	for ch := range c.Channel {
		if !seen[ch] {
			return fmt.Errorf("[channel.%s]: not in channels = %q; add it there or remove the table", ch, c.Channels)
		}
	}
	switch c.Link {
	case "":
		c.Link = Hardlink
	case Hardlink, Symlink, Copy:
	default:
		return fmt.Errorf("link = %q: want hardlink, symlink or copy", c.Link)
	}
	if c.Grace.Duration == 0 {
		c.Grace.Duration = DefaultGrace
	}
	if c.Grace.Duration < 0 {
		return fmt.Errorf("grace = %s: want a positive duration such as \"24h\"", c.Grace)
	}
	if c.RetainSnapshots == 0 {
		c.RetainSnapshots = DefaultRetainSnapshots
	}
	if c.RetainSnapshots < 1 {
		return fmt.Errorf("retain_snapshots = %d: want at least 1", c.RetainSnapshots)
	}
	if c.Compress == "" {
		c.Compress = string(repo.Gzip)
	}
	if _, err := repo.ParseCompression(c.Compress); err != nil {
		return fmt.Errorf("compress: %w", err)
	}
	if c.KeepGenerations == 0 {
		c.KeepGenerations = repo.DefaultKeepGenerations
	}
	if c.KeepGenerations < 1 {
		return fmt.Errorf("keep_generations = %d: want at least 1", c.KeepGenerations)
	}
	for ch, cc := range c.Channel {
		if cc.RequireKey != "" && normFingerprint(cc.RequireKey) == "" {
			return fmt.Errorf("[channel.%s] require_key = %q: want a key fingerprint (40 hex digits) or long key ID (16)", ch, cc.RequireKey)
		}
	}
	return nil
}

// nameFrom makes a valid name of a directory name: lower case, other
// characters replaced by '-'.
func nameFrom(dir string) string {
	b := []byte(strings.ToLower(dir))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	s := strings.TrimLeft(string(b), "._-")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		return "rpmforge"
	}
	return s
}

// HasChannel reports whether name is a configured channel.
func (c *Config) HasChannel(name string) bool { return slices.Contains(c.Channels, name) }

// KeyName is the published public key's file name at a channel's root.
func (c *Config) KeyName() string { return "RPM-GPG-KEY-" + c.Name }

// normFingerprint returns fpr in upper case without spaces and a "0x"
// prefix, or "" when it is not 16 to 40 hex digits.
func normFingerprint(fpr string) string {
	s := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(fpr), " ", ""))
	s = strings.TrimPrefix(s, "0X")
	if len(s) < 16 || len(s) > 40 {
		return ""
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return ""
		}
	}
	return s
}

// fingerprintMatches reports whether the key fingerprint full (as sign
// reports it) is the one want names (a fingerprint or a long key ID).
func fingerprintMatches(full, want string) bool {
	f, w := normFingerprint(full), normFingerprint(want)
	return f != "" && w != "" && strings.HasSuffix(f, w)
}
