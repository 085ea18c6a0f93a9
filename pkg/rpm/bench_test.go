package rpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
)

// genReader yields n bytes of deterministic content that compresses about
// like a Python virtualenv: source-like text, or random bytes for "binary"
// files.
type genReader struct {
	rng    *rand.Rand
	left   int64
	binary bool
	off    int
}

var words = []string{"def", "self", "return", "import", "from", "class", "if", "else", "None", "True",
	"request", "response", "django", "models", "queryset", "kwargs", "args", "value", "key", "field"}

// textCorpus returns 16 MB of source-like lines that text files are cut
// from (more than any compressor's window, so repeats do not flatter it).
var textCorpus = sync.OnceValue(func() []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, 16<<20+100)
	for len(b) < 16<<20 {
		for i, k := 0, 2+rng.IntN(8); i < k; i++ {
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, int64(rng.IntN(1000)), 10)
		b = append(b, '\n')
	}
	return b
})

func (g *genReader) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n := 0
	if g.binary {
		for n+8 <= len(p) {
			binary.LittleEndian.PutUint64(p[n:], g.rng.Uint64())
			n += 8
		}
		for ; n < len(p); n++ {
			p[n] = byte(g.rng.Uint32())
		}
	} else {
		for n < len(p) {
			corpus := textCorpus()
			c := copy(p[n:], corpus[g.off:])
			g.off = (g.off + c) % len(corpus)
			n += c
		}
	}
	g.left -= int64(n)
	return n, nil
}

// genTree returns entries for files of about total bytes in directories of
// 20 files; one in eight files is binary. Contents are generated when read.
func genTree(files int, total int64) ([]Entry, int64) {
	var entries []Entry
	var sum int64
	for i := 0; i < files; i++ {
		if i%20 == 0 {
			entries = append(entries, dir(fmt.Sprintf("/opt/app/venv/lib/pkg%04d", i/20)))
		}
		seed := uint64(i)
		size := total / int64(files)
		if i%7 == 0 {
			size *= 3
		} else if i%3 == 0 {
			size /= 4
		}
		binary := i%8 == 0
		entries = append(entries, Entry{
			Path: fmt.Sprintf("/opt/app/venv/lib/pkg%04d/mod%05d.py", i/20, i),
			Mode: 0o644, MTime: testTime, Size: size,
			Open: func() (io.ReadCloser, error) {
				rng := rand.New(rand.NewPCG(seed, 1))
				return io.NopCloser(&genReader{rng: rng, left: size, binary: binary, off: rng.IntN(len(textCorpus()))}), nil
			},
		})
		sum += size
	}
	return entries, sum
}

// BenchmarkWrite packs a generated 64 MB tree of 2000 files.
func BenchmarkWrite(b *testing.B) {
	entries, total := genTree(2000, 64<<20)
	for _, comp := range []string{"gzip", "gzip:1", "zstd", "zstd:19", "xz:1", "none"} {
		b.Run(comp, func(b *testing.B) {
			md := sampleMetadata()
			md.Compression = comp
			b.SetBytes(total)
			b.ReportAllocs()
			var size int64
			for b.Loop() {
				res, err := Write(context.Background(), io.Discard, md, entries, Options{TempDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				size = res.Size
			}
			b.ReportMetric(float64(size)/float64(total), "ratio")
		})
	}
}
