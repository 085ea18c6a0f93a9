// Package project finds what a Django project is made of: manage.py, its
// settings and WSGI modules, its virtualenv and a package name.
package project

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Detected is what Detect found; empty fields were not found.
type Detected struct {
	Dir      string // absolute project dir
	Name     string // RPM name suggestion
	Manage   string // relative path of manage.py
	Settings string // DJANGO_SETTINGS_MODULE
	WSGI     string // "module:attr"
	Venv     string // venv path, relative to Dir when inside it
}

var (
	settingsRe = regexp.MustCompile(`DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z0-9_.]+)['"]`)
	wsgiAppRe  = regexp.MustCompile(`(?m)^WSGI_APPLICATION\s*=\s*['"]([A-Za-z0-9_.]+)['"]`)
	nameRe     = regexp.MustCompile(`[^a-z0-9._+-]+`)
)

// Detect inspects dir. It fails only when dir has no manage.py anywhere one
// level deep, the one thing rpmforge cannot guess.
func Detect(dir string) (*Detected, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("project: %w", err)
	}
	d := &Detected{Dir: abs}
	for _, cand := range []string{"manage.py", "*/manage.py", "src/*/manage.py"} {
		m, _ := filepath.Glob(filepath.Join(abs, cand))
		sort.Strings(m)
		if len(m) > 0 {
			d.Manage, _ = filepath.Rel(abs, m[0])
			break
		}
	}
	if d.Manage == "" {
		return nil, fmt.Errorf("project: no manage.py in %s (run rpmforge init in the Django project's directory)", abs)
	}
	if src, err := os.ReadFile(filepath.Join(abs, d.Manage)); err == nil {
		if m := settingsRe.FindSubmatch(src); m != nil {
			d.Settings = string(m[1])
		}
	}
	if d.Settings != "" {
		settingsFile := filepath.Join(abs, filepath.Dir(d.Manage), strings.ReplaceAll(d.Settings, ".", "/")+".py")
		if src, err := os.ReadFile(settingsFile); err == nil {
			if m := wsgiAppRe.FindSubmatch(src); m != nil {
				w := string(m[1])
				if i := strings.LastIndex(w, "."); i > 0 {
					d.WSGI = w[:i] + ":" + w[i+1:]
				}
			}
		}
		if d.WSGI == "" {
			d.WSGI = strings.SplitN(d.Settings, ".", 2)[0] + ".wsgi:application"
		}
	}
	d.Venv = findVenv(abs)
	d.Name = suggestName(abs, d.Settings)
	return d, nil
}

func findVenv(dir string) string {
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		if rel, err := filepath.Rel(dir, v); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
		return v
	}
	for _, cand := range []string{"venv", ".venv"} {
		if _, err := os.Stat(filepath.Join(dir, cand, "pyvenv.cfg")); err == nil {
			return cand
		}
	}
	return "venv"
}

// suggestName prefers the settings package ("mysite.settings" -> "mysite"),
// then the directory name, lowercased to what RPM names allow.
func suggestName(dir, settings string) string {
	n := ""
	if settings != "" {
		n = strings.SplitN(settings, ".", 2)[0]
	}
	if n == "" || n == "config" || n == "settings" || n == "project" {
		n = filepath.Base(dir)
	}
	n = strings.Trim(nameRe.ReplaceAllString(strings.ToLower(n), "-"), "-._+")
	if n == "" {
		n = "app"
	}
	return strings.ReplaceAll(n, "_", "-")
}
