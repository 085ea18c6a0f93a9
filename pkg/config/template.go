package config

import (
	"bytes"
	"strconv"
	"text/template"
)

// Template renders a commented rpmforge.toml for the detected values in c.
// Every key of the reference is present, commented out where the default is fine.
func Template(c *Config) []byte {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, c); err != nil {
		panic(err) // the template is static and tested
	}
	return b.Bytes()
}

var tmpl = template.Must(template.New("rpmforge.toml").Funcs(template.FuncMap{"q": strconv.Quote}).Parse(`# rpmforge.toml: how rpmforge packages this Django project as an RPM.
# Reference: README.md "Config reference". Secrets never go in this file.

[package]
name = {{q .Package.Name}}
# "git" takes the version from 'git describe --tags' (v1.2.3 -> 1.2.3); or a literal such as "1.2.3".
version = {{q .Package.Version}}
# release = "1"            # overridden by --release or $BUILD_NUMBER
summary = {{q .Package.Summary}}
# description = "..."
license = {{q .Package.License}}
# url = "https://example.com/{{.Package.Name}}"
# vendor = "Example Corp"
# packager = "Ops Team <ops@example.com>"
# requires = ["nginx"]     # extra requires, e.g. "postgresql-libs >= 13"
# changelog = 20           # %changelog entries taken from git history (0: none)

[install]
# prefix = "/opt/{{.Package.Name}}"  # <prefix>/src, <prefix>/venv, <prefix>/static
# user = "{{.Package.Name}}"          # service user, created by %pre
# group = "{{.Package.Name}}"

[project]
# dir = "."                          # the Django project (where manage.py is)
# exclude = ["*.sqlite3", "media/*"] # .git, __pycache__ and the venv are always left out

[venv]
path = {{q .Venv.Path}}
# python = "/usr/bin/python3.11"     # refuse a venv made with another interpreter

[django]
manage = {{q .Django.Manage}}
settings = {{q .Django.Settings}}
wsgi = {{q .Django.WSGI}}
# collectstatic = true               # at build time, into <prefix>/static
# compile = true                     # byte-compile at build time
# migrate = false                    # run 'manage.py migrate' in %post on install and upgrade
# [django.build_env]                 # environment for build-time steps only, never packaged
# DJANGO_SECRET_KEY = "build-only-not-secret"

[service]
# enable = true
# bind = "127.0.0.1:8000"
# workers = 3
# unit = "deploy/{{.Package.Name}}.service"   # your own unit instead of the generated one
# [service.env]                      # initial /etc/{{.Package.Name}}/{{.Package.Name}}.env (%config(noreplace))
# DJANGO_ALLOWED_HOSTS = "example.com"

# [[files]]
# source = "deploy/nginx.conf"
# dest = "/etc/nginx/conf.d/{{.Package.Name}}.conf"
# config = true                      # %config(noreplace) unless noreplace = false
# mode = "0644"

# [scriptlets]                       # appended to the built-in scriptlets
# post = "deploy/post.sh"

[build]
# compression = "gzip"               # gzip (EL7+), xz, zstd (EL8+ only)
`))
