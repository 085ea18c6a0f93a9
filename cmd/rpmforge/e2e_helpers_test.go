package main

// Helpers of the end-to-end tests: they build the real binary, make a real
// Django project with a real venv (scripts/make-example-venv.sh, from
// Debian's packages) in a git repository, and drive the binary as CI would.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/rpmforge/rpmforge/internal/testroot"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// repoRoot is the rpmforge checkout (tests run in cmd/rpmforge).
func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// forgeBin builds cmd/rpmforge once per test binary.
func forgeBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rpmforge-e2e-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "rpmforge")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// e2eRequire skips unless the tools a real build needs are here.
func e2eRequire(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped with -short")
	}
	for _, tool := range []string{"git", "/usr/bin/python3.11"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("RPMFORGE_TESTROOT") == "require" {
				t.Fatalf("end-to-end: %s is missing (.ci/run installs it)", tool)
			}
			t.Skipf("end-to-end: %s is missing", tool)
		}
	}
}

// fixture is a Django project in a git repository with its venv.
type fixture struct {
	t   testing.TB
	Dir string // the project (manage.py, rpmforge.toml, venv/)
}

const e2eConfig = `[package]
name = "mysite"
version = "git"
summary = "rpmforge end-to-end test site"
license = "BSD-3-Clause"
url = "https://example.com/mysite"

[venv]
path = "venv"
python = "/usr/bin/python3.11"

[django]
settings = "mysite.settings"
wsgi = "mysite.wsgi:application"
migrate = true

[django.build_env]
DJANGO_SECRET_KEY = "build-only"

[service.env]
DJANGO_DB_PATH = "/var/lib/mysite/db.sqlite3"
`

// newProject copies examples/mysite to dir, commits it as v1.0.0 and
// builds its venv.
func newProject(t testing.TB, dir string) *fixture {
	t.Helper()
	e2eRequire(t)
	src := filepath.Join(repoRoot(t), "examples", "mysite")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "venv" || rel == "dist" || d.Name() == "__pycache__" || rel == "rpmforge.toml" || strings.HasSuffix(rel, ".sqlite3") {
			return filepath.SkipDir
		}
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(dst, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &fixture{t: t, Dir: dir}
	p.write("rpmforge.toml", e2eConfig)
	p.write("mysite/release.py", "RELEASE = 1  # dropped in v2\n")
	p.git("init", "-q", "-b", "main")
	p.commit("mysite 1.0", "v1.0.0")
	out, err := exec.Command(filepath.Join(repoRoot(t), "scripts", "make-example-venv.sh"), filepath.Join(dir, "venv")).CombinedOutput()
	if err != nil {
		t.Fatalf("make-example-venv.sh: %v\n%s", err, out)
	}
	return p
}

func (p *fixture) write(rel, content string) {
	p.t.Helper()
	full := filepath.Join(p.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *fixture) git(args ...string) {
	p.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Dev", "-c", "user.email=dev@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z")
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// commit commits everything (the venv is ignored) and tags it when tag != "".
func (p *fixture) commit(msg, tag string) {
	p.t.Helper()
	p.write(".gitignore", "venv/\ndist/\n*.sqlite3\n")
	p.git("add", "-A")
	p.git("commit", "-qm", msg)
	if tag != "" {
		p.git("tag", tag)
	}
}

// forge runs the binary in the project dir; it returns stdout, stderr and the exit code.
func (p *fixture) forge(env []string, args ...string) (string, string, int) {
	p.t.Helper()
	return runForge(p.t, p.Dir, env, args...)
}

func runForge(t testing.TB, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(forgeBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// cleanEnv is the environment of a CI job: no venv activated, no Python settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k := kv[:strings.IndexByte(kv+"=", '=')]
		if k == "VIRTUAL_ENV" || k == "BUILD_NUMBER" || k == "SOURCE_DATE_EPOCH" || strings.HasPrefix(k, "PYTHON") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// build runs 'rpmforge build' and returns the RPM path.
func (p *fixture) build(out string, env ...string) string {
	p.t.Helper()
	stdout, stderr, code := p.forge(env, "build", "--output", out)
	if code != 0 {
		p.t.Fatalf("rpmforge build: exit %d\n%s%s", code, stdout, stderr)
	}
	path := strings.TrimSpace(strings.SplitN(stdout, "\n", 2)[0])
	if _, err := os.Stat(path); err != nil {
		p.t.Fatalf("rpmforge build printed %q: %v", path, err)
	}
	return path
}

// rpmTool runs rpm-family tools with a private HOME and dbpath so the host
// rpmdb is never created.
func rpmTool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = testroot.ToolEnv(t)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
