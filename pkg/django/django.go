// Package django runs the build-time Django steps with the project's own
// virtualenv: collectstatic into a scratch directory and byte-compilation
// for the install path. Neither step writes into the project or the venv.
package django

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Env is the environment build steps run with: the host's, minus anything
// that would leak into or confuse the build, plus the config's build_env.
func Env(extra map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k := kv[:strings.IndexByte(kv+"=", '=')]
		switch k {
		case "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "DJANGO_SETTINGS_MODULE", "PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE":
			continue
		}
		env = append(env, kv)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	return append(env, "PYTHONDONTWRITEBYTECODE=1", "PYTHONHASHSEED=0")
}

// Collectstatic runs 'manage.py collectstatic' with STATIC_ROOT pointed at
// outDir, through a settings shim, so the project's settings stay untouched.
// python is the venv's interpreter; srcDir holds manage.py (manage, relative).
func Collectstatic(ctx context.Context, python, srcDir, manage, settings, outDir string, env []string) error {
	shimDir, err := os.MkdirTemp("", "rpmforge-settings-")
	if err != nil {
		return fmt.Errorf("django: %w", err)
	}
	defer os.RemoveAll(shimDir)
	shim := fmt.Sprintf("from %s import *  # noqa\nSTATIC_ROOT = %q\n", settings, outDir)
	if err := os.WriteFile(filepath.Join(shimDir, "rpmforge_build_settings.py"), []byte(shim), 0o644); err != nil {
		return fmt.Errorf("django: %w", err)
	}
	manageDir := filepath.Dir(filepath.Join(srcDir, manage))
	cmd := exec.CommandContext(ctx, python, filepath.Join(srcDir, manage), "collectstatic", "--noinput", "--clear", "-v", "0")
	cmd.Dir = manageDir
	cmd.Env = append(env, "DJANGO_SETTINGS_MODULE=rpmforge_build_settings", "PYTHONPATH="+shimDir+string(os.PathListSeparator)+manageDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("django: collectstatic failed (%s; set build-time variables in [django.build_env], or django.collectstatic = false): %w\n%s",
			settings, err, lastLines(out.String(), 15))
	}
	return nil
}

// Compile byte-compiles every .py under dirs (absolute, inside buildRoot)
// as if they lived under installRoot: the .pyc files name installRoot and
// use hash-based invalidation, so they are reproducible. They are written
// under cacheDir (sys.pycache_prefix), mirroring the absolute source paths;
// PycPath maps a source to its pyc there. Files that do not compile (test
// fixtures with deliberate syntax errors) are skipped, as rpmbuild does.
func Compile(ctx context.Context, python, buildRoot, installRoot, cacheDir string, dirs ...string) error {
	if len(dirs) == 0 {
		return nil
	}
	args := []string{"-X", "pycache_prefix=" + cacheDir, "-m", "compileall", "-q", "-j", "0",
		"--invalidation-mode", "checked-hash", "-s", buildRoot, "-p", installRoot}
	cmd := exec.CommandContext(ctx, python, append(args, dirs...)...)
	cmd.Env = append(Env(nil), "SOURCE_DATE_EPOCH=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, statErr := os.Stat(cacheDir); statErr != nil {
		return fmt.Errorf("django: byte-compiling with %s produced nothing (set django.compile = false to skip): %v\n%s", python, err, lastLines(out.String(), 15))
	}
	return nil
}

// PycPath is where Compile put the byte code of the source file src
// (absolute) for interpreter version pyVersion ("3.11").
func PycPath(cacheDir, src, pyVersion string) string {
	dir, base := filepath.Split(src)
	tag := "cpython-" + strings.ReplaceAll(pyVersion, ".", "")
	return filepath.Join(cacheDir, dir, strings.TrimSuffix(base, ".py")+"."+tag+".pyc")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
