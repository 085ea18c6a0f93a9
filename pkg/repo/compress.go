package repo

import (
	"bytes"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Compression names a repodata compression.
type Compression string

// Compressions Publish can write.
const (
	// Gzip (the default) is read by every client: yum 3 on EL 7, dnf 4
	// and 5, zypper. Files are concatenated gzip members, one per chunk of
	// packages, which all of them read (docs/repo.md), so unchanged chunks
	// are not recompressed.
	Gzip Compression = "gzip"
	// Zstd is read by dnf 4.x on EL 8.4+/EL 9 and zypper, not by yum 3.
	// Files are concatenated zstd frames.
	Zstd Compression = "zstd"
	// Xz is read by all but is slow to write; libsolv reads only the first
	// stream of a multi-stream file, so each file is one stream, rewritten
	// whole.
	Xz Compression = "xz"
)

// ParseCompression checks a --compress value ("" means gzip).
func ParseCompression(s string) (Compression, error) {
	switch Compression(s) {
	case "", Gzip, "gz":
		return Gzip, nil
	case Zstd, "zst":
		return Zstd, nil
	case Xz:
		return Xz, nil
	}
	return "", fmt.Errorf("repo: unknown compression %q (want gzip, xz or zstd)", s)
}

// ext is the file name suffix.
func (c Compression) ext() string {
	switch c {
	case Zstd:
		return ".zst"
	case Xz:
		return ".xz"
	}
	return ".gz"
}

// members reports whether independently compressed parts may be
// concatenated into one file.
func (c Compression) members() bool { return c != Xz }

const gzipLevel = 6 // zlib's default, as createrepo_c

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
	return w
}}

var zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(err)
	}
	return e
})

// compressMember appends to dst src compressed as one gzip member or zstd
// frame.
func (c Compression) compressMember(dst, src []byte) []byte {
	switch c {
	case Zstd:
		return zstdEncoder().EncodeAll(src, dst)
	case Gzip:
		buf := bytes.NewBuffer(dst)
		w := gzipWriters.Get().(*gzip.Writer)
		w.Reset(buf)
		w.OS = 3 // Unix, as zlib writes; no name, no time: deterministic
		w.Write(src)
		w.Close()
		gzipWriters.Put(w)
		return buf.Bytes()
	}
	panic("repo: compressMember with " + string(c))
}

// newStreamWriter compresses a whole file into w (xz).
func (c Compression) newStreamWriter(w io.Writer) (io.WriteCloser, error) {
	switch c {
	case Xz:
		return xz.WriterConfig{DictCap: 8 << 20, CheckSum: xz.CRC64}.NewWriter(w)
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	}
	z, err := gzip.NewWriterLevel(w, gzipLevel)
	if err != nil {
		return nil, err
	}
	z.OS = 3
	return z, nil
}
