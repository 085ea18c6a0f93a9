package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/repo"
	"github.com/rpmforge/rpmforge/pkg/repo/corpus"
)

func repoWithPackages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		if _, err := corpus.Write(context.Background(), dir, 1, i, 1, corpus.Options{Scale: 0.01}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRepoPublishJSON(t *testing.T) {
	dir := repoWithPackages(t, 3)
	os.WriteFile(filepath.Join(dir, "broken.rpm"), []byte("not a package"), 0o644)
	var out, errOut bytes.Buffer
	opts := repoPublishOptions{dir: dir, compress: repo.Gzip, changelogLimit: 10, keepGenerations: 3, json: true, quiet: true,
		signKey: "../../testdata/keys/rsa4096.sec.asc"}
	if err := runRepoPublish(context.Background(), opts, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var res repoPublishJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Packages != 3 || len(res.Added) != 3 || res.Unchanged || len(res.Skipped) != 1 ||
		!strings.HasSuffix(res.Skipped[0].Path, "broken.rpm") || res.Metadata["primary"].Checksum == "" ||
		res.Signed != "CE74B1C663C360D54E02FE5A86B7BA63D3D10ECF" {
		t.Errorf("json result: %s", out.String())
	}
	if !strings.Contains(errOut.String(), "skipped "+filepath.Join(dir, "broken.rpm")) {
		t.Errorf("stderr does not name the skipped file: %q", errOut.String())
	}
	for _, f := range []string{"RPM-GPG-KEY", "repodata/repomd.xml.asc", "repodata/repomd.xml.key"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}

	// Again: unchanged; text output.
	out.Reset()
	opts.json = false
	if err := runRepoPublish(context.Background(), opts, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "unchanged, 3 packages") {
		t.Errorf("second publish: %q", out.String())
	}

	// --strict fails naming the file.
	opts.strict = true
	err := runRepoPublish(context.Background(), opts, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "broken.rpm") || strings.Contains(err.Error(), "\n") {
		t.Errorf("--strict: %v", err)
	}
}

func TestRepoPublishUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"rpmforge", "repo", "publish"},
		{"rpmforge", "repo", "publish", dir, dir},
		{"rpmforge", "repo", "publish", "--compress", "bz2", dir},
		{"rpmforge", "repo", "publish", "--keep-generations", "0", dir},
		{"rpmforge", "repo", "publish", "--changelog-limit", "-5", dir},
	} {
		if code := run(args); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code := run([]string{"rpmforge", "repo", "publish", "-q", filepath.Join(dir, "missing")}); code != exitFailure {
		t.Errorf("missing directory: exit %d", code)
	}
	if code := run([]string{"rpmforge", "repo", "publish", "-q", dir}); code != exitOK {
		t.Errorf("empty directory: exit %d", code)
	}
	if code := run([]string{"rpmforge", "repo", "check", dir}); code != exitOK {
		t.Errorf("check: exit %d", code)
	}
}
