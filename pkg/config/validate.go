package config

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

var (
	nameRe     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
	versionRe  = regexp.MustCompile(`^[A-Za-z0-9._+~^]+$`)
	userRe     = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,30}$`)
	moduleRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
	wsgiRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$`)
	envNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	compressRe = regexp.MustCompile(`^(gzip(:[1-9])?|xz(:[0-9])?|zstd(:([1-9]|1[0-9]))?|none)$`)
	archRe     = regexp.MustCompile(`^(noarch|x86_64|aarch64|ppc64le|s390x|i686)$`)
)

// SystemDirs are directories owned by the "filesystem" package on
// Enterprise Linux; a package must never claim them (see nfpm files/fs.go).
var SystemDirs = map[string]bool{
	"/": true, "/bin": true, "/boot": true, "/dev": true, "/etc": true, "/home": true,
	"/lib": true, "/lib64": true, "/media": true, "/mnt": true, "/opt": true, "/proc": true,
	"/root": true, "/run": true, "/sbin": true, "/srv": true, "/sys": true, "/tmp": true,
	"/usr": true, "/usr/bin": true, "/usr/lib": true, "/usr/lib64": true, "/usr/libexec": true,
	"/usr/local": true, "/usr/sbin": true, "/usr/share": true, "/usr/lib/systemd": true,
	"/usr/lib/systemd/system": true, "/var": true, "/var/lib": true, "/var/log": true,
	"/var/cache": true, "/var/tmp": true, "/var/run": true, "/etc/systemd": true,
	"/etc/systemd/system": true, "/usr/share/doc": true, "/usr/share/licenses": true,
}

// Validate checks every field; the first problem is returned as an *Error
// naming the key and what is allowed.
func (c *Config) Validate() error {
	p := c.Package
	switch {
	case p.Name == "":
		return c.errf("package.name", "is required (the RPM name, e.g. \"mysite\")")
	case !nameRe.MatchString(p.Name):
		return c.errf("package.name", "%q is not a valid RPM name (letters, digits and ._+-, starting with a letter or digit)", p.Name)
	case p.Version != "git" && !versionRe.MatchString(p.Version):
		return c.errf("package.version", "%q: use \"git\" or a version of letters, digits and ._+~^ (no '-')", p.Version)
	case !versionRe.MatchString(p.Release):
		return c.errf("package.release", "%q: letters, digits and ._+~ only (no '-')", p.Release)
	case p.License == "":
		return c.errf("package.license", "is required (an SPDX expression such as \"BSD-3-Clause\", or \"LicenseRef-Proprietary\")")
	case strings.ContainsAny(p.Summary, "\n\r"):
		return c.errf("package.summary", "must be one line")
	case p.Changelog != nil && *p.Changelog < 0:
		return c.errf("package.changelog", "must be 0 (no changelog) or a positive number of entries")
	}
	for _, list := range []struct {
		key  string
		vals []string
	}{{"package.requires", p.Requires}, {"package.provides", p.Provides}, {"package.conflicts", p.Conflicts}, {"package.obsoletes", p.Obsoletes}} {
		for _, v := range list.vals {
			if err := checkRelation(v); err != nil {
				return c.errf(list.key, "%q: %v", v, err)
			}
		}
	}
	in := c.Install
	if err := checkOwnedDir(in.Prefix); err != nil {
		return c.errf("install.prefix", "%v", err)
	}
	if err := checkOwnedDir(in.Home); err != nil {
		return c.errf("install.home", "%v", err)
	}
	if !userRe.MatchString(in.User) {
		return c.errf("install.user", "%q is not a valid user name (lowercase letters, digits, _ and -, at most 31)", in.User)
	}
	if !userRe.MatchString(in.Group) {
		return c.errf("install.group", "%q is not a valid group name (lowercase letters, digits, _ and -, at most 31)", in.Group)
	}
	if in.User == "root" {
		return c.errf("install.user", "the service must not run as root")
	}
	for _, pat := range c.Project.Exclude {
		if _, err := path.Match(pat, "x"); err != nil {
			return c.errf("project.exclude", "%q is not a valid glob: %v", pat, err)
		}
	}
	if c.Venv.Python != "" && !path.IsAbs(c.Venv.Python) {
		return c.errf("venv.python", "%q must be an absolute interpreter path such as /usr/bin/python3.11", c.Venv.Python)
	}
	d := c.Django
	if err := checkRelPath(d.Manage); err != nil {
		return c.errf("django.manage", "%v", err)
	}
	if !moduleRe.MatchString(d.Settings) {
		return c.errf("django.settings", "%q must be a dotted Python module such as \"mysite.settings\"", d.Settings)
	}
	if c.Service.Unit == "" && !wsgiRe.MatchString(d.WSGI) {
		return c.errf("django.wsgi", "%q must be \"module:attribute\" such as \"mysite.wsgi:application\"", d.WSGI)
	}
	for _, k := range sortedKeys(d.BuildEnv) {
		if !envNameRe.MatchString(k) {
			return c.errf("django.build_env", "%q is not a valid environment variable name", k)
		}
	}
	s := c.Service
	if s.Workers < 1 || s.Workers > 512 {
		return c.errf("service.workers", "%d: must be between 1 and 512", s.Workers)
	}
	if strings.ContainsAny(s.Bind, " \t\n\"'") {
		return c.errf("service.bind", "%q: one address such as 127.0.0.1:8000 or unix:/run/app.sock", s.Bind)
	}
	for _, k := range sortedKeys(s.Env) {
		if !envNameRe.MatchString(k) {
			return c.errf("service.env", "%q is not a valid environment variable name", k)
		}
		if strings.ContainsAny(s.Env[k], "\n\r") {
			return c.errf("service.env", "%s: value must be one line", k)
		}
	}
	seen := map[string]bool{}
	for i, f := range c.Files {
		key := fmt.Sprintf("files[%d]", i)
		if f.Source == "" {
			return c.errf(key+".source", "is required")
		}
		if err := checkDest(f.Dest); err != nil {
			return c.errf(key+".dest", "%v", err)
		}
		if seen[f.Dest] {
			return c.errf(key+".dest", "%q is already used by another [[files]] entry", f.Dest)
		}
		seen[f.Dest] = true
		if _, err := ParseMode(f.Mode); err != nil {
			return c.errf(key+".mode", "%v", err)
		}
		if !userRe.MatchString(f.Owner) && f.Owner != "root" {
			return c.errf(key+".owner", "%q is not a valid user name", f.Owner)
		}
		if !userRe.MatchString(f.Group) && f.Group != "root" {
			return c.errf(key+".group", "%q is not a valid group name", f.Group)
		}
	}
	if !compressRe.MatchString(c.Build.Compression) {
		return c.errf("build.compression", "%q: use gzip, gzip:1-9, xz, xz:0-9, zstd, zstd:1-19 or none (zstd needs EL8+)", c.Build.Compression)
	}
	if c.Build.Arch != "" && !archRe.MatchString(c.Build.Arch) {
		return c.errf("build.arch", "%q: use noarch, x86_64, aarch64, ppc64le, s390x or i686 (empty: from content)", c.Build.Arch)
	}
	return nil
}

// ParseMode parses an octal permission string such as "0644".
func ParseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 07777 {
		return 0, fmt.Errorf("%q is not an octal mode such as \"0644\"", s)
	}
	return uint32(m), nil
}

// checkDest accepts an absolute, clean destination path with no ".." and
// rejects the system directories a package must not own.
func checkDest(p string) error {
	if p == "" {
		return fmt.Errorf("is required (an absolute install path)")
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("%q must be an absolute path", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%q must not contain \"..\"", p)
		}
	}
	if strings.ContainsAny(p, "\x00\n\r") {
		return fmt.Errorf("%q contains a control character", p)
	}
	if path.Clean(p) != p {
		return fmt.Errorf("%q is not clean (write %q)", p, path.Clean(p))
	}
	if SystemDirs[p] {
		return fmt.Errorf("%q is a system directory owned by the filesystem package", p)
	}
	return nil
}

func checkOwnedDir(p string) error {
	if err := checkDest(p); err != nil {
		return err
	}
	if strings.Count(p, "/") < 2 && !strings.HasPrefix(p, "/opt/") && !strings.HasPrefix(p, "/srv/") {
		return fmt.Errorf("%q is too close to / (use e.g. /opt/<name>)", p)
	}
	return nil
}

func checkRelPath(p string) error {
	if p == "" || path.IsAbs(p) {
		return fmt.Errorf("%q must be a path relative to the project directory", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return fmt.Errorf("%q must not contain \"..\"", p)
		}
	}
	return nil
}

var relationRe = regexp.MustCompile(`^[^\s<>=]+(\s+(<|<=|=|>=|>)\s+[^\s<>=]+)?$`)

func checkRelation(s string) error {
	if !relationRe.MatchString(strings.TrimSpace(s)) {
		return fmt.Errorf("not a dependency (write \"name\" or \"name >= version\")")
	}
	return nil
}
