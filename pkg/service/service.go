// Package service renders what integrates the app with its host: the
// %pre/%post/%preun/%postun scriptlets, the systemd unit, the environment
// file and the <name>-manage wrapper, from the templates in scripts/scriptlets.
package service

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strings"
	"text/template"

	"github.com/rpmforge/rpmforge/scripts/scriptlets"
)

// Params are the values the templates use.
type Params struct {
	Name, Summary     string
	User, Group, Home string
	Prefix            string
	Manage            string // manage.py relative to the source dir
	Settings, WSGI    string
	Bind              string
	Workers           int
	Enable, Migrate   bool
	Env               map[string]string // extra env file entries
	UserScripts       Scripts           // appended to the built-in scriptlets
}

// Scripts are the four scriptlet bodies.
type Scripts struct{ Pre, Post, PreUn, PostUn string }

// Files are the rendered host integration files.
type Files struct {
	Scripts  Scripts
	Unit     []byte // /usr/lib/systemd/system/<name>.service
	Env      []byte // /etc/<name>/<name>.env
	Manage   []byte // /usr/bin/<name>-manage
	UnitName string
}

// Paths of the generated files for a package name.
func UnitPath(name string) string   { return "/usr/lib/systemd/system/" + name + ".service" }
func EnvDir(name string) string     { return "/etc/" + name }
func EnvPath(name string) string    { return "/etc/" + name + "/" + name + ".env" }
func ManagePath(name string) string { return "/usr/bin/" + name + "-manage" }

var tmpl = template.Must(template.New("").ParseFS(scriptlets.FS, "*.tmpl"))

type data struct {
	Params
	Unit      string
	ManageDir string
	EnvLines  []string
}

// Render produces every file. A user scriptlet is appended after the
// built-in one, in a subshell so its 'exit' cannot skip what follows.
func Render(p Params) (*Files, error) {
	d := data{Params: p, Unit: p.Name + ".service", ManageDir: path.Dir(p.Manage)}
	if d.ManageDir == "." {
		d.ManageDir = ""
	}
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.EnvLines = append(d.EnvLines, k+"="+quoteEnv(p.Env[k]))
	}
	d.Env = nil
	f := &Files{UnitName: d.Unit}
	var err error
	render := func(name string) []byte {
		if err != nil {
			return nil
		}
		var b bytes.Buffer
		if e := tmpl.ExecuteTemplate(&b, name, d); e != nil {
			err = fmt.Errorf("service: rendering %s: %w", name, e)
		}
		return b.Bytes()
	}
	f.Scripts.Pre = join(render("pre.sh.tmpl"), p.UserScripts.Pre, "pre")
	f.Scripts.Post = join(render("post.sh.tmpl"), p.UserScripts.Post, "post")
	f.Scripts.PreUn = join(render("preun.sh.tmpl"), p.UserScripts.PreUn, "preun")
	f.Scripts.PostUn = join(render("postun.sh.tmpl"), p.UserScripts.PostUn, "postun")
	f.Unit = render("unit.service.tmpl")
	f.Env = render("env.tmpl")
	f.Manage = render("manage.sh.tmpl")
	if err != nil {
		return nil, err
	}
	return f, nil
}

func join(builtin []byte, user, which string) string {
	s := strings.TrimRight(string(builtin), "\n") + "\n"
	if strings.TrimSpace(user) != "" {
		s += "# user %" + which + " scriptlet (rpmforge.toml [scriptlets])\n(\n" + strings.TrimRight(user, "\n") + "\n) || exit $?\n"
	}
	return s
}

// quoteEnv double-quotes a value for both systemd's EnvironmentFile and sh.
func quoteEnv(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`")
	return `"` + r.Replace(v) + `"`
}
