package rpm

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"github.com/rpmforge/rpmforge/pkg/xzmt"
)

// compression is a parsed Metadata.Compression.
type compression struct {
	name  string // "gzip", "xz", "zstd", "none"
	level int
}

var compressionLevels = map[string]struct{ def, lo, hi int }{
	"gzip": {6, 1, 9},
	"xz":   {6, 0, 9},
	"zstd": {3, 1, 22},
	"none": {0, 0, 0},
}

func parseCompression(s string) (compression, error) {
	if s == "" {
		s = "gzip"
	}
	name, lvl, hasLevel := strings.Cut(s, ":")
	lim, ok := compressionLevels[name]
	if !ok {
		return compression{}, bad("compression", "unknown compressor %q (want gzip, xz, zstd or none, with an optional :LEVEL)", name)
	}
	c := compression{name: name, level: lim.def}
	if hasLevel {
		n, err := strconv.Atoi(lvl)
		if err != nil || name == "none" || n < lim.lo || n > lim.hi {
			if name == "none" {
				return compression{}, bad("compression", "%q takes no level", name)
			}
			return compression{}, bad("compression", "level %q for %s must be %d-%d", lvl, name, lim.lo, lim.hi)
		}
		c.level = n
	}
	return c, nil
}

// compressor returns the PAYLOADCOMPRESSOR value ("" for none).
func (c compression) compressor() string {
	if c.name == "none" {
		return ""
	}
	return c.name
}

// flags returns the PAYLOADFLAGS value, the level as rpmbuild records it.
func (c compression) flags() string {
	if c.name == "none" {
		return ""
	}
	return strconv.Itoa(c.level)
}

// rpmlib returns the rpmlib() feature this compressor needs, if any.
func (c compression) rpmlib() (Relation, bool) {
	switch c.name {
	case "xz":
		return rpmlibFeature("PayloadIsXz", "5.2-1"), true
	case "zstd":
		return rpmlibFeature("PayloadIsZstd", "5.4.18-1"), true
	}
	return Relation{}, false
}

// compressorThreads is how many goroutines the parallel compressors use: at
// least 2, so that the output does not depend on the machine, and at most
// 4, which bounds memory.
func compressorThreads() int { return min(max(2, runtime.GOMAXPROCS(0)), 4) }

// zstdWindow is the zstd window: how far back matches reach. 2 MB
// compresses a virtualenv within 0.5% of 8 MB.
//
// zstd runs as one stream encoder that encodes a block while the next one
// fills (WithEncoderConcurrency > 1), not with WithConcurrentBlocks: that
// job mode allocates a fresh input buffer of 4 windows per job, which on a
// 191 MB venv (make bench) raised peak RSS from about 90 to 160 MB and
// compressed 0.4% worse, for a packing step that was no faster on 2 cores,
// where reading and hashing the files (on their own goroutine) keep the
// second core busy (on generated data without file reads, BenchmarkWrite,
// it is about 20% faster). Block boundaries do not depend on the concurrency, so neither
// does the output.
const zstdWindow = 2 << 20

const gzipBlockSize = 1 << 20

// xz compresses blocks of xzBlockSize on compressorThreads goroutines
// (pkg/xzmt) into one xz stream, as `xz -T` does. The dictionary follows
// xz's presets -0 … -9 but is capped at xzMaxDict: ulikunitz/xz's encoder
// needs about 9 bytes per byte of dictionary and cannot be reset, so every
// block allocates a fresh one, and the garbage collector lets twice the
// live heap accumulate between cycles. Measured on the make bench fixture
// (192 MB venv, 2 cores, whole build; a single stream with xz -6's 8 MB
// dictionary: 40.0 MB, 22 s wall, 137 MB RSS):
//
//	dictionary/block   payload   wall    CPU      peak RSS
//	1 MB / 2 MB        40.9 MB   6.2 s   11.6 s   115 MB
//	512 KB / 2 MB      41.0 MB   7.5 s   14.2 s    90 MB
//	512 KB / 1 MB      41.5 MB   7.2 s   13.5 s    85 MB
//	256 KB / 1 MB      41.8 MB   6.4 s   12.1 s    67 MB
//
// (single runs on a shared machine: the CPU column moves by ±1.5 s). A
// memory limit (GOMEMLIMIT=70MiB) held the 1 MB dictionary to 95 MB at
// +1.5 s CPU. 512 KB in 1 MB blocks keeps each goroutine at about 7 MB.
const (
	xzBlockSize = 1 << 20
	xzMaxDict   = 512 << 10
)

var xzDictCaps = [10]int{256 << 10, 1 << 20, 2 << 20, 4 << 20, 4 << 20, 8 << 20, 8 << 20, 16 << 20, 32 << 20, 64 << 20}

// newCompressor returns a writer compressing into w. Its output depends only
// on its input and c, not on the number of threads.
func (c compression) newWriter(w io.Writer) (io.WriteCloser, error) {
	switch c.name {
	case "gzip":
		z, err := pgzip.NewWriterLevel(w, c.level)
		if err != nil {
			return nil, err
		}
		z.ModTime = time.Unix(0, 0) // no timestamp in the gzip header
		z.OS = 3                    // Unix, as zlib writes
		// Blocks are cut at fixed sizes, so the output does not depend on
		// how many are compressed at once.
		if err := z.SetConcurrency(gzipBlockSize, compressorThreads()); err != nil {
			return nil, err
		}
		return z, nil
	case "zstd":
		return zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(c.level)),
			zstd.WithEncoderConcurrency(compressorThreads()),
			zstd.WithWindowSize(zstdWindow),
		)
	case "xz":
		return xzmt.Config{
			DictCap:   min(xzDictCaps[c.level], xzMaxDict),
			BlockSize: xzBlockSize,
			Threads:   compressorThreads(),
		}.NewWriter(w)
	case "none":
		return nopCloser{w}, nil
	}
	return nil, fmt.Errorf("rpm: unknown compressor %q", c.name)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
