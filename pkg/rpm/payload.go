package rpm

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// payloadInfo describes the compressed payload written by writePayload.
type payloadInfo struct {
	archiveSize    int64  // uncompressed cpio bytes (PAYLOADSIZE)
	compressedSize int64  // bytes written to the temp file
	digest         string // hex SHA-256 of the compressed payload (PAYLOADDIGEST)
	altDigest      string // hex SHA-256 of the uncompressed archive (PAYLOADDIGESTALT)
}

// hashCounter hashes and counts what is written through it.
type hashCounter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hc *hashCounter) Write(p []byte) (int, error) {
	hc.h.Write(p)
	n, err := hc.w.Write(p)
	hc.n += int64(n)
	return n, err
}

const copyBufSize = 256 << 10

// writePayload streams files into a compressed cpio archive written to out,
// filling in each file's digest and color. Memory use does not depend on the
// size of the files.
func writePayload(ctx context.Context, out io.Writer, files []file, comp compression, stripped bool, progress func(done, total int64)) (payloadInfo, error) {
	var info payloadInfo

	compressed := &hashCounter{w: out, h: sha256.New()}
	zw, err := comp.newWriter(compressed)
	if err != nil {
		return info, fmt.Errorf("rpm: payload compressor: %w", err)
	}
	closed := false
	defer func() {
		if !closed {
			zw.Close() // stops the compressor's goroutines
		}
	}()
	uncompressed := &hashCounter{w: zw, h: sha256.New()}
	bw := bufio.NewWriterSize(uncompressed, copyBufSize)
	arc := &cpio{w: bw}

	var total, done int64
	for i := range files {
		if f := &files[i]; f.inPayload && f.isRegular {
			total += f.size
		}
	}
	buf := make([]byte, copyBufSize)
	report := func() {
		if progress != nil {
			progress(done, total)
		}
	}
	report()

	for i := range files {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		f := &files[i]
		if f.isRegular && f.inPayload {
			// The digest of an empty file is that of no bytes.
			f.digest = emptySHA256
		}
		if !f.inPayload {
			continue
		}
		if stripped {
			err = arc.stripped(i)
		} else {
			err = arc.header(uint32(i+1), f.mode, f.mtime, f.size, f.Path)
		}
		if err != nil {
			return info, payloadErr(f, err)
		}
		switch {
		case f.isSymlink:
			if err := arc.write([]byte(f.Link)); err != nil {
				return info, payloadErr(f, err)
			}
		case f.isRegular && (f.size > 0 || f.Open != nil):
			if err := copyFile(ctx, arc, f, buf, &done, report); err != nil {
				return info, err
			}
		}
	}
	if err := arc.trailer(); err != nil {
		return info, fmt.Errorf("rpm: payload: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return info, fmt.Errorf("rpm: payload: %w", err)
	}
	closed = true
	if err := zw.Close(); err != nil {
		return info, fmt.Errorf("rpm: payload compressor: %w", err)
	}
	info.archiveSize = arc.off
	info.compressedSize = compressed.n
	info.digest = hex.EncodeToString(compressed.h.Sum(nil))
	info.altDigest = hex.EncodeToString(uncompressed.h.Sum(nil))
	report()
	return info, nil
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func payloadErr(f *file, err error) error {
	return fmt.Errorf("rpm: %s: writing payload: %w", f.Path, err)
}

// copyFile copies the contents of f into the archive, hashing them and
// checking that exactly f.size bytes come out of Open.
func copyFile(ctx context.Context, arc *cpio, f *file, buf []byte, done *int64, report func()) (err error) {
	if f.Open == nil {
		return fmt.Errorf("rpm: %s: regular file of %d bytes has no Open", f.Path, f.size)
	}
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("rpm: %s: %w", f.Path, err)
	}
	defer func() {
		if cerr := rc.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("rpm: %s: close: %w", f.Path, cerr)
		}
	}()

	h := sha256.New()
	var magic [5]byte // ELF identification, for FILECOLORS
	var read int64
	for read < f.size {
		if err := ctx.Err(); err != nil {
			return err
		}
		want := min(int64(len(buf)), f.size-read)
		n, rerr := io.ReadFull(rc, buf[:want])
		if read < int64(len(magic)) {
			copy(magic[read:], buf[:n])
		}
		read += int64(n)
		h.Write(buf[:n])
		if werr := arc.write(buf[:n]); werr != nil {
			return payloadErr(f, werr)
		}
		*done += int64(n)
		report()
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return fmt.Errorf("rpm: %s: %w (stat %d, read %d)", f.Path, ErrSizeChanged, f.size, read)
		}
		if rerr != nil {
			return fmt.Errorf("rpm: %s: read: %w", f.Path, rerr)
		}
	}
	// The file must end where its size says.
	extra, rerr := io.CopyBuffer(io.Discard, rc, buf)
	if rerr != nil {
		return fmt.Errorf("rpm: %s: read: %w", f.Path, rerr)
	}
	if extra > 0 {
		return fmt.Errorf("rpm: %s: %w (stat %d, read %d)", f.Path, ErrSizeChanged, f.size, read+extra)
	}
	f.digest = hex.EncodeToString(h.Sum(nil))
	f.color = elfColor(magic[:])
	return nil
}

// ErrSizeChanged reports that a regular file yielded more or fewer bytes
// than its Entry.Size.
var ErrSizeChanged = errors.New("size changed while packaging")

// elfColor returns rpm's file color for an ELF header: 1 for 32-bit, 2 for
// 64-bit objects, 0 for anything else (rpmfc's RPMFC_ELF32/RPMFC_ELF64).
func elfColor(ident []byte) uint32 {
	if len(ident) < 5 || string(ident[:4]) != "\x7fELF" {
		return 0
	}
	switch ident[4] {
	case 1:
		return 1
	case 2:
		return 2
	}
	return 0
}
