package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestE2EPipeline runs scripts/pipeline.sh (the steps of examples/ci/) on the
// example app in a temporary directory, twice: build 1 goes through every
// stage (check-install against prod included, when this rpmforge has it),
// build 2 (check-install skipped, to keep the test short) replaces it in
// prod. Each stage's result is checked: the script's stage lines, the
// channels' contents, the served repomd.xml files, the check-install JUnit
// report, the inventory report, and that the signing key, which comes from
// the environment, was never written to disk.
func TestE2EPipeline(t *testing.T) {
	e2eRequire(t)
	for _, tool := range []string{"curl", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("end-to-end: %s is missing", tool)
		}
	}
	bin := forgeBin(t)
	app := newProject(t, filepath.Join(t.TempDir(), "mysite")).Dir
	work := t.TempDir()
	sec, err := os.ReadFile(filepath.Join(testKeyDir, "rsa4096.sec.asc"))
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := filepath.Abs(filepath.Join(testKeyDir, "rsa4096.pub.asc"))
	run := func(build string, extra ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 170*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "scripts", "pipeline.sh"))
		cmd.Env = append(cleanEnv(), "RPMFORGE_SIGNING_KEY="+string(sec), "RPMFORGE_PUBLIC_KEY="+pub,
			"RPMFORGE_KEY_FPR="+rsaTestFPR, "RPMFORGE="+bin, "WORK_DIR="+work, "APP_DIR="+app,
			"BUILD_NUMBER="+build, "RPMFORGE_USER=ci@pipeline")
		cmd.Env = append(cmd.Env, extra...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		t.Logf("pipeline.sh, build %s (%v):\n%s", build, time.Since(start).Round(time.Second), out)
		if err != nil {
			t.Fatalf("pipeline.sh, build %s: %v", build, err)
		}
		return string(out)
	}
	stages := func(out string) map[string]string {
		m := map[string]string{}
		for _, l := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(l, "pipeline: "); ok {
				name, result, _ := strings.Cut(rest, ": ")
				m[name] = result
			}
		}
		return m
	}
	root := filepath.Join(work, "repo")
	list := func(ch string) []string {
		t.Helper()
		out, errOut, code := runForge(t, work, nil, "repo", "list", "--root", root, "--channel", ch, "--json")
		if code != 0 {
			t.Fatalf("repo list %s: %s", ch, errOut)
		}
		var l channelListJSON
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatal(err)
		}
		var s []string
		for _, p := range l.Packages {
			s = append(s, p.NEVRA)
		}
		return s
	}

	out := run("1")
	st := stages(out)
	want := map[string]string{
		"build":           "ok mysite-1.0.0-1.",
		"add-dev":         "ok mysite-1.0.0-1",
		"promote-staging": "ok mysite-1.0.0-1",
		"promote-prod":    "ok mysite-1.0.0-1",
		"serve":           "ok http://127.0.0.1:",
		"check-root":      "ok dev: OK, revision 1",
		"inventory":       "ok ",
		"done":            "mysite release 1 is in prod",
	}
	for stage, prefix := range want {
		if !strings.HasPrefix(st[stage], prefix) {
			t.Errorf("build 1, stage %s: %q, want %q...", stage, st[stage], prefix)
		}
	}
	switch ci := st["check-install"]; {
	case strings.HasPrefix(ci, "ok"):
		b, err := os.ReadFile(filepath.Join(work, "artifacts", "check-install.xml"))
		if err != nil || !strings.Contains(string(b), "<testsuite") || strings.Contains(string(b), "<failure") {
			t.Errorf("check-install JUnit report: %v\n%s", err, b)
		}
	case strings.HasPrefix(ci, "skipped"):
		t.Logf("check-install: %s", ci)
	default:
		t.Errorf("build 1, stage check-install: %q", ci)
	}
	for _, ch := range []string{"dev", "staging", "prod"} {
		if got := list(ch); len(got) != 1 || !strings.HasPrefix(got[0], "mysite-1.0.0-1.") {
			t.Errorf("after build 1, %s holds %q", ch, got)
		}
		if b, err := os.ReadFile(filepath.Join(work, "repomd-"+ch+".xml")); err != nil || !strings.Contains(string(b), "<repomd") {
			t.Errorf("served %s/repodata/repomd.xml: %v", ch, err)
		}
	}

	out = run("2", "CHECK_INSTALL=skip")
	st = stages(out)
	if !strings.HasPrefix(st["promote-prod"], "ok mysite-1.0.0-2") || !strings.HasPrefix(st["check-install"], "skipped") {
		t.Errorf("build 2: stages %q", st)
	}
	if got := list("prod"); len(got) != 2 || !strings.HasPrefix(got[1], "mysite-1.0.0-2.") {
		t.Errorf("after build 2, prod holds %q", got)
	}
	html, err := os.ReadFile(filepath.Join(work, "artifacts", "inventory-repo.html"))
	if err != nil || !strings.Contains(string(html), "mysite") || !strings.Contains(string(html), "1.0.0-2") {
		t.Errorf("inventory report: %v (%d bytes)", err, len(html))
	}

	// The key came from the environment: no file holds it.
	filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Size() < 1<<20 {
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "PRIVATE KEY BLOCK") {
				t.Errorf("%s holds a private key", p)
			}
		}
		return nil
	})
}
