package venv

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkRelocate measures Relocate on the venv named by
// RPMFORGE_BENCH_VENV (for example one built with
// `make-fixture.sh /tmp/big 6`), or else on the fixture padded with 4,000
// synthetic modules (~30 MB). Throughput counts the bytes Relocate reads.
//
//	RPMFORGE_BENCH_VENV=/tmp/big/venv go test -run '^$' -bench Relocate -benchmem ./pkg/venv
func BenchmarkRelocate(b *testing.B) {
	dir := os.Getenv("RPMFORGE_BENCH_VENV")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "build", "venv")
		copyFixture(b, dir)
		line := strings.Repeat("x = 'some ordinary python source line'\n", 200) // ~8 KB
		for i := range 4000 {
			p := filepath.Join(dir, "lib/python3.11/site-packages", fmt.Sprintf("pkg%02d/mod%04d.py", i%40, i))
			writeFile(b, p, line)
		}
	}
	v, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	var size int64
	var files int
	filepath.WalkDir(v.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".pyc") {
			info, _ := d.Info()
			size += info.Size()
			files++
		}
		return nil
	})
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rel, err := v.Relocate("/opt/mysite/venv")
		if err != nil {
			b.Fatal(err)
		}
		if len(rel.Rewritten) == 0 {
			b.Fatal("nothing rewritten")
		}
	}
	b.ReportMetric(float64(files), "files")
}
