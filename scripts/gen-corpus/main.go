// Command gen-corpus writes the benchmark corpus of scripts/bench-repo.sh:
// N generated RPM packages (pkg/repo/corpus: realistic shape, about
// 120 kB each on average at -scale 1, so 5000 make about 600 MB). It is
// deterministic and incremental: packages already present are kept.
//
//	go run ./scripts/gen-corpus -dir .cache/repo-corpus -n 5000
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/rpmforge/rpmforge/pkg/repo/corpus"
)

func main() {
	dir := flag.String("dir", "", "output directory (required)")
	n := flag.Int("n", 5000, "number of packages")
	first := flag.Int("first", 0, "index of the first package")
	rel := flag.Int("release", 1, "release of the packages")
	seed := flag.Uint64("seed", 1, "random seed")
	scale := flag.Float64("scale", 1, "file size scale (1: about 120 kB per package)")
	jobs := flag.Int("j", runtime.GOMAXPROCS(0), "packages written in parallel")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "gen-corpus: -dir is required")
		os.Exit(2)
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "gen-corpus:", err)
		os.Exit(1)
	}
	var wrote, kept atomic.Int64
	var failed atomic.Bool
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < *jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if _, err := os.Stat(filepath.Join(*dir, corpus.FileName(i, *rel))); err == nil {
					kept.Add(1)
					continue
				}
				if _, err := corpus.Write(context.Background(), *dir, *seed, i, *rel, corpus.Options{Scale: *scale}); err != nil {
					fmt.Fprintln(os.Stderr, "gen-corpus:", err)
					failed.Store(true)
				}
				wrote.Add(1)
			}
		}()
	}
	for i := *first; i < *first+*n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	fmt.Printf("gen-corpus: %s: %d packages written, %d already there\n", *dir, wrote.Load(), kept.Load())
	if failed.Load() {
		os.Exit(1)
	}
}
