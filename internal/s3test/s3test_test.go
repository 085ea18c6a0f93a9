package s3test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBinary(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("PATH", filepath.Join(dir, "nopath"))
	t.Setenv("S3TEST_BIN", "")
	if _, err := Binary("s3test", "nosuchserver", "S3TEST_BIN", "Test"); err == nil ||
		!strings.HasPrefix(err.Error(), "s3test: no Test binary: $S3TEST_BIN unset") {
		t.Errorf("missing binary: %v", err)
	}
	cached := filepath.Join(dir, "cache", "rpmforge-ci", "bin", "nosuchserver")
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if p, err := Binary("s3test", "nosuchserver", "S3TEST_BIN", "Test"); err != nil || p != cached {
		t.Errorf("cached binary: %q, %v", p, err)
	}
	notExec := filepath.Join(dir, "notexec")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("S3TEST_BIN", notExec)
	if _, err := Binary("s3test", "nosuchserver", "S3TEST_BIN", "Test"); err == nil || !strings.Contains(err.Error(), "$S3TEST_BIN") {
		t.Errorf("$S3TEST_BIN not executable: %v", err)
	}
	t.Setenv("S3TEST_BIN", cached)
	if p, err := Binary("s3test", "nosuchserver", "S3TEST_BIN", "Test"); err != nil || p != cached {
		t.Errorf("$S3TEST_BIN: %q, %v", p, err)
	}
}

func TestConn(t *testing.T) {
	c := Conn{Endpoint: "http://127.0.0.1:9", AccessKey: "ak", SecretKey: "sk", Region: "us-east-1"}
	if got, want := c.URL("b", "a dir/x+y.rpm"), "http://127.0.0.1:9/b/a%20dir/x+y.rpm"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	want := []string{"AWS_ACCESS_KEY_ID=ak", "AWS_SECRET_ACCESS_KEY=sk", "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_S3=http://127.0.0.1:9"}
	if got := c.Env(); !slices.Equal(got, want) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	if o := c.Client().Options(); !o.UsePathStyle || o.Region != "us-east-1" {
		t.Errorf("client options: path style %v, region %q", o.UsePathStyle, o.Region)
	}
}

func TestFreePorts(t *testing.T) {
	p := FreePorts(t, 8)
	slices.Sort(p)
	if len(slices.Compact(p)) != 8 {
		t.Errorf("ports repeat: %v", p)
	}
}

func TestEnvironWithout(t *testing.T) {
	t.Setenv("S3TEST_DROP", "1")
	t.Setenv("S3TEST_KEEP", "1")
	env := EnvironWithout("S3TEST_DROP")
	if slices.Contains(env, "S3TEST_DROP=1") || !slices.Contains(env, "S3TEST_KEEP=1") {
		t.Errorf("EnvironWithout kept the wrong variables")
	}
}

func TestRunner(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip(err)
	}
	var r Runner
	never := func(context.Context) error { return errors.New("not yet") }
	err = r.Start(exec.Command(sh, "-c", "echo starting; exit 3"), 10*time.Second, 10*time.Millisecond, time.Second, never)
	var exited *EarlyExitError
	if !errors.As(err, &exited) {
		t.Fatalf("early exit: %v", err)
	}
	if !strings.Contains(r.Log(), "starting") {
		t.Errorf("log %q lacks the output", r.Log())
	}

	err = r.Start(exec.Command(sh, "-c", "sleep 60"), 100*time.Millisecond, 10*time.Millisecond, time.Second, never)
	if err == nil || !strings.Contains(err.Error(), "not ready after") {
		t.Errorf("timeout: %v", err)
	}

	ready := func(context.Context) error { return nil }
	if err := r.Start(exec.Command(sh, "-c", "sleep 60"), time.Second, 10*time.Millisecond, time.Second, ready); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { r.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not kill the process")
	}
	r.Stop() // stopped: does nothing
}
