package service

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func params() Params {
	return Params{Name: "mysite", Summary: "My site", User: "mysite", Group: "mysite", Home: "/var/lib/mysite",
		Prefix: "/opt/mysite", Manage: "manage.py", Settings: "mysite.settings", WSGI: "mysite.wsgi:application",
		Bind: "127.0.0.1:8000", Workers: 3, Enable: true, Migrate: true,
		Env: map[string]string{"B": `has "quotes" and $dollar`, "A": "plain"}}
}

func TestGolden(t *testing.T) {
	p := params()
	p.UserScripts.Post = "echo user post $1\n"
	f, err := Render(p)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]string{
		"pre.sh": f.Scripts.Pre, "post.sh": f.Scripts.Post, "preun.sh": f.Scripts.PreUn, "postun.sh": f.Scripts.PostUn,
		"mysite.service": string(f.Unit), "mysite.env": string(f.Env), "mysite-manage": string(f.Manage),
	} {
		golden := filepath.Join("testdata", name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			os.WriteFile(golden, []byte(got), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s:\n%s", name, golden, got)
		}
	}
}

// TestScriptletsRun runs every scriptlet with sh -n (syntax) and then for real
// with stub tools on PATH, checking what each does per $1.
func TestScriptletsRun(t *testing.T) {
	f, err := Render(params())
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "log")
	for _, tool := range []string{"getent", "groupadd", "useradd", "systemctl"} {
		stub := "#!/bin/sh\necho " + tool + " \"$@\" >> " + log + "\n"
		if tool == "getent" {
			stub += "exit 2\n" // user and group missing
		}
		os.WriteFile(filepath.Join(bin, tool), []byte(stub), 0o755)
	}
	os.WriteFile(filepath.Join(bin, "mysite-manage"), []byte("#!/bin/sh\necho manage \"$@\" >> "+log+"\n"), 0o755)
	run := func(script, arg string) string {
		os.Remove(log)
		body := strings.ReplaceAll(script, "/usr/bin/mysite-manage", filepath.Join(bin, "mysite-manage"))
		cmd := exec.Command("/bin/sh", "-c", body, "scriptlet", arg)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("scriptlet with $1=%s: %v\n%s", arg, err, out)
		}
		b, _ := os.ReadFile(log)
		return string(b)
	}
	for _, s := range []string{f.Scripts.Pre, f.Scripts.Post, f.Scripts.PreUn, f.Scripts.PostUn} {
		if out, err := exec.Command("/bin/sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Fatalf("sh -n: %v\n%s", err, out)
		}
	}
	if got := run(f.Scripts.Pre, "1"); !strings.Contains(got, "groupadd -r mysite") || !strings.Contains(got, "useradd -r -g mysite -d /var/lib/mysite") {
		t.Errorf("pre 1: got %q", got)
	}
	if got := run(f.Scripts.Post, "1"); !strings.Contains(got, "manage migrate --noinput") || !strings.Contains(got, "preset mysite.service") {
		t.Errorf("post 1: got %q", got)
	}
	if got := run(f.Scripts.Post, "2"); strings.Contains(got, "preset") {
		t.Errorf("post 2 must not preset: got %q", got)
	}
	if got := run(f.Scripts.PreUn, "0"); !strings.Contains(got, "disable mysite.service") {
		t.Errorf("preun 0: got %q", got)
	}
	if got := run(f.Scripts.PreUn, "1"); got != "" {
		t.Errorf("preun 1 (upgrade) must do nothing: got %q", got)
	}
}

func TestEnvQuoting(t *testing.T) {
	f, _ := Render(params())
	dir := t.TempDir()
	env := filepath.Join(dir, "env")
	os.WriteFile(env, f.Env, 0o644)
	out, err := exec.Command("/bin/sh", "-c", "set -a; . "+env+"; printf '%s|%s' \"$A\" \"$B\"").CombinedOutput()
	if err != nil {
		t.Fatal(err, string(out))
	}
	if got, want := string(out), `plain|has "quotes" and $dollar`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
