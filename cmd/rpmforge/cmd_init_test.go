package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/config"
)

func TestInitDetects(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manage.py"), []byte("import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n"), 0o755)
	os.MkdirAll(filepath.Join(dir, "shop"), 0o755)
	os.WriteFile(filepath.Join(dir, "shop", "settings.py"), []byte("WSGI_APPLICATION = 'shop.wsgi_prod.app'\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".venv"), 0o755)
	os.WriteFile(filepath.Join(dir, ".venv", "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644)
	t.Setenv("VIRTUAL_ENV", "")
	var out bytes.Buffer
	if err := runInit(initOptions{dir: dir}, &out); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(filepath.Join(dir, config.FileName))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("generated config is invalid: %v", err)
	}
	if cfg.Package.Name != "shop" || cfg.Django.Settings != "shop.settings" || cfg.Django.WSGI != "shop.wsgi_prod:app" || cfg.Venv.Path != ".venv" {
		t.Errorf("got name %q settings %q wsgi %q venv %q", cfg.Package.Name, cfg.Django.Settings, cfg.Django.WSGI, cfg.Venv.Path)
	}
	if err := runInit(initOptions{dir: dir}, &out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second init: got %v, want 'already exists'", err)
	}
	if err := runInit(initOptions{dir: dir, force: true}, &out); err != nil {
		t.Errorf("--force: %v", err)
	}
}

func TestInitNoManagePy(t *testing.T) {
	err := runInit(initOptions{dir: t.TempDir()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no manage.py") {
		t.Errorf("got %v", err)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "rpmforge.toml")
	os.WriteFile(bad, []byte("[package\n"), 0o644)
	if got := run([]string{"rpmforge", "--quiet", "build", "--config", bad}); got != exitConfig {
		t.Errorf("broken config: exit %d, want %d", got, exitConfig)
	}
	if got := run([]string{"rpmforge", "build", "--nosuchflag"}); got != exitUsage {
		t.Errorf("bad flag: exit %d, want %d", got, exitUsage)
	}
	if got := run([]string{"rpmforge", "build", "--config", filepath.Join(dir, "missing.toml")}); got != exitFailure {
		t.Errorf("missing config: exit %d, want %d", got, exitFailure)
	}
}
