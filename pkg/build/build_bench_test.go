package build

import (
	"os"
	"testing"

	"github.com/rpmforge/rpmforge/pkg/config"
)

// BenchmarkBuild runs a whole build of the project whose rpmforge.toml is
// named by RPMFORGE_BENCH_CONFIG, for profiling on a realistic venv (make
// bench generates them under .cache/bench/):
//
//	RPMFORGE_BENCH_CONFIG=$PWD/.cache/bench/fixture-8/project/rpmforge-gzip.toml \
//	  go test -run '^$' -bench Build -benchtime 3x -cpuprofile cpu.prof ./pkg/build
//	go tool pprof -top -cum pkg/build/build.test cpu.prof
//
// Without the variable it is skipped.
func BenchmarkBuild(b *testing.B) {
	path := os.Getenv("RPMFORGE_BENCH_CONFIG")
	if path == "" {
		b.Skip("set RPMFORGE_BENCH_CONFIG to an rpmforge.toml (see make bench)")
	}
	steps := map[string]int{}
	var size int64
	for b.Loop() {
		cfg, err := config.Load(path)
		if err != nil {
			b.Fatal(err)
		}
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
		res, err := Run(b.Context(), cfg, Options{OutputDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		size = res.Size
		for k, v := range res.Steps {
			steps[k] += v
		}
	}
	for k, v := range steps {
		b.ReportMetric(float64(v)/float64(b.N), k+"-ms/op")
	}
	b.ReportMetric(float64(size), "rpm-bytes")
}
