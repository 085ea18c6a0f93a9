package repo

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// The benchmarks run on the corpus scripts/bench-repo.sh generates (set
// RPMFORGE_REPO_CORPUS to its directory); scripts/bench-repo.sh compares
// the CLI with createrepo_c.

func benchCorpus(b *testing.B) string {
	dir := os.Getenv("RPMFORGE_REPO_CORPUS")
	if dir == "" {
		b.Skip("set RPMFORGE_REPO_CORPUS to a directory of packages (scripts/bench-repo.sh makes one)")
	}
	return dir
}

// BenchmarkPublishFull publishes the corpus from scratch (no cache).
func BenchmarkPublishFull(b *testing.B) {
	dir := benchCorpus(b)
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(filepath.Join(dir, "repodata"))
		os.RemoveAll(filepath.Join(dir, ".rpmforge"))
		b.StartTimer()
		if _, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishAddOne adds one package to the published corpus, then
// removes it again: two publishes per iteration.
func BenchmarkPublishAddOne(b *testing.B) {
	dir := benchCorpus(b)
	if _, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1}); err != nil {
		b.Fatal(err)
	}
	extra := filepath.Join(b.TempDir(), "extra")
	os.MkdirAll(extra, 0o755)
	paths := writeCorpus(b, extra, 99999, 100000, 1)
	link := filepath.Join(dir, filepath.Base(paths[0]))
	for b.Loop() {
		copyFile(b, paths[0], link)
		if _, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1}); err != nil {
			b.Fatal(err)
		}
		os.Remove(link)
		if _, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishUnchanged publishes the corpus with nothing changed.
func BenchmarkPublishUnchanged(b *testing.B) {
	dir := benchCorpus(b)
	if _, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := Publish(context.Background(), dir, Options{NoSync: true, racyWindow: -1})
		if err != nil {
			b.Fatal(err)
		}
		if !res.Unchanged {
			b.Fatal("not unchanged")
		}
	}
}
