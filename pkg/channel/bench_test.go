package channel

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rpmforge/rpmforge/pkg/repo/corpus"
)

// benchSize is the number of packages in the channel BenchmarkPromoteOne
// promotes into (RPMFORGE_CHANNEL_BENCH_N overrides it).
func benchSize() int {
	if n, err := strconv.Atoi(os.Getenv("RPMFORGE_CHANNEL_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 5000
}

// benchCorpus writes (once, cached under $TMPDIR) n small generated
// packages (pkg/repo/corpus, realistic metadata, about 6 kB each) and
// returns their paths.
func benchCorpus(b *testing.B, first, n int) []string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), "rpmforge-channel-bench", "corpus")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	paths := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := filepath.Join(dir, corpus.FileName(i, 1))
				if _, err := os.Stat(p); err != nil {
					if p, err = corpus.Write(context.Background(), dir, 1, i, 1, corpus.Options{Scale: 0.05}); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
				paths[i-first] = p
			}
		}()
	}
	for i := first; i < first+n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return paths
}

var (
	benchOnce sync.Once
	benchDir  string
	benchNext int // index of the next corpus package to promote
)

// BenchmarkPromoteOne promotes one package from staging into a prod
// channel of benchSize() packages: the pool reference, the history
// (package set + history file), the link and an incremental publish of
// prod's repodata, with fsync (the sync variant) or without.
func BenchmarkPromoteOne(b *testing.B) {
	n := benchSize()
	benchOnce.Do(func() {
		paths := benchCorpus(b, 0, n)
		// Not b.TempDir: the root outlives this round of the benchmark.
		benchDir = filepath.Join(os.TempDir(), "rpmforge-channel-bench", fmt.Sprintf("root-%d", n))
		os.RemoveAll(benchDir)
		r, err := Open(benchDir, Options{NoSync: true, User: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if _, err := r.Add(ctx, "staging", paths, AddOptions{}); err != nil {
			b.Fatal(err)
		}
		names := make([]string, n)
		for i := range names {
			names[i] = corpus.Name(i)
		}
		if _, err := r.Promote(ctx, "staging", "prod", names, PromoteOptions{}); err != nil {
			b.Fatal(err)
		}
		benchNext = n
	})
	for _, sync := range []bool{true, false} {
		b.Run(map[bool]string{true: "sync", false: "nosync"}[sync], func(b *testing.B) {
			ctx := context.Background()
			r, err := Open(benchDir, Options{NoSync: !sync, User: "bench"})
			if err != nil {
				b.Fatal(err)
			}
			// The packages promoted: b.N+1 more of the corpus, added to
			// staging untimed. The first is promoted untimed too, once
			// pkg/repo's racy window (files changed in the last 2 s are
			// read again) is over: the steady state of a channel.
			extra := benchCorpus(b, benchNext, b.N+1)
			if _, err := r.Add(ctx, "staging", extra, AddOptions{}); err != nil {
				b.Fatal(err)
			}
			first := benchNext
			benchNext += b.N + 1
			time.Sleep(2100 * time.Millisecond)
			if _, err := r.Promote(ctx, "staging", "prod", []string{corpus.Name(first)}, PromoteOptions{}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 1; i <= b.N; i++ {
				res, err := r.Promote(ctx, "staging", "prod", []string{corpus.Name(first + i)}, PromoteOptions{})
				if err != nil {
					b.Fatal(err)
				}
				// The package promoted, and those promoted in the last
				// 2 s (racy), not the whole channel.
				if res.Snapshot == nil || res.Publish.Read > i+1 {
					b.Fatalf("promote: %+v, read %d packages", res.Snapshot, res.Publish.Read)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(benchNext), "pkgs")
		})
	}
}
