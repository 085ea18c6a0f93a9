// Package config reads, defaults and validates rpmforge.toml.
//
// The three steps are separate, as in nfpm: Load decodes strictly (unknown
// keys are errors with file:line), ApplyDefaults fills what the file left out
// from what can be derived (prefix from name, user from name, ...), and
// Validate checks every field and names the key and what is allowed.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// FileName is the default config file name.
const FileName = "rpmforge.toml"

// Config is the whole of rpmforge.toml.
type Config struct {
	Package    Package    `toml:"package"`
	Install    Install    `toml:"install"`
	Project    Project    `toml:"project"`
	Venv       Venv       `toml:"venv"`
	Django     Django     `toml:"django"`
	Service    Service    `toml:"service"`
	Files      []File     `toml:"files"`
	Scriptlets Scriptlets `toml:"scriptlets"`
	Build      Build      `toml:"build"`

	// Path is the absolute path of the file the config was read from; relative
	// paths in the config are relative to its directory.
	Path string `toml:"-"`
	// lines keeps the file for error positions.
	lines []string
}

// Package is the RPM's identity and descriptive metadata.
type Package struct {
	Name        string   `toml:"name"`
	Epoch       *uint32  `toml:"epoch"`
	Version     string   `toml:"version"` // "git" (default) or a literal version
	Release     string   `toml:"release"`
	Summary     string   `toml:"summary"`
	Description string   `toml:"description"`
	License     string   `toml:"license"`
	URL         string   `toml:"url"`
	Vendor      string   `toml:"vendor"`
	Packager    string   `toml:"packager"`
	Group       string   `toml:"group"`
	BuildHost   string   `toml:"buildhost"`
	Requires    []string `toml:"requires"`
	Provides    []string `toml:"provides"`
	Conflicts   []string `toml:"conflicts"`
	Obsoletes   []string `toml:"obsoletes"`
	Changelog   *int     `toml:"changelog"` // max %changelog entries from git history; 0 disables
}

// Install says where and as whom the app is installed.
type Install struct {
	Prefix string `toml:"prefix"` // default /opt/<name>
	User   string `toml:"user"`   // service user, default <name>
	Group  string `toml:"group"`  // default = user
	Home   string `toml:"home"`   // user's home, default /var/lib/<name>
}

// Project is the Django source tree.
type Project struct {
	Dir     string   `toml:"dir"`     // default: the config file's directory
	Exclude []string `toml:"exclude"` // extra glob patterns, matched against slash paths relative to Dir and base names
}

// Venv is the build-time virtualenv.
type Venv struct {
	Path   string `toml:"path"`   // default: $VIRTUAL_ENV, ./venv, ./.venv
	Python string `toml:"python"` // expected base interpreter, e.g. /usr/bin/python3.11; empty: whatever pyvenv.cfg says
}

// Django holds the Django-specific build and install steps.
type Django struct {
	Manage        string            `toml:"manage"`   // path of manage.py relative to the project dir
	Settings      string            `toml:"settings"` // DJANGO_SETTINGS_MODULE
	WSGI          string            `toml:"wsgi"`     // "mysite.wsgi:application"
	Collectstatic *bool             `toml:"collectstatic"`
	Compile       *bool             `toml:"compile"` // byte-compile at build time
	Migrate       bool              `toml:"migrate"` // run migrate in %post on install and upgrade
	BuildEnv      map[string]string `toml:"build_env"`
}

// Service is the systemd unit.
type Service struct {
	Enable  *bool             `toml:"enable"`
	Bind    string            `toml:"bind"`
	Workers int               `toml:"workers"`
	Unit    string            `toml:"unit"` // a unit file of the user's, used instead of the generated one
	Env     map[string]string `toml:"env"`  // initial content of /etc/<name>/<name>.env
}

// File is an extra file placed in the package.
type File struct {
	Source    string `toml:"source"`
	Dest      string `toml:"dest"`
	Config    bool   `toml:"config"`
	NoReplace *bool  `toml:"noreplace"` // default true for config files
	Mode      string `toml:"mode"`      // octal, e.g. "0644"
	Owner     string `toml:"owner"`
	Group     string `toml:"group"`
}

// Scriptlets are user scriptlet files appended to the built-in ones.
type Scriptlets struct {
	Pre    string `toml:"pre"`
	Post   string `toml:"post"`
	PreUn  string `toml:"preun"`
	PostUn string `toml:"postun"`
}

// Build holds packaging options.
type Build struct {
	Compression string `toml:"compression"` // gzip (default), gzip:N, xz, xz:N, zstd, zstd:N
	Arch        string `toml:"arch"`        // default: from content (noarch without ELF files)
}

// Error is a config error tied to a file, a key and, when known, a line.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Key, e.Msg)
}

// Load reads path strictly: a syntax error, a wrong type or an unknown key
// is an *Error naming the file and line.
func Load(path string) (*Config, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config: %s not found (run 'rpmforge init' to write one): %w", path, err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(abs, data)
}

// Parse decodes data as if read from path.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{Path: path, lines: splitLines(data)}
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &Error{File: path, Line: min(pe.Position.Line, len(c.lines)), Key: pe.LastKey, Msg: pe.Message}
		}
		// Type errors are plain: "toml: line 8 (last key "a.b"): incompatible types: ..."
		if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			return nil, &Error{File: path, Line: line, Key: m[2], Msg: strings.Replace(m[3], "TOML value has type", "the file has a", 1)}
		}
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if und := md.Undecoded(); len(und) > 0 {
		k := und[0]
		return nil, &Error{File: path, Line: c.lineOf(k), Key: k.String(),
			Msg: "unknown key (see the config reference in README.md)"}
	}
	return c, nil
}

func splitLines(data []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

var tableRe = regexp.MustCompile(`^\s*\[\[?\s*([^\]]+?)\s*\]\]?`)

// lineOf finds the line defining key: the last component as a key inside
// the table that holds it (toml's MetaData keeps positions private).
func (c *Config) lineOf(k toml.Key) int {
	if len(k) == 0 {
		return 0
	}
	table := strings.Join(k[:len(k)-1], ".")
	last := k[len(k)-1]
	keyRe := regexp.MustCompile(`^\s*"?` + regexp.QuoteMeta(last) + `"?\s*=`)
	cur := ""
	for i, l := range c.lines {
		if m := tableRe.FindStringSubmatch(l); m != nil {
			cur = strings.ReplaceAll(m[1], " ", "")
			if cur == strings.Join(k, ".") {
				return i + 1 // an unknown table
			}
			continue
		}
		if keyRe.MatchString(l) && (cur == table || table == "" || strings.HasSuffix(table, "."+cur) || strings.HasPrefix(table, cur)) {
			return i + 1
		}
	}
	return 0
}

// errf builds an *Error for key, locating it in the file.
func (c *Config) errf(key, format string, args ...any) error {
	return &Error{File: c.Path, Line: c.lineOf(toml.Key(strings.Split(key, "."))), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Dir is the directory of the config file.
func (c *Config) Dir() string { return filepath.Dir(c.Path) }

// Abs resolves p relative to the config file's directory.
func (c *Config) Abs(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir(), p)
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
