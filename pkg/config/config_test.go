package config

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFull(t *testing.T) {
	c, err := Load("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if *c.Package.Epoch != 1 || c.Install.Group != "mysite" || c.Install.Home != "/var/lib/mysite" {
		t.Errorf("defaults: got epoch %d group %q home %q", *c.Package.Epoch, c.Install.Group, c.Install.Home)
	}
	if !*c.Files[0].NoReplace || c.Files[0].Mode != "0644" || c.Files[0].Owner != "root" {
		t.Errorf("file defaults: got %+v", c.Files[0])
	}
	if !*c.Django.Collectstatic || c.Service.Workers != 4 || c.Build.Compression != "xz" {
		t.Errorf("got collectstatic %v workers %d compression %q", *c.Django.Collectstatic, c.Service.Workers, c.Build.Compression)
	}
}

const base = `[package]
name = "mysite"
license = "MIT"
[django]
settings = "mysite.settings"
wsgi = "mysite.wsgi:application"
`

func TestErrors(t *testing.T) {
	tests := []struct {
		name, toml string
		line       int
		want       string
	}{
		{"syntax", base + "[build\n", 7, "rpmforge.toml:7"},
		{"unknown key", base + "[build]\ncompresion = \"xz\"\n", 8, "build.compresion: unknown key"},
		{"unknown table", base + "[servce]\nbind = \"x\"\n", 7, "servce"},
		{"wrong type", base + "[service]\nworkers = \"many\"\n", 8, "rpmforge.toml:8"},
		{"no name", strings.Replace(base, `name = "mysite"`, "", 1), 0, "package.name: is required"},
		{"valid", base, 0, ""},
		{"dash in version", strings.Replace(base, `license`, "version = \"1.0-1\"\nlicense", 1), 3, `package.version: "1.0-1"`},
		{"no license", strings.Replace(base, `license = "MIT"`, "", 1), 0, "package.license: is required"},
		{"relative prefix", base + "[install]\nprefix = \"opt/x\"\n", 8, "install.prefix: \"opt/x\" must be an absolute path"},
		{"system prefix", base + "[install]\nprefix = \"/usr\"\n", 8, "system directory"},
		{"root user", base + "[install]\nuser = \"root\"\n", 8, "must not run as root"},
		{"dest traversal", base + "[[files]]\nsource = \"a\"\ndest = \"/opt/x/../../etc/cron.d/x\"\n", 0, `files[0].dest: "/opt/x/../../etc/cron.d/x" must not contain ".."`},
		{"relative dest", base + "[[files]]\nsource = \"a\"\ndest = \"../../etc/cron.d/x\"\n", 0, "must be an absolute path"},
		{"bad mode", base + "[[files]]\nsource = \"a\"\ndest = \"/etc/x\"\nmode = \"rwx\"\n", 0, `files[0].mode: "rwx" is not an octal mode`},
		{"bad compression", base + "[build]\ncompression = \"lzma\"\n", 8, `build.compression: "lzma"`},
		{"bad settings", strings.Replace(base, `"mysite.settings"`, `"my site"`, 1), 5, "django.settings"},
		{"bad wsgi", strings.Replace(base, `"mysite.wsgi:application"`, `"mysite.wsgi"`, 1), 6, "django.wsgi"},
		{"bad requires", strings.Replace(base, `license`, "requires = [\"a >= \"]\nlicense", 1), 3, `package.requires: "a >= "`},
		{"bad env name", base + "[service.env]\n\"1X\" = \"a\"\n", 0, `service.env: "1X"`},
		{"zero workers", base + "[service]\nworkers = -1\n", 8, "service.workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("/p/rpmforge.toml", []byte(tt.toml))
			if err == nil {
				c.ApplyDefaults()
				err = c.Validate()
			}
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %T, want *Error", err)
			}
			if ce.File != "/p/rpmforge.toml" {
				t.Errorf("got file %q", ce.File)
			}
			if tt.line != 0 && ce.Line != tt.line {
				t.Errorf("got line %d, want %d (%v)", ce.Line, tt.line, err)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestTemplateRoundTrip(t *testing.T) {
	c := &Config{}
	c.Package.Name, c.Package.Version, c.Package.License, c.Package.Summary = "my-app", "git", "MIT", `say "hi"`
	c.Venv.Path, c.Django.Manage, c.Django.Settings, c.Django.WSGI = ".venv", "manage.py", "app.settings", "app.wsgi:application"
	got, err := Parse("/p/rpmforge.toml", Template(c))
	if err != nil {
		t.Fatalf("template does not parse: %v", err)
	}
	got.ApplyDefaults()
	if err := got.Validate(); err != nil {
		t.Fatalf("template does not validate: %v", err)
	}
	if got.Package.Summary != c.Package.Summary || got.Venv.Path != ".venv" || got.Django.WSGI != c.Django.WSGI {
		t.Errorf("round trip: got %+v", got.Package)
	}
}
