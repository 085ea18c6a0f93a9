package config

import (
	"os"
	"path/filepath"
)

// Defaults for values the file leaves out.
const (
	DefaultCompression = "gzip" // installs on every Enterprise Linux from 7 on
	DefaultBind        = "127.0.0.1:8000"
	DefaultWorkers     = 3
	DefaultChangelog   = 20
)

// ApplyDefaults fills every field the file left out. It derives values
// (prefix, user, venv path) and never validates; call Validate after it.
func (c *Config) ApplyDefaults() {
	p := &c.Package
	if p.Version == "" {
		p.Version = "git"
	}
	if p.Release == "" {
		p.Release = "1"
	}
	if p.Summary == "" && p.Name != "" {
		p.Summary = p.Name + " Django application"
	}
	if p.Description == "" {
		p.Description = p.Summary
	}
	if p.Changelog == nil {
		n := DefaultChangelog
		p.Changelog = &n
	}
	in := &c.Install
	if in.Prefix == "" && p.Name != "" {
		in.Prefix = "/opt/" + p.Name
	}
	if in.User == "" {
		in.User = p.Name
	}
	if in.Group == "" {
		in.Group = in.User
	}
	if in.Home == "" && p.Name != "" {
		in.Home = "/var/lib/" + p.Name
	}
	if c.Project.Dir == "" {
		c.Project.Dir = "."
	}
	if c.Venv.Path == "" {
		c.Venv.Path = c.findVenv()
	}
	d := &c.Django
	if d.Manage == "" {
		d.Manage = "manage.py"
	}
	t := true
	if d.Collectstatic == nil {
		d.Collectstatic = &t
	}
	if d.Compile == nil {
		d.Compile = &t
	}
	s := &c.Service
	if s.Enable == nil {
		s.Enable = &t
	}
	if s.Bind == "" {
		s.Bind = DefaultBind
	}
	if s.Workers == 0 {
		s.Workers = DefaultWorkers
	}
	for i := range c.Files {
		f := &c.Files[i]
		if f.NoReplace == nil {
			nr := f.Config
			f.NoReplace = &nr
		}
		if f.Mode == "" {
			f.Mode = "0644"
		}
		if f.Owner == "" {
			f.Owner = "root"
		}
		if f.Group == "" {
			f.Group = "root"
		}
	}
	if c.Build.Compression == "" {
		c.Build.Compression = DefaultCompression
	}
}

// findVenv picks the venv as a Python developer would expect: $VIRTUAL_ENV,
// then ./venv, then ./.venv (relative to the project dir).
func (c *Config) findVenv() string {
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		return v
	}
	proj := c.Abs(c.Project.Dir)
	for _, cand := range []string{"venv", ".venv"} {
		if st, err := os.Stat(filepath.Join(proj, cand, "pyvenv.cfg")); err == nil && !st.IsDir() {
			rel, err := filepath.Rel(c.Dir(), filepath.Join(proj, cand))
			if err == nil {
				return rel
			}
		}
	}
	return filepath.Join(c.Project.Dir, "venv")
}
